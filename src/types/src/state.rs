//! Account state, per-block state diffs and the state root (spec/execution.md §2.3).
//!
//! The state root is a chained commitment over state diffs:
//!
//! ```text
//! state_root(n) = keccak256(state_root(n-1) ‖ be64(n) ‖ diff_root(n))     state_root(-1) = 0
//! ```
//!
//! where `diff_root(n)` is the Merkle root (§2.1) over the canonical leaves of block n's
//! [`StateDiff`]. It costs O(changes) per block, needs no trie, and is identical on every node
//! that executed the same blocks; it commits to the whole history of state, though it cannot
//! prove a single account's value (a later issue may add a sparse Merkle tree for that).

use alloy_primitives::{b256, keccak256, Address, Bytes, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use std::collections::{BTreeMap, BTreeSet};

/// keccak256 of empty code.
pub const KECCAK_EMPTY: B256 =
    b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// An account as stored: code lives apart, keyed by its hash.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Account {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK_EMPTY,
        }
    }
}

impl Account {
    pub fn with_balance(balance: U256) -> Self {
        Account {
            balance,
            ..Default::default()
        }
    }
    pub fn has_code(&self) -> bool {
        self.code_hash != KECCAK_EMPTY && self.code_hash != B256::ZERO
    }
}

/// Everything one block changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDiff {
    /// New account values; `None` deletes the account.
    pub accounts: BTreeMap<Address, Option<Account>>,
    /// Accounts whose whole storage is cleared before `storage` is applied.
    pub wiped_storage: BTreeSet<Address>,
    /// New slot values; zero deletes the slot.
    pub storage: BTreeMap<Address, BTreeMap<U256, U256>>,
    /// New contract code by hash.
    pub codes: BTreeMap<B256, Bytes>,
}

const LEAF_ACCOUNT: u8 = 1;
const LEAF_WIPE: u8 = 2;
const LEAF_SLOT: u8 = 3;

impl StateDiff {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.wiped_storage.is_empty()
            && self.storage.is_empty()
            && self.codes.is_empty()
    }

    /// Number of account and slot changes.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.storage.values().map(BTreeMap::len).sum::<usize>()
    }

    /// Canonical leaves, in order: accounts by address, wipes by address, slots by
    /// (address, slot). Code is committed through the accounts' code hashes.
    pub fn leaves(&self) -> Vec<Vec<u8>> {
        let mut leaves = Vec::with_capacity(self.len() + self.wiped_storage.len());
        for (addr, acct) in &self.accounts {
            let mut l = Vec::with_capacity(1 + 20 + 1 + 8 + 32 + 32);
            l.push(LEAF_ACCOUNT);
            l.extend_from_slice(addr.as_slice());
            match acct {
                None => l.push(0),
                Some(a) => {
                    l.push(1);
                    l.extend_from_slice(&a.nonce.to_be_bytes());
                    l.extend_from_slice(&a.balance.to_be_bytes::<32>());
                    l.extend_from_slice(a.code_hash.as_slice());
                }
            }
            leaves.push(l);
        }
        for addr in &self.wiped_storage {
            let mut l = vec![LEAF_WIPE];
            l.extend_from_slice(addr.as_slice());
            leaves.push(l);
        }
        for (addr, slots) in &self.storage {
            for (slot, value) in slots {
                let mut l = Vec::with_capacity(1 + 20 + 64);
                l.push(LEAF_SLOT);
                l.extend_from_slice(addr.as_slice());
                l.extend_from_slice(&slot.to_be_bytes::<32>());
                l.extend_from_slice(&value.to_be_bytes::<32>());
                leaves.push(l);
            }
        }
        leaves
    }

    pub fn diff_root(&self) -> B256 {
        crate::merkle::root(self.leaves())
    }
}

/// §2.3: the state root of block `number` given its parent's.
pub fn next_state_root(parent_state_root: &B256, number: u64, diff: &StateDiff) -> B256 {
    let mut buf = [0u8; 32 + 8 + 32];
    buf[..32].copy_from_slice(parent_state_root.as_slice());
    buf[32..40].copy_from_slice(&number.to_be_bytes());
    buf[40..].copy_from_slice(diff.diff_root().as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(balance: u64) -> StateDiff {
        let mut d = StateDiff::default();
        d.accounts.insert(
            Address::repeat_byte(1),
            Some(Account::with_balance(U256::from(balance))),
        );
        d.storage
            .entry(Address::repeat_byte(2))
            .or_default()
            .insert(U256::from(7), U256::from(9));
        d
    }

    #[test]
    fn empty_code_hash_constant_is_keccak_of_nothing() {
        assert_eq!(KECCAK_EMPTY, keccak256([]));
    }

    #[test]
    fn state_root_depends_on_parent_number_and_every_change() {
        let base = next_state_root(&B256::ZERO, 1, &diff(5));
        assert_eq!(base, next_state_root(&B256::ZERO, 1, &diff(5)));
        assert_ne!(base, next_state_root(&B256::ZERO, 1, &diff(6)));
        assert_ne!(base, next_state_root(&B256::ZERO, 2, &diff(5)));
        assert_ne!(base, next_state_root(&B256::repeat_byte(1), 1, &diff(5)));
        let mut wiped = diff(5);
        wiped.wiped_storage.insert(Address::repeat_byte(2));
        assert_ne!(base, next_state_root(&B256::ZERO, 1, &wiped));
    }
}
