//! A follower hands its ready transactions to the leader when the chain stalls. Gossip
//! forwards a transaction once, when a node admits it; if that copy never reached the
//! leader (lost, or the leader was down), only followers hold it, every resubmission is
//! refused as "already known", and in Raft, whose leader does not rotate, the sender's
//! later transactions wait behind the gap for good (found by `bcos-sim`, raft seed 796).
//! A busy chain moves its head and never triggers this; an idle one has nothing ready.

use super::RaftDriver;
use crate::cluster::wire::Wire;
use bcos_consensus::raft::Role;
use bcos_types::Bytes;

/// Transactions one hand-over carries at most.
pub const FORWARD_TXS_MAX: usize = 256;
/// Status intervals between two hand-overs while the head stays where it is.
pub const FORWARD_EVERY_INTERVALS: u64 = 8;

impl RaftDriver {
    /// Once the head has not moved for two status intervals, and this node is not behind
    /// (a node catching up has stalled for another reason); again only after
    /// [`FORWARD_EVERY_INTERVALS`].
    pub(super) fn forward_if_stalled(&mut self) {
        let now = self.base.now_ms();
        let head = self.base.head.number();
        if self.stall.0 != head {
            self.stall = (head, now);
            return;
        }
        let interval = self.base.cfg.status_interval_ms;
        if self.core.role() != Role::Follower
            || now < self.stall.1.saturating_add(2 * interval)
            || now < self.next_forward_ms
            || self.core.commit_index() > head
            || self.base.sync.best(now) > head
            || !self.base.ctx.pool.has_ready()
        {
            return;
        }
        let Some(leader) = self.core.leader() else {
            return;
        };
        self.next_forward_ms = now.saturating_add(FORWARD_EVERY_INTERVALS * interval);
        let bytes_max = (self.base.cfg.frame_bytes_max / 2) as usize;
        let mut bytes = 0;
        let mut list = Vec::new();
        for tx in self
            .base
            .ctx
            .pool
            .take_ready(FORWARD_TXS_MAX, self.base.ctx.block_gas_limit)
        {
            bytes += tx.tx.encoded_len();
            if bytes > bytes_max {
                break;
            }
            list.push(Bytes::from(tx.tx.encoded()));
        }
        if !list.is_empty() {
            tracing::debug!(
                leader,
                txs = list.len(),
                "chain stalled; ready transactions handed to the leader"
            );
            self.base.net.send(leader, Wire::Txs(list).encode());
        }
    }
}
