//! A follower hands its ready transactions to the leader when the chain stalls
//! (`cluster::stall_forward` says why).

use super::RaftDriver;
use bcos_consensus::raft::Role;

impl RaftDriver {
    /// Once the head has not moved for a while and this node is a follower that is not
    /// behind (a node catching up has stalled for another reason).
    pub(super) fn forward_if_stalled(&mut self) {
        let leader = self.core.leader();
        let may = self.core.role() == Role::Follower
            && leader.is_some()
            && self.core.commit_index() <= self.base.head.number();
        let Some((frame, txs)) = self.base.stalled_txs_frame(&mut self.stall, may) else {
            return;
        };
        let Some(leader) = leader else {
            return;
        };
        tracing::debug!(
            leader,
            txs,
            "chain stalled; ready transactions handed to the leader"
        );
        self.base.net.send(leader, frame);
    }
}
