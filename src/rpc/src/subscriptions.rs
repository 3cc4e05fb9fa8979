//! WebSocket subscriptions: eth_subscribe / eth_unsubscribe with `newHeads` and `logs`
//! (optionally filtered by address and topics). `newPendingTransactions` is accepted and
//! sends nothing, like a pool that never reports.
//!
//! Each subscription reads its own `ChainApi::subscribe_blocks` receiver. Blocks arrive in
//! order; when the receiver lagged (or any gap appears) the missing blocks are read back
//! with `committed_block(n)` (in the bounded blocking pool) before the new one is sent, so
//! no head or log is skipped.
//!
//! Subscriptions are bounded per connection (`subscriptions_per_connection_max`, enforced
//! by jsonrpsee) and in total (`subscriptions_max`, [`SubscriptionCount`]); a `logs`
//! filter's lists are bounded as eth_getLogs's are.
//!
//! The unsubscribe methods (`eth_unsubscribe`, `amop_unsubscribe`) are ours, not
//! jsonrpsee's. jsonrpsee 0.26's `PendingSubscriptionSink::accept` writes the id to the
//! client before it records the subscription in its own table (its TODO #1052), so its
//! unsubscribe, for a client that sends it as soon as the id arrives, could find nothing,
//! answer `false`, and leave the subscription running until the connection closed. Here a
//! subscription is entered in [`SubscriptionCount`]'s table, under its connection and id,
//! before `accept` is called; [`register_unsubscribe`] replaces jsonrpsee's method with one
//! that removes the entry, which frees the subscription's `subscriptions_max` slot at once
//! and tells its task to stop. The table holds one entry per live slot, so it is bounded by
//! `subscriptions_max`.

use crate::blocking::{run_blocking, Pool};
use crate::convert::rpc_header;
use crate::errors::{api_error, internal_error, invalid_params, limit_exceeded};
use crate::filters::random_id;
use crate::logs::{append_block_logs, LogQuery};
use crate::server::Ctx;
use alloy_rpc_types_eth::Filter;
use bcos_types::CommittedBlock;
use jsonrpsee::core::server::{
    ConnectionId, PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink,
};
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, SubscriptionId};
use jsonrpsee::RpcModule;
use parking_lot::Mutex;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

/// A subscription as the client names it: its connection and the id it was sent.
type SubscriptionKey = (ConnectionId, SubscriptionId<'static>);

/// A live subscription's entry: its slot, and the way to tell its task to stop (removing
/// the entry drops the sender, which the task sees).
struct Entered {
    _slot: SubscriptionSlot,
    _stop: oneshot::Sender<()>,
}

type Table = Arc<Mutex<HashMap<SubscriptionKey, Entered>>>;

/// Live subscriptions of all connections, against `subscriptions_max`, and the table the
/// unsubscribe methods look them up in (one entry per live slot).
pub struct SubscriptionCount {
    live: Arc<AtomicUsize>,
    max: usize,
    table: Table,
}

/// One live subscription; dropping it frees its slot.
pub struct SubscriptionSlot(Arc<AtomicUsize>);

/// A subscription entered in the table under the id it will be (or was) sent as. Dropping
/// it removes the entry if an unsubscribe has not already.
pub(crate) struct Subscription {
    key: SubscriptionKey,
    table: Table,
    stopped: oneshot::Receiver<()>,
}

impl SubscriptionCount {
    pub fn new(max: usize) -> Self {
        SubscriptionCount {
            live: Arc::new(AtomicUsize::new(0)),
            max,
            table: Table::default(),
        }
    }

    /// Takes a slot for `pending` and enters it under its connection and id, before the id
    /// is sent: from then on an unsubscribe for that id finds it. Fails (with the error
    /// to reject `pending` with) past `subscriptions_max`.
    pub(crate) fn enter(
        &self,
        pending: &PendingSubscriptionSink,
    ) -> Result<Subscription, ErrorObjectOwned> {
        let slot = self.take().ok_or_else(|| {
            limit_exceeded(format!(
                "too many subscriptions on this node (limit {})",
                self.max
            ))
        })?;
        let key = (pending.connection_id(), pending.subscription_id());
        let (stop, stopped) = oneshot::channel();
        match self.table.lock().entry(key.clone()) {
            // Ids are random 128-bit numbers; a repeat on one connection is not expected.
            Entry::Occupied(_) => return Err(internal_error("subscription id in use")),
            Entry::Vacant(v) => {
                v.insert(Entered {
                    _slot: slot,
                    _stop: stop,
                });
            }
        }
        Ok(Subscription {
            key,
            table: self.table.clone(),
            stopped,
        })
    }

    /// Ends the subscription `id` of connection `conn`: true if it was live, false for an
    /// id that connection does not have (never sent, or already ended).
    fn unsubscribe(&self, conn: ConnectionId, id: SubscriptionId<'static>) -> bool {
        let entry = self.table.lock().remove(&(conn, id));
        entry.is_some()
    }

    fn take(&self) -> Option<SubscriptionSlot> {
        let max = self.max;
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| SubscriptionSlot(self.live.clone()))
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Subscription {
    /// Runs `feed` (the subscription's task, after `accept`) until it ends or the client
    /// unsubscribes; an unsubscribe wins over a feed that is ready too.
    pub(crate) async fn serve(mut self, feed: impl Future<Output = ()>) {
        tokio::select! {
            biased;
            _ = &mut self.stopped => {}
            () = feed => {}
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let entry = self.table.lock().remove(&self.key);
        // The slot is freed here, outside the lock.
        drop(entry);
    }
}

/// Replaces the unsubscribe method jsonrpsee registered as `name` (with its subscribe
/// method) with one over [`SubscriptionCount`]'s table: `true` for a subscription of the
/// calling connection that was live, `false` otherwise (an unknown or malformed id, or a
/// call that did not come over a connection).
pub(crate) fn register_unsubscribe(
    m: &mut RpcModule<Ctx>,
    name: &'static str,
) -> Result<(), RegisterMethodError> {
    if m.remove_method(name).is_none() {
        return Err(RegisterMethodError::MethodNotFound(name.into()));
    }
    m.register_method(name, |p, c, ext| {
        let Some(conn) = ext.get::<ConnectionId>() else {
            return false;
        };
        match p.one::<SubscriptionId<'_>>() {
            Ok(id) => c.subscriptions.unsubscribe(*conn, id.into_owned()),
            Err(_) => false,
        }
    })?;
    Ok(())
}

/// Subscription ids as geth makes them: `0x` and random hex.
#[derive(Debug, Clone, Copy)]
pub struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format!("{:#x}", random_id()).into())
    }
}

