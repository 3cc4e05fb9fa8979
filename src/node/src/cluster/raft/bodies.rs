//! Durable bodies of uncommitted blocks (spec/raft.md §5.1). The core's durable log names
//! entries by block hash only; if the bodies lived only in memory, a leader that crashed
//! right after proposing (its appends lost with it) would restart, win again with the
//! longest log, and hold an entry whose block no node has: no follower could execute and
//! acknowledge it, and the chain would stop for good (found by `bcos-sim`, raft seeds 24
//! and 185 among 1,000). So a body is durable before its entry is: the leader writes it
//! before it proposes, a follower before it hands an executed entry to the core (whose
//! reply acknowledges it), and a restarted node reloads the bodies above its head.

use super::RaftDriver;
use bcos_types::{Block, Height, B256};
use std::collections::BTreeSet;

impl RaftDriver {
    /// Reloads the bodies written before a restart (those above the stored head).
    pub(super) fn load_bodies(&mut self) -> anyhow::Result<()> {
        let Some(bytes) = self.base.bodies.load()? else {
            return Ok(());
        };
        let list: Vec<Vec<u8>> = postcard::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("the block bodies record is damaged: {e}"))?;
        let head = self.base.head.number();
        for raw in list {
            if let Ok(b) = Block::decode_bytes(&raw) {
                let b = b.seal();
                if b.number() > head {
                    self.blocks.insert(b.hash, b);
                }
            }
        }
        self.bodies_written = self.uncommitted_hashes();
        Ok(())
    }

    /// Makes every body held for a height above the head durable, if that set changed
    /// since the last write (returns only once it is on disk).
    pub(super) fn persist_bodies(&mut self) -> anyhow::Result<()> {
        let now = self.uncommitted_hashes();
        if now == self.bodies_written {
            return Ok(());
        }
        let head = self.base.head.number();
        let list: Vec<Vec<u8>> = now
            .iter()
            .filter_map(|(_, h)| {
                self.blocks
                    .get(h)
                    .or_else(|| self.candidates.get(h).map(|c| &c.block))
            })
            .filter(|b| b.number() > head)
            .map(|b| b.block.encode_bytes())
            .collect();
        self.base.bodies.store(&postcard::to_allocvec(&list)?)?;
        self.bodies_written = now;
        Ok(())
    }

    /// (height, hash) of the bodies held above the head, in a fixed order.
    fn uncommitted_hashes(&self) -> BTreeSet<(Height, B256)> {
        let head = self.base.head.number();
        self.blocks
            .values()
            .chain(self.candidates.values().map(|c| &c.block))
            .filter(|b| b.number() > head)
            .map(|b| (b.number(), b.hash))
            .collect()
    }
}
