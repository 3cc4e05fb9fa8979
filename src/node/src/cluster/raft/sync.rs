//! Status and block sync for Raft (RAFT-R14): blocks are served to current members only (a
//! removed node stops receiving blocks); a synced block is re-executed and must match its
//! header; its certificate gives the term the core needs to keep or drop its log suffix.

use super::RaftDriver;
use crate::block_exec;
use crate::cluster::wire::CertifiedBlock;
use bcos_consensus::raft::decode_certificate;
use bcos_types::{Block, Height};

impl RaftDriver {
    pub(super) fn periodic(&mut self) -> anyhow::Result<()> {
        // The core may know entries committed whose blocks this node never stored (a log
        // compacted past the store before a crash): they come by sync.
        let behind_core = self.core.commit_index() > self.base.head.number();
        self.base.periodic(behind_core, false);
        Ok(())
    }

    pub(super) fn request_sync_now(&mut self) {
        self.base.request_sync(false);
    }

    /// Members only: a removed node stops receiving blocks, one not yet added gets none.
    pub(super) fn serve_sync(
        &mut self,
        peer: u32,
        start: Height,
        count: u64,
    ) -> anyhow::Result<()> {
        if !self.core.members().contains(&peer) {
            tracing::debug!(peer, "sync request from a non-member refused");
            return Ok(());
        }
        self.base.serve_sync(peer, start, count);
        Ok(())
    }

    pub(super) fn apply_synced(
        &mut self,
        peer: u32,
        blocks: Vec<CertifiedBlock>,
    ) -> anyhow::Result<()> {
        let mut last_term = None;
        let mut applied = 0;
        for cb in blocks {
            let Ok(block) = Block::decode_bytes(&cb.block).map(Block::seal) else {
                tracing::warn!(peer, "synced block undecodable");
                break;
            };
            let n = block.number();
            if n <= self.base.head.number() {
                continue;
            }
            let Some(pos) = decode_certificate(&cb.certificate).filter(|p| p.index == n) else {
                tracing::warn!(peer, number = n, "synced block without a raft certificate");
                break;
            };
            let txs = match self.recover(&block) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(peer, number = n, "synced block refused: {e}");
                    break;
                }
            };
            match block_exec::verify_and_execute(&self.base.ctx, &self.base.head, block, txs) {
                Ok(c) => {
                    self.store_block(c, cb.certificate.to_vec())?;
                    last_term = Some(pos.term);
                    applied += 1;
                }
                Err(e) => {
                    tracing::warn!(peer, number = n, "synced block refused: {e}");
                    break;
                }
            }
        }
        // Raft asks again at the next status tick (members only, peers ahead).
        let _ = self.base.on_synced(peer, applied);
        if let Some(term) = last_term {
            tracing::info!(peer, head = self.base.head.number(), "synced");
            let out = self.core.advance_to(self.base.head.number() + 1, term);
            self.apply(out)?;
        }
        Ok(())
    }
}
