//! A follower hands its ready transactions to the leader when the chain stalls
//! (`cluster::stall_forward` says why).

use super::RaftDriver;
use bcos_consensus::raft::Role;

impl RaftDriver {
    /// Once the head has not moved for a while and this node is a follower that is not
    /// behind (a node catching up has stalled for another reason).
    pub(super) fn forward_if_stalled(&mut self) {
        if self.core.role() != Role::Leader && self.core.leader().is_none() {
            // No leader known, and none in sight: a candidate whose elections nobody answers
            // (a node removed from the configuration before it saw the removal is one) is
            // served no blocks, so what its clients sent would wait here for good (found by
            // `bcos-sim --membership-changes`, raft seed 2, where the proposal to add the
            // node back was such a transaction). It hands its ready transactions to every
            // other member it knows while its head stalls, behind or not.
            let Some((frame, txs)) = self.base.stalled_pool_frame(&mut self.stall) else {
                return;
            };
            let me = self.base.cfg.index;
            tracing::debug!(txs, "no leader; ready transactions handed to the members");
            for m in self.core.members().iter().filter(|m| **m != me) {
                self.base.net.send(*m, frame.clone());
            }
            return;
        }
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
