//! Serving block sync requests (issue 10 item 12): each peer has a budget of requests and
//! bytes per second (token buckets); a peer asking faster, or for more, than its budget is
//! answered less often (its excess requests are dropped and counted). In the node the
//! requests go into a bounded queue read by a thread of their own ([`SyncServer`]), so the
//! consensus thread never reads blocks for anyone; the simulator serves them inline
//! ([`InlineSyncServer`]) with the same budgets.

use super::config::ClusterConfig;
use super::wire::{CertifiedBlock, Wire};
use crate::runtime::{Clock, SyncServe, Transport};
use bcos_storage::ChainStore;
use bcos_types::{Bytes, Height};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Sync requests waiting for the serving thread at most.
pub const SYNC_SERVE_QUEUE_MAX: usize = 64;

struct Request {
    peer: u32,
    start: Height,
    count: u64,
}

/// A token bucket: `rate` tokens per second, at most `burst` held; times in ms.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: u64,
}

impl Bucket {
    pub fn new(rate_per_s: u64, burst: u64, now: u64) -> Self {
        Bucket {
            tokens: burst as f64,
            rate: rate_per_s as f64,
            burst: burst as f64,
            at: now,
        }
    }

    fn refill(&mut self, now: u64) {
        let dt = now.saturating_sub(self.at) as f64 / 1_000.0;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.at = now;
    }

    /// Whether `cost` tokens are there now; takes them if so.
    pub fn take(&mut self, cost: u64, now: u64) -> bool {
        self.refill(now);
        if self.tokens >= cost as f64 {
            self.tokens -= cost as f64;
            true
        } else {
            false
        }
    }

    /// Takes `cost` tokens even if that leaves a debt (bytes are known only after reading).
    pub fn charge(&mut self, cost: u64, now: u64) {
        self.refill(now);
        self.tokens -= cost as f64;
    }

    pub fn positive(&mut self, now: u64) -> bool {
        self.refill(now);
        self.tokens > 0.0
    }
}

/// Per-peer budgets for serving sync.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub blocks_max: u64,
    pub response_bytes_max: usize,
    pub requests_per_s: u64,
    pub bytes_per_s: u64,
}

impl ServeLimits {
    pub fn from_config(cfg: &ClusterConfig) -> Self {
        ServeLimits {
            blocks_max: cfg.sync_blocks_max,
            response_bytes_max: cfg.sync_response_bytes_max,
            requests_per_s: cfg.sync_serve_requests_per_s,
            bytes_per_s: cfg.sync_serve_bytes_per_s,
        }
    }
}

/// Decides, per peer, whether a request may be served now.
pub struct Budgets {
    pub limits: ServeLimits,
    peers: HashMap<u32, (Bucket, Bucket)>,
}

impl Budgets {
    pub fn new(limits: ServeLimits) -> Self {
        Budgets {
            limits,
            peers: HashMap::new(),
        }
    }

    /// Whether `peer` may be served now (one request token, and no byte debt).
    pub fn admit(&mut self, peer: u32, now: u64) -> bool {
        let l = self.limits;
        let (reqs, bytes) = self.peers.entry(peer).or_insert_with(|| {
            (
                Bucket::new(l.requests_per_s, l.requests_per_s.max(1), now),
                Bucket::new(l.bytes_per_s, l.bytes_per_s.max(1), now),
            )
        });
        bytes.positive(now) && reqs.take(1, now)
    }

    pub fn charge_bytes(&mut self, peer: u32, bytes: usize, now: u64) {
        if let Some((_, b)) = self.peers.get_mut(&peer) {
            b.charge(bytes as u64, now);
        }
    }
}

