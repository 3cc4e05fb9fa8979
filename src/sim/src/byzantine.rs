//! Byzantine PBFT validators, run in the simulated transport of one node: the node runs the
//! real driver, and everything it sends passes through one of these modules, which lies
//! about it (as the models' `byzantine` transformers do with a core's outputs). The module
//! holds the node's own keys, so its forgeries are validly signed: only the protocol, not
//! the channel, can refuse them.

use crate::config::ByzantineKind;
use crate::rng::SimRng;
use crate::runtime::Dest;
use alloy_primitives::bytes::Bytes as Frame;
use bcos_crypto::bls::{sign_vote, BlsSecretKey, VoteData, VotePhase};
use bcos_node::cluster::wire::{CertifiedBlock, Wire, WIRE_VERSION};
use bcos_types::{keccak256, Block, Bytes, SealedBlock, B256};
use std::collections::VecDeque;

/// Frames a `garbage` node remembers for stale replays.
pub const STALE_FRAMES_KEPT_MAX: usize = 64;
/// How far a `fake-sync` node overstates its head.
pub const FAKE_SYNC_LEAD: u64 = 3;

/// What a Byzantine module did, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ByzStats {
    pub forged: u64,
    pub suppressed: u64,
    pub malformed: u64,
    pub stale: u64,
}

pub struct Byzantine {
    pub kind: ByzantineKind,
    me: u32,
    n: u32,
    group_id: u32,
    bls: BlsSecretKey,
    history: VecDeque<Frame>,
    pub stats: ByzStats,
}

impl Byzantine {
    pub fn new(kind: ByzantineKind, me: u32, n: u32, group_id: u32, bls: BlsSecretKey) -> Self {
        Byzantine {
            kind,
            me,
            n,
            group_id,
            bls,
            history: VecDeque::new(),
            stats: ByzStats::default(),
        }
    }

    fn peers(&self) -> Vec<u32> {
        (0..self.n).filter(|p| *p != self.me).collect()
    }

    /// What actually leaves the node for one frame its driver sent.
    pub fn transform(&mut self, rng: &mut SimRng, dest: Dest, frame: Frame) -> Vec<(Dest, Frame)> {
        match self.kind {
            ByzantineKind::Silent => {
                self.stats.suppressed += 1;
                Vec::new()
            }
            ByzantineKind::Equivocate => self.equivocate(dest, frame),
            ByzantineKind::DoubleVote => self.double_vote(dest, frame),
            ByzantineKind::Garbage => self.garbage(rng, dest, frame),
            ByzantineKind::FakeSync => self.fake_sync(dest, frame),
        }
    }

