//! A validator hands its ready transactions to every validator when the chain stalls (`cluster::stall_forward` says why). Every validator then holds them, so
//! each core hears of pending work and a leader that cannot propose is replaced by a quorum
//! of view changes (PBFT-R9), which one lone replica could not form.

use super::PbftDriver;
use crate::cluster::stall_forward::ready_batch;
use crate::cluster::wire::Wire;
use bcos_consensus::Protocol;

impl PbftDriver {
    pub(super) fn forward_if_stalled(&mut self) {
        let now = self.base.now_ms();
        let head = self.base.head.number();
        let interval = self.base.cfg.status_interval_ms;
        // Not "unless this node leads": a replica alone in a view of its own (its lone view
        // changes) may count itself the leader while nobody follows it.
        let may = self.core.next_height() == head + 1
            && self.base.sync.best(now) <= head
            && self.base.ctx.pool.has_ready();
        if !self.stall.due(now, head, interval, may) {
            return;
        }
        let bytes_max = (self.base.cfg.frame_bytes_max / 2) as usize;
        let list = ready_batch(
            &self.base.ctx.pool,
            self.base.ctx.block_gas_limit,
            bytes_max,
        );
        if !list.is_empty() {
            tracing::debug!(
                txs = list.len(),
                "chain stalled; ready transactions handed to every validator"
            );
            self.base.net.broadcast(Wire::Txs(list).encode());
        }
    }
}
