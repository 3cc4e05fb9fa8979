//! Durable bodies of the blocks this node votes for (spec/pbft.md §5.1). A prepare can make
//! a lock, and a lock is durable (PBFT-R2, R6), but it names its block by hash only. If the
//! bodies lived only in memory, every honest node could end up locked on a block none of
//! them holds any more (each restarted since it voted): the next new view re-proposes the
//! hash without the block, nobody can execute it, and the chain stops for good (found by
//! `bcos-sim`, pbft seeds 18, 20, 25, 100, 108 among the first 110). So the body of a voted
//! block is durable before the vote leaves, and a restarted node holds it again.
//!
//! The same holds for the proof of a lock: the prepare votes behind it were kept in memory
//! only, so a node restarted after locking could not claim its lock in a view change ("lock
//! without a provable quorum"), a new view re-proposing the locked block was not justified,
//! and the locked nodes prepared nothing else (pbft seed 20). The aggregate of those votes
//! is made durable before the lock is.

use super::PbftDriver;
use crate::cluster::wire::PreparedProof;
use bcos_consensus::pbft::{PbftDurable, PbftMsg};
use bcos_consensus::Output;
use bcos_types::{Block, Bytes, Height, B256};
use serde::{Deserialize, Serialize};

/// A lock's proof as written: (height, view, block hash, signer bitmap, aggregate).
type ProofRow = (Height, u64, [u8; 32], Vec<u8>, Vec<u8>);

/// The record: bodies of voted blocks and proofs of locks, above the head.
#[derive(Serialize, Deserialize, Default)]
struct Record {
    bodies: Vec<Vec<u8>>,
    proofs: Vec<ProofRow>,
}

/// A lock's proof as kept: (signer bitmap, aggregate).
pub(super) type KeptProof = (Vec<u8>, Vec<u8>);

impl PbftDriver {
    /// Reloads the bodies written before a restart (those above the stored head) as
    /// proposals, so they are executed and can be re-proposed.
    pub(super) fn load_bodies(&mut self) -> anyhow::Result<()> {
        let Some(bytes) = self.base.bodies.load()? else {
            return Ok(());
        };
        let rec: Record = postcard::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("the block bodies record is damaged: {e}"))?;
        let head = self.base.head.number();
        for (h, v, hash, signers, agg) in rec.proofs {
            if h > head {
                self.lock_proofs
                    .insert((h, v, B256::from(hash)), (signers, agg));
            }
        }
        for raw in rec.bodies {
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
        self.voted_bodies.insert((height, hash), raw);
        self.write_record()
    }

    /// Before a lock is persisted (`outputs` holds the core's `Persist`): the aggregate of
    /// the prepare votes behind it is durable, when this node holds a quorum of them.
    pub(super) fn keep_lock_proof(
        &mut self,
        outputs: &[Output<PbftMsg, bcos_consensus::pbft::PbftTimer, PbftDurable>],
    ) -> anyhow::Result<()> {
        for o in outputs {
            let Output::Persist(d) = o else { continue };
            let Some(pc) = &d.lock else { continue };
            let key = (pc.height, pc.view, pc.block_hash);
            if pc.height <= self.base.head.number() || self.lock_proofs.contains_key(&key) {
                continue;
            }
            let digest = self.book.prepare_digest(pc.height, pc.view, pc.block_hash);
            if let (Some(cert), _) = self.book.certificate(digest) {
                self.lock_proofs
                    .insert(key, (cert.signers.clone(), cert.aggregate.to_vec()));
                self.write_record()?;
            }
        }
        Ok(())
    }

    /// The durable proof of a lock the vote book cannot prove any more (after a restart):
    /// the proof and the voters it names.
    pub(super) fn kept_proof(
        &self,
        height: Height,
        view: u64,
        hash: B256,
    ) -> Option<(PreparedProof, Vec<u32>)> {
        let (signers, agg) = self.lock_proofs.get(&(height, view, hash))?;
        let voters = self.book.bitmap_members(height, signers);
        let proof = PreparedProof {
            signers: signers.clone(),
            aggregate: Bytes::copy_from_slice(agg),
        };
        Some((proof, voters))
    }

    /// Writes what is kept above the head (returns once it is durable).
    fn write_record(&mut self) -> anyhow::Result<()> {
        let head = self.base.head.number();
        self.voted_bodies = self.voted_bodies.split_off(&(head + 1, B256::ZERO));
        self.lock_proofs = self.lock_proofs.split_off(&(head + 1, 0, B256::ZERO));
        let rec = Record {
            bodies: self.voted_bodies.values().cloned().collect(),
            proofs: self
                .lock_proofs
                .iter()
                .map(|((h, v, hash), (s, a))| (*h, *v, hash.0, s.clone(), a.clone()))
                .collect(),
        };
        self.base.bodies.store(&postcard::to_allocvec(&rec)?)
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
