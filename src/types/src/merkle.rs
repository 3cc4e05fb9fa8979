//! Binary Merkle tree over keccak256 (spec/execution.md §2.1).
//!
//! - the root of zero leaves is `B256::ZERO`;
//! - a leaf hashes as `keccak256(0x00 ‖ leaf)`;
//! - an inner node hashes as `keccak256(0x01 ‖ left ‖ right)`;
//! - an odd node at the end of a level is carried up unchanged.
//!
//! The domain prefixes keep a leaf from ever being read as an inner node.

use alloy_primitives::{keccak256, B256};

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

pub fn leaf_hash(leaf: &[u8]) -> B256 {
    let mut buf = Vec::with_capacity(1 + leaf.len());
    buf.push(LEAF_PREFIX);
    buf.extend_from_slice(leaf);
    keccak256(&buf)
}

pub fn node_hash(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left.as_slice());
    buf[33..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Root over leaves that are already leaf-hashed.
pub fn root_from_leaf_hashes(mut level: Vec<B256>) -> B256 {
    if level.is_empty() {
        return B256::ZERO;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// Root over raw leaves.
pub fn root<I, T>(leaves: I) -> B256
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    root_from_leaf_hashes(leaves.into_iter().map(|l| leaf_hash(l.as_ref())).collect())
}

fn next_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node_hash(l, r),
            [odd] => *odd,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The sibling path from one leaf to the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    pub siblings: Vec<B256>,
}

/// Builds the proof that leaf `index` is in the tree of `leaf_hashes`.
pub fn prove(leaf_hashes: &[B256], index: usize) -> Option<MerkleProof> {
    if index >= leaf_hashes.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level = leaf_hashes.to_vec();
    let mut pos = index;
    while level.len() > 1 {
        let sibling = pos ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = next_level(&level);
        pos /= 2;
    }
    Some(MerkleProof {
        index: index as u64,
        leaf_count: leaf_hashes.len() as u64,
        siblings,
    })
}

/// Checks that `leaf` (raw bytes) sits at `proof.index` under `root`.
pub fn verify(root: &B256, leaf: &[u8], proof: &MerkleProof) -> bool {
    if proof.index >= proof.leaf_count {
        return false;
    }
    let mut hash = leaf_hash(leaf);
    let mut pos = proof.index;
    let mut width = proof.leaf_count;
    let mut siblings = proof.siblings.iter();
    while width > 1 {
        let sibling = pos ^ 1;
        if sibling < width {
            let Some(s) = siblings.next() else {
                return false;
            };
            hash = if pos.is_multiple_of(2) {
                node_hash(&hash, s)
            } else {
                node_hash(s, &hash)
            };
        }
        pos /= 2;
        width = width.div_ceil(2);
    }
    siblings.next().is_none() && hash == *root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_root_is_zero() {
        assert_eq!(root(Vec::<Vec<u8>>::new()), B256::ZERO);
    }

    #[test]
    fn single_leaf_root_is_its_leaf_hash() {
        assert_eq!(root([b"a"]), leaf_hash(b"a"));
    }

    #[test]
    fn three_leaves_carry_the_odd_one_up() {
        let (a, b, c) = (leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"));
        assert_eq!(root([b"a", b"b", b"c"]), node_hash(&node_hash(&a, &b), &c));
    }

    #[test]
    fn leaf_cannot_pose_as_inner_node() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut forged = Vec::new();
        forged.extend_from_slice(a.as_slice());
        forged.extend_from_slice(b.as_slice());
        assert_ne!(root([forged]), root([b"a", b"b"]));
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_binds_its_leaf(
            leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let hashes: Vec<B256> = leaves.iter().map(|l| leaf_hash(l)).collect();
            let r = root_from_leaf_hashes(hashes.clone());
            prop_assert_eq!(r, root(&leaves));
            let i = pick.index(leaves.len());
            let proof = prove(&hashes, i).unwrap();
            prop_assert!(verify(&r, &leaves[i], &proof));
            let mut other = leaves[i].clone();
            other.push(0xff);
            prop_assert!(!verify(&r, &other, &proof));
            let mut moved = proof.clone();
            moved.index = (moved.index + 1) % moved.leaf_count;
            if leaves[moved.index as usize] != leaves[i] {
                prop_assert!(!verify(&r, &leaves[i], &moved));
            }
        }

        #[test]
        fn root_changes_when_any_leaf_changes(
            leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..20), 1..30),
            pick in any::<prop::sample::Index>(),
        ) {
            let i = pick.index(leaves.len());
            let mut changed = leaves.clone();
            changed[i][0] ^= 1;
            prop_assert_ne!(root(&leaves), root(&changed));
        }
    }
}
