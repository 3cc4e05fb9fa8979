//! Head announcements and block-sync bookkeeping shared by the PBFT and Raft drivers
//! (spec/pbft.md R17, spec/raft.md R14), without I/O: the driver sends what it returns.
//! Every node broadcasts its head each `status_interval_ms`; a node two heights behind, or
//! one behind and stalled for two intervals, asks a peer that is ahead for the next blocks,
//! one request in flight at a time, rotating peers after `sync_timeout_ms` so a silent peer
//! cannot stall it.
//!
//! A peer's announced height is only a claim (issue 10 item 4): a peer that, asked for the
//! blocks it claims, serves none that apply (or lets the request time out) is distrusted for
//! [`DISTRUST_INTERVALS`] sync timeouts, and its claims count again only after it serves
//! blocks or the time passes. A peer announcing `u64::MAX` cannot keep a node syncing.
//! Serving requests is [`super::sync_server`]'s job, off the consensus thread.

use super::config::ClusterConfig;
use super::wire::Wire;
use bcos_types::{Height, SealedBlock};
use std::collections::HashMap;

/// How many sync timeouts a peer that claimed blocks it did not serve stays distrusted.
pub const DISTRUST_INTERVALS: u32 = 10;

pub struct SyncTracker {
    status_interval_ms: u64,
    sync_timeout_ms: u64,
    blocks_max: u64,
    peers: u32,
    me: u32,
    /// Highest head each peer announced.
    peer_heads: HashMap<u32, Height>,
    /// Peers whose claims are ignored until the time given (ms).
    distrusted: HashMap<u32, u64>,
    in_flight: Option<(u32, u64)>,
    head_since_ms: u64,
    next_status_ms: u64,
}

impl SyncTracker {
    pub fn new(cfg: &ClusterConfig, now_ms: u64) -> Self {
        SyncTracker {
            status_interval_ms: cfg.status_interval_ms,
            sync_timeout_ms: cfg.sync_timeout_ms,
            blocks_max: cfg.sync_blocks_max,
            peers: cfg.members.len() as u32,
            me: cfg.index,
            peer_heads: HashMap::new(),
            distrusted: HashMap::new(),
            in_flight: None,
            head_since_ms: now_ms,
            next_status_ms: now_ms,
        }
    }

    /// When the driver must wake up next for [`SyncTracker::tick`] (ms).
    pub fn next_status_ms(&self) -> u64 {
        self.next_status_ms
    }

    pub fn on_status(&mut self, from: u32, height: Height) {
        if from >= self.peers || from == self.me {
            return;
        }
        let e = self.peer_heads.entry(from).or_insert(0);
        *e = (*e).max(height);
    }

    pub fn on_head_advanced(&mut self, now: u64) {
        self.head_since_ms = now;
    }

    /// When due: the status to broadcast, and whether this node should ask for blocks.
    pub fn tick(&mut self, now: u64, head: &SealedBlock) -> (Option<Wire>, bool) {
        if now < self.next_status_ms {
            return (None, false);
        }
        self.next_status_ms = now.saturating_add(self.status_interval_ms);
        let status = Wire::Status {
            height: head.number(),
            hash: head.hash,
        };
        let best = self.best(now);
        let stalled = now.saturating_sub(self.head_since_ms) >= 2 * self.status_interval_ms;
        let behind = best >= head.number().saturating_add(2) || (best > head.number() && stalled);
        (Some(status), behind)
    }

    fn trusted(&self, peer: u32, now: u64) -> bool {
        self.distrusted.get(&peer).is_none_or(|until| now >= *until)
    }

    /// The highest head a trusted peer announced.
    pub fn best(&self, now: u64) -> Height {
        self.peer_heads
            .iter()
            .filter(|(p, _)| self.trusted(**p, now))
            .map(|(_, h)| *h)
            .max()
            .unwrap_or(0)
    }

    /// The request to send for the blocks after `head`, and to whom: a trusted peer that is
    /// ahead (any other peer when none announced more, if `ask_anyone`), unless a request is
    /// still in flight. A request that timed out distrusts the peer it went to.
    pub fn request(&mut self, now: u64, head: Height, ask_anyone: bool) -> Option<(u32, Wire)> {
        let last = self.in_flight.map(|(p, _)| p);
        if let Some((peer, at)) = self.in_flight {
            if now.saturating_sub(at) < self.sync_timeout_ms {
                return None;
            }
            if self.claims_beyond(peer, head) {
                self.distrust(peer, now);
            }
            self.in_flight = None;
        }
        let mut ahead: Vec<u32> = self
            .peer_heads
            .iter()
            .filter(|(p, h)| **h > head && self.trusted(**p, now))
            .map(|(p, _)| *p)
            .collect();
        ahead.sort_unstable();
        let chosen = ahead
            .iter()
            .copied()
            .find(|p| Some(*p) > last)
            .or(ahead.first().copied())
            .or_else(|| {
                ask_anyone
                    .then(|| {
                        (0..self.peers)
                            .filter(|p| *p != self.me && self.trusted(*p, now))
                            .find(|p| Some(*p) > last)
                            .or_else(|| (0..self.peers).find(|p| *p != self.me))
                    })
                    .flatten()
            })?;
        self.in_flight = Some((chosen, now));
        tracing::info!(peer = chosen, from = head + 1, "requesting blocks");
        Some((
            chosen,
            Wire::SyncRequest {
                from: head.saturating_add(1),
                count: self.blocks_max,
            },
        ))
    }

