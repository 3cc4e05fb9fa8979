//! The PBFT vote message and single-vote signing (spec/pbft.md: replicas vote on
//! (group, height, view, block hash, state root, receipts root) per phase).
//!
//! What is signed is the 32-byte [`VoteDigest`] = keccak256 of a fixed 121-byte encoding, so a
//! vote, a certificate and the cache all key on one small value, and hash-to-curve always
//! hashes 32 bytes.

use super::keys::{verify_raw, BlsPublicKey, BlsSecretKey, BlsSignature, VOTE_DST};
use alloy_primitives::{keccak256, B256};
use bcos_types::{GroupId, Height, View};

/// The PBFT phase a vote belongs to; its tag is part of the signed bytes, so a prepare vote
/// can never be replayed as a commit vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VotePhase {
    Prepare = 1,
    Commit = 2,
}

impl VotePhase {
    pub fn tag(self) -> u8 {
        self as u8
    }

    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(VotePhase::Prepare),
            2 => Some(VotePhase::Commit),
            _ => None,
        }
    }
}

/// Everything a vote commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoteData {
    pub group_id: GroupId,
    pub height: Height,
    pub view: View,
    pub block_hash: B256,
    pub state_root: B256,
    pub receipts_root: B256,
    pub phase: VotePhase,
}

/// Length of [`VoteData::encode`]'s output.
pub const VOTE_ENCODING_LEN: usize = 4 + 8 + 8 + 32 + 32 + 32 + 1;

impl VoteData {
    /// The canonical encoding: `group_id u32 BE ‖ height u64 BE ‖ view u64 BE ‖ block_hash ‖
    /// state_root ‖ receipts_root ‖ phase u8`. Fixed width, so no two values share bytes.
    pub fn encode(&self) -> [u8; VOTE_ENCODING_LEN] {
        let mut out = [0u8; VOTE_ENCODING_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&self.group_id.to_be_bytes());
        put(&self.height.to_be_bytes());
        put(&self.view.to_be_bytes());
        put(self.block_hash.as_slice());
        put(self.state_root.as_slice());
        put(self.receipts_root.as_slice());
        put(&[self.phase.tag()]);
        out
    }

    pub fn digest(&self) -> VoteDigest {
        VoteDigest(keccak256(self.encode()))
    }
}

/// keccak256 of a [`VoteData`] encoding: the message every vote signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoteDigest(pub B256);

impl VoteDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }
}

/// Signs a vote (hash-to-G2 plus one scalar multiplication, about 0.37 ms).
pub fn sign_vote(sk: &BlsSecretKey, digest: &VoteDigest) -> BlsSignature {
    sk.sign_raw(digest.as_bytes(), VOTE_DST)
}

/// Verifies one vote with the signature's subgroup check (about 1.1 ms). Prefer
/// `VoteCache::verify_vote`, which skips votes already verified.
pub fn verify_vote(pk: &BlsPublicKey, digest: &VoteDigest, sig: &BlsSignature) -> bool {
    verify_raw(pk.point(), digest.as_bytes(), VOTE_DST, sig)
}
