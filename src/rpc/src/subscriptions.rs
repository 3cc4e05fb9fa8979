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

use crate::blocking::{run_blocking, Pool};
use crate::convert::rpc_header;
use crate::errors::{api_error, invalid_params, limit_exceeded};
use crate::filters::random_id;
use crate::logs::{append_block_logs, LogQuery};
use crate::server::Ctx;
use alloy_rpc_types_eth::Filter;
use bcos_types::CommittedBlock;
use jsonrpsee::core::server::{SubscriptionMessage, SubscriptionSink};
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, SubscriptionId};
use jsonrpsee::RpcModule;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Live subscriptions of all connections, against `subscriptions_max`.
pub struct SubscriptionCount {
    live: Arc<AtomicUsize>,
    max: usize,
}

/// One live subscription; dropping it frees its slot.
pub struct SubscriptionSlot(Arc<AtomicUsize>);

impl SubscriptionCount {
    pub fn new(max: usize) -> Self {
        SubscriptionCount {
            live: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A slot, or the error a subscriber past `subscriptions_max` gets.
    pub(crate) fn take_or_refuse(&self) -> Result<SubscriptionSlot, ErrorObjectOwned> {
        self.take().ok_or_else(|| {
            limit_exceeded(format!(
                "too many subscriptions on this node (limit {})",
                self.max
            ))
        })
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
            let slot = match c.subscriptions.take_or_refuse() {
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
                        sink.closed().await;
                    }
                    drop(slot);
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
            follow(c, sink, rx, next, feed).await;
            drop(slot);
        },
    )?;
    Ok(())
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