    /// A response arrived from `peer`; `applied` blocks of it were stored and the head is
    /// now `head`. A peer that still claims more than it served is distrusted.
    pub fn on_response(&mut self, peer: u32, applied: usize, head: Height, now: u64) {
        if self.in_flight.map(|(p, _)| p) == Some(peer) {
            self.in_flight = None;
        }
        if applied > 0 {
            self.distrusted.remove(&peer);
        } else if self.claims_beyond(peer, head) {
            self.distrust(peer, now);
        }
    }

    fn claims_beyond(&self, peer: u32, head: Height) -> bool {
        self.peer_heads.get(&peer).is_some_and(|h| *h > head)
    }

    fn distrust(&mut self, peer: u32, now: u64) {
        tracing::debug!(
            peer,
            "sync peer distrusted: it did not serve the blocks it claimed"
        );
        self.distrusted.insert(
            peer,
            now.saturating_add(self.sync_timeout_ms * u64::from(DISTRUST_INTERVALS)),
        );
        // Its claim is forgotten; an honest peer re-announces within a status interval.
        self.peer_heads.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_types::{Block, Header};

    fn tracker(now: u64) -> SyncTracker {
        let mut cfg = ClusterConfig::default();
        cfg.members = (0..4)
            .map(|i| super::super::config::Member {
                index: i,
                p2p_addr: "127.0.0.1:1".parse().expect("addr"),
                node_id: Default::default(),
                bls_public_key: String::new(),
                bls_pop: String::new(),
            })
            .collect();
        SyncTracker::new(&cfg, now)
    }

    fn head(n: u64) -> SealedBlock {
        Block {
            header: Header {
                number: n,
                ..Default::default()
            },
            txs: Vec::new(),
        }
        .seal()
    }

    /// Issue 10 item 4: a peer announcing u64::MAX used to stay the best sync target forever,
    /// so the node asked it again and again. After one request it served nothing for, its
    /// claim no longer counts and an honest peer is asked instead.
    #[test]
    fn a_peer_claiming_blocks_it_does_not_serve_stops_counting() {
        let t0 = 1_000u64;
        let mut t = tracker(t0);
        t.on_status(3, u64::MAX);
        let (_, behind) = t.tick(t0, &head(10));
        assert!(behind);
        let (peer, _) = t.request(t0, 10, false).expect("asks the liar first");
        assert_eq!(peer, 3);
        t.on_response(3, 0, 10, t0);
        assert_eq!(t.best(t0), 0, "the claim is gone");
        t.on_status(3, u64::MAX); // it keeps announcing
        assert_eq!(t.best(t0), 0, "a distrusted peer's claims do not count");
        t.on_status(1, 12);
        assert_eq!(t.best(t0), 12);
        let later = t0 + 1_000;
        let (_, behind) = t.tick(later, &head(10));
        assert!(behind);
        assert_eq!(t.request(later, 10, false).map(|r| r.0), Some(1));
        t.on_response(1, 2, 12, later);
        // A peer that claimed nothing beyond the head loses no trust by serving nothing.
        t.on_status(2, 12);
        t.on_response(2, 0, 12, later);
        assert!(t.trusted(2, later));
        // After the distrust interval the liar's claims count again (one more wasted ask
        // per interval at most).
        let much_later = t0 + t.sync_timeout_ms * u64::from(DISTRUST_INTERVALS + 1);
        t.on_status(3, u64::MAX);
        assert_eq!(t.best(much_later), u64::MAX);
    }

    #[test]
    fn a_silent_peer_is_distrusted_when_its_request_times_out() {
        let t0 = 1_000u64;
        let mut t = tracker(t0);
        t.on_status(2, 50);
        t.on_status(1, 40);
        assert_eq!(t.request(t0, 10, false).map(|r| r.0), Some(1));
        assert!(t.request(t0, 10, false).is_none(), "one request in flight");
        let timeout = t0 + t.sync_timeout_ms;
        assert_eq!(t.request(timeout, 10, false).map(|r| r.0), Some(2));
        assert_eq!(t.best(timeout), 50);
        t.on_status(1, 40);
        assert_eq!(
            t.best(timeout),
            50,
            "peer 1's claims do not count while distrusted"
        );
    }

    #[test]
    fn status_and_own_index_and_strangers() {
        let t0 = 1_000u64;
        let mut t = tracker(t0);
        t.on_status(0, 99); // this node (index 0)
        t.on_status(7, 99); // not a member
        assert_eq!(t.best(t0), 0);
        let (status, behind) = t.tick(t0, &head(3));
        assert!(matches!(status, Some(Wire::Status { height: 3, .. })));
        assert!(!behind);
        assert_eq!(t.tick(t0, &head(3)).0, None, "not due again yet");
    }
}
