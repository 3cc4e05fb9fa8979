//! Head announcements and block-sync bookkeeping shared by the PBFT and Raft drivers
//! (spec/pbft.md R17, spec/raft.md R14): every node broadcasts its head each
//! `status_interval_ms`; a node two heights behind, or one behind and stalled for two
//! intervals, asks a peer that is ahead for the next blocks, one request in flight at a time,
//! rotating peers after `sync_timeout_ms` so a silent peer cannot stall it.

use super::config::ClusterConfig;
use super::wire::{CertifiedBlock, Wire};
use bcos_net::NetworkHandle;
use bcos_storage::ChainStore;
use bcos_types::{Bytes, Height, SealedBlock};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct SyncTracker {
    status_interval: Duration,
    sync_timeout: Duration,
    blocks_max: u64,
    response_bytes_max: usize,
    peers: u32,
    me: u32,
    /// Highest head each peer announced.
    peer_heads: HashMap<u32, Height>,
    in_flight: Option<(u32, Instant)>,
    head_since: Instant,
    next_status: Instant,
}

impl SyncTracker {
    pub fn new(cfg: &ClusterConfig) -> Self {
        let now = Instant::now();
        SyncTracker {
            status_interval: Duration::from_millis(cfg.status_interval_ms),
            sync_timeout: Duration::from_millis(cfg.sync_timeout_ms),
            blocks_max: cfg.sync_blocks_max,
            response_bytes_max: cfg.sync_response_bytes_max,
            peers: cfg.members.len() as u32,
            me: cfg.index,
            peer_heads: HashMap::new(),
            in_flight: None,
            head_since: now,
            next_status: now,
        }
    }

    /// When the driver must wake up next for [`SyncTracker::tick`].
    pub fn next_status(&self) -> Instant {
        self.next_status
    }

    pub fn on_status(&mut self, from: u32, height: Height) {
        let e = self.peer_heads.entry(from).or_insert(0);
        *e = (*e).max(height);
    }

    pub fn on_head_advanced(&mut self) {
        self.head_since = Instant::now();
    }

    /// Announces the head when due; true when this node should ask for blocks.
    pub fn tick(&mut self, net: &NetworkHandle, head: &SealedBlock) -> bool {
        let now = Instant::now();
        if now < self.next_status {
            return false;
        }
        self.next_status = now + self.status_interval;
        let status = Wire::Status {
            height: head.number(),
            hash: head.hash,
        };
        let _ = net.broadcast(status.encode());
        let best = self.best();
        let stalled = now.duration_since(self.head_since) >= 2 * self.status_interval;
        best >= head.number() + 2 || (best > head.number() && stalled)
    }

    /// The highest head any peer announced.
    pub fn best(&self) -> Height {
        self.peer_heads.values().copied().max().unwrap_or(0)
    }

    /// Asks a peer that is ahead (any peer if none announced more yet, when
    /// `ask_anyone`) for the blocks after `head`, unless a request is still in flight.
    pub fn request(&mut self, net: &NetworkHandle, head: Height, ask_anyone: bool) {
        let now = Instant::now();
        if let Some((_, at)) = self.in_flight {
            if now.duration_since(at) < self.sync_timeout {
                return;
            }
        }
        let mut ahead: Vec<u32> = self
            .peer_heads
            .iter()
            .filter(|(_, h)| **h > head)
            .map(|(p, _)| *p)
            .collect();
        ahead.sort_unstable();
        let last = self.in_flight.map(|(p, _)| p);
        let chosen = ahead
            .iter()
            .copied()
            .find(|p| Some(*p) > last)
            .or(ahead.first().copied())
            .or_else(|| {
                ask_anyone
                    .then(|| (0..self.peers).find(|p| *p != self.me))
                    .flatten()
            });
        let Some(peer) = chosen else {
            return;
        };
        let req = Wire::SyncRequest {
            from: head + 1,
            count: self.blocks_max,
        };
        tracing::info!(peer, from = head + 1, "requesting blocks");
        if net.send(peer, req.encode()).is_ok() {
            self.in_flight = Some((peer, now));
        }
    }

    /// A response arrived from `peer`.
    pub fn on_response(&mut self, peer: u32) {
        if self.in_flight.map(|(p, _)| p) == Some(peer) {
            self.in_flight = None;
        }
    }

    /// Answers a sync request with stored blocks and their certificates, bounded by
    /// `sync_blocks_max` and `sync_response_bytes_max`.
    pub fn serve(
        &self,
        store: &dyn ChainStore,
        net: &NetworkHandle,
        peer: u32,
        start: Height,
        count: u64,
    ) -> anyhow::Result<()> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for n in start..start.saturating_add(count.min(self.blocks_max)) {
            let Some(block) = store.block_by_number(n)? else {
                break;
            };
            let certificate = store.certificate(n)?.unwrap_or_default();
            let encoded = block.block.encode_bytes();
            bytes += encoded.len() + certificate.len();
            if !out.is_empty() && bytes > self.response_bytes_max {
                break;
            }
            out.push(CertifiedBlock {
                block: Bytes::from(encoded),
                certificate,
            });
        }
        if !out.is_empty() {
            let _ = net.send(peer, Wire::SyncBlocks(out).encode());
        }
        Ok(())
    }
}