    /// Each proposal: the honest block to the lower half of the peers, a conflicting one
    /// (the same transactions a second later: it executes fine) to the rest.
    fn equivocate(&mut self, dest: Dest, frame: Frame) -> Vec<(Dest, Frame)> {
        let Ok(Wire::PrePrepare { msg, block }) = Wire::decode(&frame) else {
            return vec![(dest, frame)];
        };
        let Some(other) = retimed(&block, None) else {
            return vec![(dest, frame)];
        };
        let mut forged_msg = msg;
        forged_msg.block_hash = other.hash;
        let forged = Wire::PrePrepare {
            msg: forged_msg,
            block: Bytes::from(other.block.encode_bytes()),
        }
        .encode();
        self.stats.forged += 1;
        let peers = match dest {
            Dest::All => self.peers(),
            Dest::To(p) => vec![p],
        };
        let half = peers.len() / 2;
        peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let f = if i < half || (dest != Dest::All && p % 2 == 0) {
                    frame.clone()
                } else {
                    forged.clone()
                };
                (Dest::To(*p), f)
            })
            .collect()
    }

    /// Every vote, then a validly signed vote for a made-up block in the same slot.
    fn double_vote(&mut self, dest: Dest, frame: Frame) -> Vec<(Dest, Frame)> {
        let second = match Wire::decode(&frame) {
            Ok(Wire::Prepare { mut msg, .. }) => {
                msg.block_hash = keccak256(msg.block_hash);
                let sig = self.sign(
                    msg.height,
                    msg.view,
                    msg.block_hash,
                    B256::ZERO,
                    B256::ZERO,
                    VotePhase::Prepare,
                );
                Some(Wire::Prepare { msg, sig })
            }
            Ok(Wire::Commit { mut msg, .. }) => {
                msg.body.block_hash = keccak256(msg.body.block_hash);
                let b = msg.body;
                let sig = self.sign(
                    msg.height,
                    msg.view,
                    b.block_hash,
                    b.state_root,
                    b.receipts_root,
                    VotePhase::Commit,
                );
                Some(Wire::Commit { msg, sig })
            }
            _ => None,
        };
        let mut out = vec![(dest, frame)];
        if let Some(w) = second {
            self.stats.forged += 1;
            out.push((dest, w.encode()));
        }
        out
    }

    fn sign(
        &self,
        height: u64,
        view: u64,
        block_hash: B256,
        state_root: B256,
        receipts_root: B256,
        phase: VotePhase,
    ) -> Bytes {
        let digest = VoteData {
            group_id: self.group_id,
            height,
            view,
            block_hash,
            state_root,
            receipts_root,
            phase,
        }
        .digest();
        Bytes::copy_from_slice(&sign_vote(&self.bls, &digest).to_bytes())
    }

    /// Honest traffic, and beside a third of it one bad frame: random bytes, a damaged copy,
    /// a stale replay, or a well-formed message with absurd numbers.
    fn garbage(&mut self, rng: &mut SimRng, dest: Dest, frame: Frame) -> Vec<(Dest, Frame)> {
        let mut out = vec![(dest, frame.clone())];
        if rng.chance(0.33) {
            let bad = self.bad_frame(rng, &frame);
            out.push((dest, bad));
        }
        self.history.push_back(frame);
        if self.history.len() > STALE_FRAMES_KEPT_MAX {
            self.history.pop_front();
        }
        out
    }

    fn bad_frame(&mut self, rng: &mut SimRng, frame: &Frame) -> Frame {
        let absurd = |w: Wire| w.encode();
        match rng.below(9) {
            0 => {
                self.stats.malformed += 1;
                let len = rng.below(200) as usize;
                Frame::from((0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>())
            }
            1 => {
                self.stats.malformed += 1;
                let cut = rng.below(frame.len() as u64) as usize;
                frame.slice(..cut)
            }
            2 => {
                self.stats.malformed += 1;
                let mut v = frame.to_vec();
                if let Some(b) = v.first_mut() {
                    *b = WIRE_VERSION.wrapping_add(1 + rng.below(200) as u8);
                }
                Frame::from(v)
            }
            3 => {
                self.stats.malformed += 1;
                let mut v = frame.to_vec();
                if v.len() > 1 {
                    let i = 1 + rng.below(v.len() as u64 - 1) as usize;
                    v[i] ^= 1 << rng.below(8);
                }
                Frame::from(v)
            }
            4 if !self.history.is_empty() => {
                self.stats.stale += 1;
                let i = rng.below(self.history.len() as u64 / 2 + 1) as usize;
                self.history[i].clone()
            }
            5 => {
                self.stats.malformed += 1;
                absurd(Wire::Status {
                    height: u64::MAX - rng.below(3),
                    hash: B256::from(rng.bytes32()),
                })
            }
            6 => {
                self.stats.malformed += 1;
                absurd(Wire::SyncRequest {
                    from: rng.next_u64(),
                    count: u64::MAX,
                })
            }
            7 => {
                self.stats.malformed += 1;
                absurd(Wire::SyncBlocks(vec![CertifiedBlock {
                    block: Bytes::from(vec![0xde, 0xad]),
                    certificate: Bytes::new(),
                }]))
            }
            _ => {
                self.stats.malformed += 1;
                absurd(Wire::Txs(vec![Bytes::from(vec![0x02, 0xff, 0x00])]))
            }
        }
    }

    /// Overstates its head so that others ask it for blocks, and answers with a forged
    /// chain: each block a second later (so it executes and links), with the original
    /// certificate, which no longer matches it.
    fn fake_sync(&mut self, dest: Dest, frame: Frame) -> Vec<(Dest, Frame)> {
        match Wire::decode(&frame) {
            Ok(Wire::Status { height, hash }) => {
                self.stats.forged += 1;
                let lie = Wire::Status {
                    height: height.saturating_add(FAKE_SYNC_LEAD),
                    hash,
                };
                vec![(dest, lie.encode())]
            }
            Ok(Wire::SyncBlocks(blocks)) => {
                let mut parent = None;
                let mut forged = Vec::with_capacity(blocks.len());
                for cb in blocks {
                    let Some(b) = retimed(&cb.block, parent) else {
                        break;
                    };
                    parent = Some(b.hash);
                    forged.push(CertifiedBlock {
                        block: Bytes::from(b.block.encode_bytes()),
                        certificate: cb.certificate,
                    });
                }
                self.stats.forged += forged.len() as u64;
                vec![(dest, Wire::SyncBlocks(forged).encode())]
            }
            _ => vec![(dest, frame)],
        }
    }
}

/// The block in `bytes`, one second later and (if given) on another parent, resealed.
fn retimed(bytes: &[u8], parent: Option<B256>) -> Option<SealedBlock> {
    let b = Block::decode_bytes(bytes).ok()?;
    let mut header = b.header.clone();
    header.timestamp = header.timestamp.saturating_add(1);
    if let Some(p) = parent {
        header.parent_hash = p;
    }
    Some(
        Block {
            header,
            txs: b.txs.clone(),
        }
        .seal(),
    )
}
