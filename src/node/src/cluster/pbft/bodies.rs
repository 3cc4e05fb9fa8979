//! Durable bodies of the blocks this node votes for (spec/pbft.md §5.1). A prepare can make
//! a lock, and a lock is durable (PBFT-R2, R6), but it names its block by hash only. If the
//! bodies lived only in memory, every honest node could end up locked on a block none of
//! them holds any more (each restarted since it voted): the next new view re-proposes the
//! hash without the block, nobody can execute it, and the chain stops for good (found by
//! `bcos-sim`, pbft seeds 18, 20, 25, 100, 108 among the first 110). So the body of a voted
//! block is durable before the vote leaves, and a restarted node holds it again.

use super::PbftDriver;
use bcos_consensus::pbft::PbftMsg;
use bcos_types::{Block, Height, B256};

impl PbftDriver {
    /// Reloads the bodies written before a restart (those above the stored head) as
    /// proposals, so they are executed and can be re-proposed.
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
                    self.voted_bodies.insert((b.number(), b.hash), raw);
                    self.proposals.restore(b);
                }
            }
        }
        Ok(())
    }

    /// Before a prepare or commit vote leaves: its block's body is durable.
    pub(super) fn keep_voted_body(&mut self, msg: &PbftMsg) -> anyhow::Result<()> {
        let (height, hash) = match msg {
            PbftMsg::Prepare(m) => (m.height, m.block_hash),
            PbftMsg::Commit(m) => (m.height, m.body.block_hash),
            _ => return Ok(()),
        };
        let head = self.base.head.number();
        if height <= head || self.voted_bodies.contains_key(&(height, hash)) {
            return Ok(());
        }
        let Some(raw) = self.body_of(height, &hash) else {
            return Ok(());
        };
        self.voted_bodies = self.voted_bodies.split_off(&(head + 1, B256::ZERO));
        self.voted_bodies.insert((height, hash), raw);
        let list: Vec<&Vec<u8>> = self.voted_bodies.values().collect();
        self.base.bodies.store(&postcard::to_allocvec(&list)?)
    }

    fn body_of(&self, height: Height, hash: &B256) -> Option<Vec<u8>> {
        if let Some(c) = self.candidates.get(hash) {
            return Some(c.block.block.encode_bytes());
        }
        self.proposals
            .get(height, hash)
            .map(|b| b.block.encode_bytes())
    }
}
