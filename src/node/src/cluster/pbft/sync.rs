//! Block sync (spec/pbft.md R17, §5) on top of the shared [`SyncTracker`]: a node that is
//! behind (or decided a height whose block it lacks) asks a peer that is ahead for the next
//! blocks, and applies each only after checking its commit certificate (one BLS aggregate
//! verification), its link to the head, and its execution roots.
//!
//! [`SyncTracker`]: crate::cluster::sync_tracker::SyncTracker

use super::PbftDriver;
use crate::block_exec;
use crate::cluster::votes::verify_block_certificate;
use crate::cluster::wire::CertifiedBlock;
use bcos_consensus::Protocol;
use bcos_types::{Block, Height};

impl PbftDriver {
    /// Status broadcast, and sync when a peer is ahead and this node is not catching up by
    /// consensus alone.
    pub(super) fn periodic(&mut self) -> anyhow::Result<()> {
        // After a crash between persisting a vote at h + 1 and storing block h, the core is
        // ahead of the store: the blocks in between come by sync (PBFT-R17).
        let behind_core = self.core.next_height() > self.base.head.number() + 1;
        self.base.periodic(behind_core, true);
        Ok(())
    }

    /// Asks a peer that is ahead (or any peer: this node may hold a decision whose block it
    /// lacks) for the blocks after the head.
    pub(super) fn request_sync_now(&mut self) {
        self.base.request_sync(true);
    }

    /// Served by the sync server, within the peer's budget.
    pub(super) fn serve_sync(
        &mut self,
        peer: u32,
        start: Height,
        count: u64,
    ) -> anyhow::Result<()> {
        self.base.serve_sync(peer, start, count);
        Ok(())
    }

    /// Applies synced blocks in order; stops at the first that does not check out.
    pub(super) fn apply_synced(
        &mut self,
        peer: u32,
        blocks: Vec<CertifiedBlock>,
    ) -> anyhow::Result<()> {
        let mut applied = 0;
        for cb in blocks {
            let block = match Block::decode_bytes(&cb.block) {
                Ok(b) => b.seal(),
                Err(e) => {
                    tracing::warn!(peer, "synced block undecodable: {e}");
                    break;
                }
            };
            let n = block.number();
            if n <= self.base.head.number() {
                continue;
            }
            let skip_check = self.base.cfg.seeded_bug
                == Some(crate::cluster::config::SeededBug::SyncWithoutCertificate);
            if let Err(e) =
                verify_block_certificate(&self.book, block.header(), block.hash, &cb.certificate)
            {
                if !skip_check {
                    tracing::warn!(peer, number = n, "synced block refused: certificate: {e}");
                    break;
                }
            }
            let txs = match self.recover(&block) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(peer, number = n, "synced block refused: {e}");
                    break;
                }
            };
            let c =
                match block_exec::verify_and_execute(&self.base.ctx, &self.base.head, block, txs) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(peer, number = n, "synced block refused: {e}");
                        break;
                    }
                };
            self.store_block(c, cb.certificate.to_vec())?;
            applied += 1;
        }
        if applied > 0 {
            tracing::info!(peer, applied, head = self.base.head.number(), "synced");
        }
        if self.base.on_synced(peer, applied) {
            self.request_sync_now();
        }
        Ok(())
    }
}
