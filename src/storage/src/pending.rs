//! The state after a block that is decided but still committing (spec/execution.md SEAL-R6):
//! the block's diff over the committed state. The sealer executes the next block on it while
//! the previous one is written, so the two stages overlap.
//!
//! Exact whichever side of the commit a read lands on: every key the pending block changed
//! is answered from its diff, and every other key has the same value in the committed state
//! before and after the commit (DUR-2 writes the diff atomically).

use crate::traits::{StateReader, StorageError};
use bcos_types::{Account, Address, Bytes, StateDiff, B256, U256};

/// A block's diff read over `base`, the state the block was executed on.
pub struct PendingState<'a> {
    pub base: &'a dyn StateReader,
    pub diff: &'a StateDiff,
    /// The pending block: BLOCKHASH answers it before the store does.
    pub number: u64,
    pub hash: B256,
}

impl StateReader for PendingState<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        match self.diff.accounts.get(address) {
            Some(changed) => Ok(changed.clone()),
            None => self.base.account(address),
        }
    }

    /// The order MemStore and RocksDB apply a diff in: wipe first, then the slots written.
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        if let Some(value) = self.diff.storage.get(address).and_then(|s| s.get(slot)) {
            return Ok(*value);
        }
        if self.diff.wiped_storage.contains(address) {
            return Ok(U256::ZERO);
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        match self.diff.codes.get(code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        if number == self.number {
            return Ok(Some(self.hash));
        }
        self.base.recent_block_hash(number)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;
    use crate::traits::{BlockCommit, ChainStore};
    use crate::MemStore;
    use bcos_types::{Block, Header};
    use proptest::prelude::*;

    fn block(number: u64, parent_hash: B256) -> bcos_types::SealedBlock {
        Block {
            header: Header {
                number,
                parent_hash,
                ..Default::default()
            },
            txs: vec![],
        }
        .seal()
    }

    fn commit(store: &MemStore, diff: &StateDiff) -> bcos_types::SealedBlock {
        let parent = store.head().map(|(_, h)| h).unwrap_or(B256::ZERO);
        let number = store.head().map_or(0, |(n, _)| n + 1);
        let b = block(number, parent);
        store
            .commit_block(BlockCommit {
                block: &b,
                receipts: &[],
                senders: &[],
                diff,
                certificate: &[],
            })
            .unwrap();
        b
    }

    const ADDRESSES: u8 = 4;
    const SLOTS: u64 = 4;

    fn address(i: u8) -> Address {
        Address::repeat_byte(i + 1)
    }

    prop_compose! {
        fn diff()(
            accounts in prop::collection::btree_map(
                0..ADDRESSES,
                prop::option::of((0u64..3, 0u64..3)),
                0..4,
            ),
            wiped in prop::collection::btree_set(0..ADDRESSES, 0..2),
            storage in prop::collection::btree_map(
                (0..ADDRESSES, 0..SLOTS),
                0u64..3,
                0..8,
            ),
            code in prop::option::of(0u8..3),
        ) -> StateDiff {
            let mut d = StateDiff::default();
            for (a, acct) in accounts {
                d.accounts.insert(
                    address(a),
                    acct.map(|(n, b)| Account { nonce: n, balance: U256::from(b), ..Default::default() }),
                );
            }
            d.wiped_storage = wiped.into_iter().map(address).collect();
            for ((a, s), v) in storage {
                d.storage.entry(address(a)).or_default().insert(U256::from(s), U256::from(v));
            }
            if let Some(c) = code {
                let bytes = Bytes::from(vec![c; 3]);
                d.codes.insert(alloy_primitives::keccak256(&bytes), bytes);
            }
            d
        }
    }

    /// Every key of the small universe, read through a reader.
    fn snapshot(r: &dyn StateReader, codes: &[B256]) -> Vec<String> {
        let mut out = Vec::new();
        for a in 0..ADDRESSES {
            out.push(format!("{:?}", r.account(&address(a)).unwrap()));
            for s in 0..SLOTS {
                out.push(r.storage(&address(a), &U256::from(s)).unwrap().to_string());
            }
        }
        for c in codes {
            out.push(format!("{:?}", r.code(c).unwrap()));
        }
        out
    }

    proptest! {
        /// The pending view equals the state after the commit, read before the commit lands
        /// and after it (the two moments a sealer's read can fall on).
        #[test]
        fn pending_state_equals_the_committed_state(first in diff(), second in diff()) {
            let store = MemStore::new();
            commit(&store, &StateDiff::default());
            commit(&store, &first);
            let codes: Vec<B256> = first.codes.keys().chain(second.codes.keys()).copied().collect();
            let number = store.head().unwrap().0 + 1;
            let hash = B256::repeat_byte(9);
            let before = snapshot(
                &PendingState { base: &store, diff: &second, number, hash },
                &codes,
            );
            commit(&store, &second);
            let after_commit = snapshot(&store, &codes);
            prop_assert_eq!(&before, &after_commit);
            let during = snapshot(
                &PendingState { base: &store, diff: &second, number, hash },
                &codes,
            );
            prop_assert_eq!(&during, &after_commit);
        }
    }

    #[test]
    fn blockhash_answers_the_pending_block() {
        let store = MemStore::new();
        let genesis = commit(&store, &StateDiff::default());
        let diff = StateDiff::default();
        let pending = PendingState {
            base: &store,
            diff: &diff,
            number: 1,
            hash: B256::repeat_byte(7),
        };
        assert_eq!(
            pending.recent_block_hash(1).unwrap(),
            Some(B256::repeat_byte(7))
        );
        assert_eq!(pending.recent_block_hash(0).unwrap(), Some(genesis.hash));
        assert_eq!(pending.recent_block_hash(2).unwrap(), None);
    }
}