/// The node's server: a thread of its own behind a bounded queue.
pub struct SyncServer {
    /// `None` once dropped: closing the queue ends the serving thread.
    tx: Option<SyncSender<Request>>,
    dropped: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SyncServer {
    /// Ends and joins the serving thread, so its handle on the store is gone when the
    /// group's driver is: a detached thread still holding the store at process exit kept
    /// RocksDB open while its statics were torn down ("pthread lock: Invalid argument").
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl SyncServer {
    pub fn start(
        store: Arc<dyn ChainStore>,
        net: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        cfg: &ClusterConfig,
    ) -> anyhow::Result<SyncServer> {
        let (tx, rx) = sync_channel(SYNC_SERVE_QUEUE_MAX);
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = ServeLimits::from_config(cfg);
        let counter = dropped.clone();
        let thread = std::thread::Builder::new()
            .name("sync-server".into())
            .spawn(move || serve_loop(&*store, &*net, &*clock, limits, &rx, &counter))?;
        Ok(SyncServer {
            tx: Some(tx),
            dropped,
            thread: Some(thread),
        })
    }

    /// Requests not served (queue full or over a peer's budget).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl SyncServe for SyncServer {
    /// Queues a request; a full queue drops it (the asker retries another peer).
    fn offer(&self, peer: u32, start: Height, count: u64) {
        let Some(tx) = &self.tx else {
            return;
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            tx.try_send(Request { peer, start, count })
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn serve_loop(
    store: &dyn ChainStore,
    net: &dyn Transport,
    clock: &dyn Clock,
    limits: ServeLimits,
    rx: &Receiver<Request>,
    dropped: &AtomicU64,
) {
    let mut budgets = Budgets::new(limits);
    while let Ok(r) = rx.recv() {
        if !serve_one(store, net, clock, &mut budgets, &r) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Serves one request within its peer's budget; false when the budget refused it.
fn serve_one(
    store: &dyn ChainStore,
    net: &dyn Transport,
    clock: &dyn Clock,
    budgets: &mut Budgets,
    r: &Request,
) -> bool {
    if !budgets.admit(r.peer, clock.now_ms()) {
        tracing::debug!(
            peer = r.peer,
            "sync request over the peer's budget; dropped"
        );
        return false;
    }
    match read_blocks(store, r.start, r.count, budgets.limits) {
        Ok(blocks) if !blocks.is_empty() => {
            let frame = Wire::SyncBlocks(blocks).encode();
            budgets.charge_bytes(r.peer, frame.len(), clock.now_ms());
            net.send(r.peer, frame);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(peer = r.peer, "serving sync failed: {e:#}"),
    }
    true
}

/// Serves requests at once, on the caller's thread (the simulator's single thread).
pub struct InlineSyncServer {
    store: Arc<dyn ChainStore>,
    net: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    budgets: Mutex<Budgets>,
}

impl InlineSyncServer {
    pub fn new(
        store: Arc<dyn ChainStore>,
        net: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        cfg: &ClusterConfig,
    ) -> Self {
        InlineSyncServer {
            store,
            net,
            clock,
            budgets: Mutex::new(Budgets::new(ServeLimits::from_config(cfg))),
        }
    }
}

impl SyncServe for InlineSyncServer {
    fn offer(&self, peer: u32, start: Height, count: u64) {
        let r = Request { peer, start, count };
        serve_one(
            &*self.store,
            &*self.net,
            &*self.clock,
            &mut self.budgets.lock(),
            &r,
        );
    }
}

/// Stored blocks from `start` with their certificates, bounded by count and bytes.
pub fn read_blocks(
    store: &dyn ChainStore,
    start: Height,
    count: u64,
    limits: ServeLimits,
) -> anyhow::Result<Vec<CertifiedBlock>> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let end = start.saturating_add(count.min(limits.blocks_max));
    for n in start..end {
        let Some(block) = store.block_by_number(n)? else {
            break;
        };
        let certificate = store.certificate(n)?.unwrap_or_default();
        let encoded = block.block.encode_bytes();
        bytes = bytes.saturating_add(encoded.len() + certificate.len());
        if !out.is_empty() && bytes > limits.response_bytes_max {
            break;
        }
        out.push(CertifiedBlock {
            block: Bytes::from(encoded),
            certificate,
        });
    }
    Ok(out)
}

/// How long (ms) a drained budget takes to allow the next request (for docs and tests).
pub fn refill_interval_ms(requests_per_s: u64) -> u64 {
    1_000 / requests_per_s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServeLimits {
        ServeLimits {
            blocks_max: 32,
            response_bytes_max: 1 << 20,
            requests_per_s: 4,
            bytes_per_s: 1_000,
        }
    }

    /// A peer flooding sync requests is served at its budget's rate, not at its own; the
    /// consensus thread used to answer every one (up to 8 MiB each).
    #[test]
    fn a_flooding_peer_is_served_at_its_budget() {
        let t0 = 5_000u64;
        let mut b = Budgets::new(limits());
        let served = (0..1_000).filter(|_| b.admit(7, t0)).count();
        assert_eq!(served, 4, "the burst, then nothing until tokens refill");
        assert!(b.admit(8, t0), "another peer has its own budget");
        assert!(!b.admit(7, t0 + refill_interval_ms(8)));
        assert!(b.admit(7, t0 + refill_interval_ms(4)));
    }

    #[test]
    fn bytes_served_count_against_the_budget() {
        let t0 = 5_000u64;
        let mut b = Budgets::new(limits());
        assert!(b.admit(1, t0));
        b.charge_bytes(1, 5_000, t0); // five seconds' worth
        assert!(!b.admit(1, t0 + 1_000));
        assert!(b.admit(1, t0 + 6_000));
    }
}
