//! Status and block sync (spec/pbft.md R17, §5): every node announces its head; a node that
//! is behind (or decided a height whose block it lacks) asks a peer that is ahead for the
//! next blocks, and applies each only after checking its commit certificate (one BLS
//! aggregate verification), its link to the head, and its execution roots.

use super::PbftDriver;
use crate::block_exec;
use crate::cluster::votes::verify_block_certificate;
use crate::cluster::wire::{CertifiedBlock, Wire};
use bcos_types::{Block, Bytes, Height};
use std::time::{Duration, Instant};

impl PbftDriver {
    /// Status broadcast, and sync when a peer is ahead and this node is not catching up by
    /// consensus alone (two heights behind, or no progress for two status intervals).
    pub(super) fn periodic(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        if now < self.next_status {
            return Ok(());
        }
        let interval = Duration::from_millis(self.cfg.status_interval_ms);
        self.next_status = now + interval;
        let status = Wire::Status {
            height: self.head.number(),
            hash: self.head.hash,
        };
        let _ = self.net.broadcast(status.encode());
        let head = self.head.number();
        let best = self.peer_heads.values().copied().max().unwrap_or(0);
        let stalled = now.duration_since(self.head_since) >= 2 * interval;
        if best >= head + 2 || (best > head && stalled) {
            self.request_sync_now();
        }
        Ok(())
    }

    /// Asks the most advanced peer for the blocks after the head, unless a request is
    /// still in flight.
    pub(super) fn request_sync_now(&mut self) {
        let now = Instant::now();
        if let Some((_, at)) = self.sync_in_flight {
            if now.duration_since(at) < Duration::from_millis(self.cfg.sync_timeout_ms) {
                return;
            }
        }
        let head = self.head.number();
        // Rotate among peers that are ahead so one silent peer cannot stall sync.
        let mut ahead: Vec<(u32, Height)> = self
            .peer_heads
            .iter()
            .filter(|(_, h)| **h > head)
            .map(|(p, h)| (*p, *h))
            .collect();
        ahead.sort();
        let last = self.sync_in_flight.map(|(p, _)| p);
        let peer = ahead
            .iter()
            .find(|(p, _)| Some(*p) > last)
            .or(ahead.first())
            .map(|(p, _)| *p);
        let peer = match peer {
            Some(p) => p,
            // Nobody announced more yet: ask everyone's next status by asking any peer.
            None => match (0..self.members.len() as u32).find(|p| *p != self.me()) {
                Some(p) => p,
                None => return,
            },
        };
        let req = Wire::SyncRequest {
            from: head + 1,
            count: self.cfg.sync_blocks_max,
        };
        tracing::info!(peer, from = head + 1, "requesting blocks");
        if self.net.send(peer, req.encode()).is_ok() {
            self.sync_in_flight = Some((peer, now));
        }
    }

    pub(super) fn serve_sync(&mut self, peer: u32, start: Height, count: u64) -> anyhow::Result<()> {
        let count = count.min(self.cfg.sync_blocks_max);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for n in start..start.saturating_add(count) {
            let Some(block) = self.ctx.store.block_by_number(n)? else {
                break;
            };
            let certificate = self.ctx.store.certificate(n)?.unwrap_or_default();
            let encoded = block.block.encode_bytes();
            bytes += encoded.len() + certificate.len();
            if !out.is_empty() && bytes > self.cfg.sync_response_bytes_max {
                break;
            }
            out.push(CertifiedBlock {
                block: Bytes::from(encoded),
                certificate,
            });
        }
        if !out.is_empty() {
            let _ = self.net.send(peer, Wire::SyncBlocks(out).encode());
        }
        Ok(())
    }

    /// Applies synced blocks in order; stops at the first that does not check out.
    pub(super) fn apply_synced(&mut self, peer: u32, blocks: Vec<CertifiedBlock>) -> anyhow::Result<()> {
        if self.sync_in_flight.map(|(p, _)| p) == Some(peer) {
            self.sync_in_flight = None;
        }
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
            if n <= self.head.number() {
                continue;
            }
            if let Err(e) = verify_block_certificate(&self.book, block.header(), block.hash, &cb.certificate) {
                tracing::warn!(peer, number = n, "synced block refused: certificate: {e}");
                break;
            }
            let txs = match self.recover(&block) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(peer, number = n, "synced block refused: {e}");
                    break;
                }
            };
            let c = match block_exec::verify_and_execute(&self.ctx, &self.head, block, txs) {
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
            tracing::info!(peer, applied, head = self.head.number(), "synced");
            let best = self.peer_heads.values().copied().max().unwrap_or(0);
            if best > self.head.number() {
                self.request_sync_now();
            }
        }
        Ok(())
    }
}
