//! A validator hands its ready transactions to every validator when the chain stalls
//! (`cluster::stall_forward` says why). Every validator then holds them, so each core hears
//! of pending work and a leader that cannot propose is replaced by a quorum of view changes
//! (PBFT-R9), which one lone replica could not form.

use super::PbftDriver;
use bcos_consensus::Protocol;

impl PbftDriver {
    pub(super) fn forward_if_stalled(&mut self) {
        // Not "unless this node leads": a replica alone in a view of its own (its lone view
        // changes) may count itself the leader while nobody follows it.
        let may = self.core.next_height() == self.base.head.number() + 1;
        if let Some((frame, txs)) = self.base.stalled_txs_frame(&mut self.stall, may) {
            tracing::debug!(
                txs,
                "chain stalled; ready transactions handed to every validator"
            );
            self.base.net.broadcast(frame);
        }
    }
}