enum Feed {
    Heads,
    Logs(Box<LogQuery>),
}

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, c, _| async move {
            let mut seq = p.sequence();
            let kind: String = match seq.next() {
                Ok(k) => k,
                Err(e) => return pending.reject(e).await,
            };
            let subscription = match c.subscriptions.enter(&pending) {
                Ok(s) => s,
                Err(e) => return pending.reject(e).await,
            };
            let feed = match kind.as_str() {
                "newHeads" => Feed::Heads,
                "logs" => match seq.optional_next::<Filter>() {
                    Ok(f) => match LogQuery::new(&c, f.unwrap_or_default()) {
                        Ok(q) => Feed::Logs(Box::new(q)),
                        Err(e) => return pending.reject(e).await,
                    },
                    Err(e) => return pending.reject(e).await,
                },
                "newPendingTransactions" => {
                    if let Ok(sink) = pending.accept().await {
                        subscription.serve(async move { sink.closed().await }).await;
                    }
                    return;
                }
                other => {
                    return pending
                        .reject(invalid_params(format!("unsupported subscription: {other}")))
                        .await
                }
            };
            // Subscribe before reading the head so no block falls between the two.
            let rx = c.api.subscribe_blocks();
            let next = c.api.head_number().saturating_add(1);
            let Ok(sink) = pending.accept().await else {
                return;
            };
            subscription.serve(follow(c, sink, rx, next, feed)).await;
        },
    )?;
    register_unsubscribe(m, "eth_unsubscribe")
}

async fn follow(
    c: Arc<Ctx>,
    sink: SubscriptionSink,
    mut rx: tokio::sync::broadcast::Receiver<Arc<CommittedBlock>>,
    mut next: u64,
    feed: Feed,
) {
    loop {
        let received = tokio::select! {
            _ = sink.closed() => return,
            r = rx.recv() => r,
        };
        let block = match received {
            Ok(b) => b,
            // The next `recv` yields the oldest block still buffered; the gap before it is
            // read back from storage below.
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, "block subscription lagged; refilling from storage");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let number = block.number();
        if number < next {
            continue;
        }
        while next < number {
            let n = next;
            // Held until the block read back has been sent (docs/memory-budget.md).
            let Some(_refill) = c.pools.refill_permit().await else {
                return;
            };
            let read = run_blocking(c.clone(), Pool::Read, move |c| {
                c.api.committed_block(n).map_err(api_error)
            });
            match read.await {
                Ok(Some(missed)) => {
                    if !emit(&sink, &missed, &feed).await {
                        return;
                    }
                }
                other => tracing::warn!(
                    block = next,
                    ?other,
                    "cannot refill block for a subscription"
                ),
            }
            next += 1;
        }
        if !emit(&sink, &block, &feed).await {
            return;
        }
        next = number.saturating_add(1);
    }
}

/// Sends what `feed` wants from `block`; false once the client is gone.
async fn emit(sink: &SubscriptionSink, block: &CommittedBlock, feed: &Feed) -> bool {
    let items: Vec<serde_json::Result<Box<serde_json::value::RawValue>>> = match feed {
        Feed::Heads => {
            let header = rpc_header(block.block.hash, block.block.header(), None);
            vec![serde_json::value::to_raw_value(&header)]
        }
        Feed::Logs(query) => {
            if query.constrains() && !query.may_match(&block.block.header().logs_bloom) {
                return true;
            }
            let mut logs = Vec::new();
            append_block_logs(block, query, &mut logs);
            logs.iter().map(serde_json::value::to_raw_value).collect()
        }
    };
    for item in items {
        match item {
            Ok(raw) => {
                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                    return false;
                }
            }
            Err(e) => tracing::error!(%e, "cannot serialize subscription item"),
        }
    }
    true
}
