//! Status and block sync for Raft (RAFT-R14): blocks are served to current members only (a
//! removed node stops receiving blocks); a synced block is re-executed and must match its
//! header; its certificate gives the term the core needs to keep or drop its log suffix.

use super::RaftDriver;
use crate::block_exec;
use crate::cluster::wire::{CertifiedBlock, Wire};
use bcos_consensus::raft::decode_certificate;
use bcos_types::{Block, Bytes, Height};
use std::time::{Duration, Instant};

impl RaftDriver {
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

    pub(super) fn request_sync_now(&mut self) {
        let now = Instant::now();
        if let Some((_, at)) = self.sync_in_flight {
            if now.duration_since(at) < Duration::from_millis(self.cfg.sync_timeout_ms) {
                return;
            }
        }
        let head = self.head.number();
        let mut ahead: Vec<u32> = self
            .peer_heads
            .iter()
            .filter(|(_, h)| **h > head)
            .map(|(p, _)| *p)
            .collect();
        ahead.sort();
        let last = self.sync_in_flight.map(|(p, _)| p);
        let Some(peer) = ahead.iter().copied().find(|p| Some(*p) > last).or(ahead.first().copied()) else {
            return;
        };
        let req = Wire::SyncRequest {
            from: head + 1,
            count: self.cfg.sync_blocks_max,
        };
        if self.net.send(peer, req.encode()).is_ok() {
            self.sync_in_flight = Some((peer, now));
        }
    }

    pub(super) fn serve_sync(&mut self, peer: u32, start: Height, count: u64) -> anyhow::Result<()> {
        if !self.core.members().contains(&peer) {
            tracing::debug!(peer, "sync request from a non-member refused");
            return Ok(());
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for n in start..start.saturating_add(count.min(self.cfg.sync_blocks_max)) {
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

    pub(super) fn apply_synced(&mut self, peer: u32, blocks: Vec<CertifiedBlock>) -> anyhow::Result<()> {
        if self.sync_in_flight.map(|(p, _)| p) == Some(peer) {
            self.sync_in_flight = None;
        }
        let mut last_term = None;
        for cb in blocks {
            let Ok(block) = Block::decode_bytes(&cb.block).map(Block::seal) else {
                tracing::warn!(peer, "synced block undecodable");
                break;
            };
            let n = block.number();
            if n <= self.head.number() {
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
            match block_exec::verify_and_execute(&self.ctx, &self.head, block, txs) {
                Ok(c) => {
                    self.store_block(c, cb.certificate.to_vec())?;
                    last_term = Some(pos.term);
                }
                Err(e) => {
                    tracing::warn!(peer, number = n, "synced block refused: {e}");
                    break;
                }
            }
        }
        if let Some(term) = last_term {
            tracing::info!(peer, head = self.head.number(), "synced");
            let out = self.core.advance_to(self.head.number() + 1, term);
            self.apply(out)?;
        }
        Ok(())
    }
}
