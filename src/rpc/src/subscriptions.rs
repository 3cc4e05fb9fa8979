//! WebSocket subscriptions: eth_subscribe / eth_unsubscribe with `newHeads` and `logs`
//! (optionally filtered by address and topics). `newPendingTransactions` is accepted and
//! sends nothing, like a pool that never reports.
//!
//! Each subscription reads its own `ChainApi::subscribe_blocks` receiver. Blocks arrive in
//! order; when the receiver lagged (or any gap appears) the missing blocks are read back
//! with `committed_block(n)` before the new one is sent, so no head or log is skipped.

use crate::convert::rpc_header;
use crate::errors::invalid_params;
use crate::filters::random_id;
use crate::logs::append_block_logs;
use crate::server::Ctx;
use alloy_rpc_types_eth::Filter;
use bcos_types::CommittedBlock;
use jsonrpsee::core::server::{SubscriptionMessage, SubscriptionSink};
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::SubscriptionId;
use jsonrpsee::RpcModule;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

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
    Logs(Box<Filter>),
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
            let feed = match kind.as_str() {
                "newHeads" => Feed::Heads,
                "logs" => match seq.optional_next::<Filter>() {
                    Ok(f) => Feed::Logs(Box::new(f.unwrap_or_default())),
                    Err(e) => return pending.reject(e).await,
                },
                "newPendingTransactions" => {
                    if let Ok(sink) = pending.accept().await {
                        sink.closed().await;
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
            let next = c.api.head_number() + 1;
            let Ok(sink) = pending.accept().await else {
                return;
            };
            follow(c, sink, rx, next, feed).await;
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
            match c.api.committed_block(next) {
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
        next = number + 1;
    }
}

/// Sends what `feed` wants from `block`; false once the client is gone.
async fn emit(sink: &SubscriptionSink, block: &CommittedBlock, feed: &Feed) -> bool {
    let items: Vec<serde_json::Result<Box<serde_json::value::RawValue>>> = match feed {
        Feed::Heads => {
            let header = rpc_header(block.block.hash, block.block.header(), None);
            vec![serde_json::value::to_raw_value(&header)]
        }
        Feed::Logs(filter) => {
            if (!filter.address.is_empty() || filter.has_topics())
                && !filter.matches_bloom(block.block.header().logs_bloom)
            {
                return true;
            }
            let mut logs = Vec::new();
            append_block_logs(block, filter, &mut logs);
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
