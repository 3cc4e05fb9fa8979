//! Handing ready transactions on when the chain stalls (Raft: to the leader; PBFT: to every
//! validator). Gossip forwards a transaction once, when a node admits it; if that copy never
//! reached the node that must propose it (lost, or that node's group was not up yet), only
//! this node holds it and every resubmission is refused as "already known":
//! - in Raft, whose leader does not rotate, the sender's later transactions wait behind the
//!   gap for good (found by `bcos-sim`, raft seed 796);
//! - in PBFT, a lone replica with pending work cannot move the view (PBFT-R9 needs a
//!   quorum of view changes), so the transaction waits until other traffic reaches the
//!   leader.
//!
//! A busy chain moves its head and never triggers this; an idle one has nothing ready.

use super::base::DriverBase;
use super::wire::Wire;
use crate::pool::Pool;
use bcos_types::{Bytes, Height};
use serde::{de::DeserializeOwned, Serialize};
use std::hash::Hash;

/// Transactions one hand-over carries at most.
pub const FORWARD_TXS_MAX: usize = 256;
/// Status intervals the head must stay where it is before the first hand-over.
pub const STALL_INTERVALS: u64 = 2;
/// Status intervals between two hand-overs while the head stays where it is.
pub const FORWARD_EVERY_INTERVALS: u64 = 8;

/// When the head last moved, and when a hand-over is next allowed.
#[derive(Debug, Default)]
pub struct StallForward {
    stall: (Height, u64),
    next_forward_ms: u64,
}

impl StallForward {
    /// Called on every wake-up with the head. True when the caller `may` hand over (its own
    /// conditions: role, not catching up, ready work), the head has stayed at `head` for
    /// [`STALL_INTERVALS`] status intervals and no hand-over happened in the last
    /// [`FORWARD_EVERY_INTERVALS`]; it then counts as one.
    pub fn due(&mut self, now_ms: u64, head: Height, interval_ms: u64, may: bool) -> bool {
        if self.stall.0 != head {
            self.stall = (head, now_ms);
            return false;
        }
        if !may
            || now_ms < self.stall.1.saturating_add(STALL_INTERVALS * interval_ms)
            || now_ms < self.next_forward_ms
        {
            return false;
        }
        self.next_forward_ms = now_ms.saturating_add(FORWARD_EVERY_INTERVALS * interval_ms);
        true
    }
}

impl<T, D> DriverBase<T, D>
where
    T: Copy + Eq + Hash + Ord,
    D: Serialize + DeserializeOwned,
{
    /// The frame of ready transactions to hand on, when the head stalled, the driver `may`
    /// (its own conditions), no peer is ahead and the pool has ready work; with how many
    /// transactions it carries.
    pub fn stalled_txs_frame(
        &self,
        stall: &mut StallForward,
        may: bool,
    ) -> Option<(alloy_primitives::bytes::Bytes, usize)> {
        let now = self.now_ms();
        let head = self.head.number();
        let may = may && self.sync.best(now) <= head && self.ctx.pool.has_ready();
        if !stall.due(now, head, self.cfg.status_interval_ms, may) {
            return None;
        }
        let bytes_max = (self.cfg.frame_bytes_max / 2) as usize;
        let list = ready_batch(&self.ctx.pool, self.ctx.block_gas_limit, bytes_max);
        let count = list.len();
        (count > 0).then(|| (Wire::Txs(list).encode(), count))
    }

    /// For a node that cannot catch up (a Raft node no leader talks to is served no
    /// blocks): when its head stalled, any pooled transactions, gapped ones included,
    /// since its lagging state cannot tell which are ready elsewhere.
    pub fn stalled_pool_frame(
        &self,
        stall: &mut StallForward,
    ) -> Option<(alloy_primitives::bytes::Bytes, usize)> {
        let now = self.now_ms();
        let head = self.head.number();
        if !stall.due(
            now,
            head,
            self.cfg.status_interval_ms,
            !self.ctx.pool.is_empty(),
        ) {
            return None;
        }
        let bytes_max = (self.cfg.frame_bytes_max / 2) as usize;
        let list = encoded_within(self.ctx.pool.take_any(FORWARD_TXS_MAX), bytes_max);
        let count = list.len();
        (count > 0).then(|| (Wire::Txs(list).encode(), count))
    }
}

/// The pool's first ready transactions, encoded, at most [`FORWARD_TXS_MAX`] and
/// `bytes_max` bytes (half a frame leaves room for the envelope).
pub fn ready_batch(pool: &Pool, gas_max: u64, bytes_max: usize) -> Vec<Bytes> {
    encoded_within(pool.take_ready(FORWARD_TXS_MAX, gas_max), bytes_max)
}

fn encoded_within(txs: Vec<bcos_types::RecoveredTx>, bytes_max: usize) -> Vec<Bytes> {
    let mut bytes = 0usize;
    let mut list = Vec::new();
    for tx in txs {
        bytes = bytes.saturating_add(tx.tx.encoded_len());
        if bytes > bytes_max {
            break;
        }
        list.push(Bytes::from(tx.tx.encoded()));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_only_after_the_head_stalled_and_then_every_few_intervals() {
        let mut s = StallForward::default();
        let i = 100;
        assert!(
            !s.due(0, 5, i, true),
            "first sight of head 5 starts the clock"
        );
        assert!(!s.due(STALL_INTERVALS * i - 1, 5, i, true));
        assert!(
            !s.due(STALL_INTERVALS * i, 5, i, false),
            "the caller may not"
        );
        assert!(
            s.due(STALL_INTERVALS * i, 5, i, true),
            "a refusal used up nothing"
        );
        assert!(
            !s.due(STALL_INTERVALS * i + 1, 5, i, true),
            "not again at once"
        );
        let again = STALL_INTERVALS * i + FORWARD_EVERY_INTERVALS * i;
        assert!(!s.due(again - 1, 5, i, true));
        assert!(s.due(again, 5, i, true));
        assert!(
            !s.due(again + 1, 6, i, true),
            "a moved head restarts the clock"
        );
        assert!(
            !s.due(again + 1 + STALL_INTERVALS * i, 6, i, true),
            "stalled again, but the last hand-over was too recent"
        );
        assert!(s.due(again + FORWARD_EVERY_INTERVALS * i, 6, i, true));
    }
}
