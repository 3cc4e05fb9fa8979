//! A follower hands its ready transactions to the leader when the chain stalls
//! (`cluster::stall_forward` says why).

use super::RaftDriver;
use crate::cluster::stall_forward::ready_batch;
use crate::cluster::wire::Wire;
use bcos_consensus::raft::Role;

impl RaftDriver {
    /// Once the head has not moved for a while and this node is a follower that is not
    /// behind (a node catching up has stalled for another reason).
    pub(super) fn forward_if_stalled(&mut self) {
        let now = self.base.now_ms();
        let head = self.base.head.number();
        let interval = self.base.cfg.status_interval_ms;
        let leader = self.core.leader();
        let may = self.core.role() == Role::Follower
            && leader.is_some()
            && self.core.commit_index() <= head
            && self.base.sync.best(now) <= head
            && self.base.ctx.pool.has_ready();
        if !self.stall.due(now, head, interval, may) {
            return;
        }
        let Some(leader) = leader else {
            return;
        };
        let bytes_max = (self.base.cfg.frame_bytes_max / 2) as usize;
        let list = ready_batch(
            &self.base.ctx.pool,
            self.base.ctx.block_gas_limit,
            bytes_max,
        );
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
