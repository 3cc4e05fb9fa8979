//! An in-memory [`ChainStore`] with the disk store's semantics (commit rules DUR-0, state
//! diff application, indexes), for tests and models. Nothing is durable.

use crate::rules::check_commit;
use crate::traits::{BlockCommit, ChainStore, StateReader, StorageError, TxLocation};
use bcos_types::{Account, Address, Bytes, CommittedBlock, Receipt, SealedBlock, B256, U256};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
struct Inner {
    accounts: HashMap<Address, Account>,
    storage: HashMap<Address, HashMap<U256, U256>>,
    codes: HashMap<B256, Bytes>,
    /// Index = block number (blocks start at 0 and are consecutive).
    blocks: Vec<CommittedBlock>,
    hash_to_number: HashMap<B256, u64>,
    tx_index: HashMap<B256, TxLocation>,
    total_tx: u64,
}

/// In-memory chain store. Cheap to create; share it behind an `Arc`.
#[derive(Default)]
pub struct MemStore {
    inner: RwLock<Inner>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn block(&self, number: u64) -> Option<CommittedBlock> {
        let inner = self.inner.read();
        usize::try_from(number)
            .ok()
            .and_then(|i| inner.blocks.get(i).cloned())
    }
}

impl StateReader for MemStore {
    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        // BLOCKHASH: committed blocks are final, so any committed height answers.
        ChainStore::block_hash(self, number)
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        Ok(self.inner.read().accounts.get(address).cloned())
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        let inner = self.inner.read();
        Ok(inner
            .storage
            .get(address)
            .and_then(|s| s.get(slot))
            .copied()
            .unwrap_or(U256::ZERO))
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self.inner.read().codes.get(code_hash).cloned())
    }
}

impl ChainStore for MemStore {
    fn head(&self) -> Option<(u64, B256)> {
        self.inner
            .read()
            .blocks
            .last()
            .map(|b| (b.number(), b.block.hash))
    }

    fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StorageError> {
        let mut inner = self.inner.write();
        let head = inner.blocks.last().map(|b| (b.number(), b.block.hash));
        check_commit(head, &commit)?;
        let diff = commit.diff;
        for (address, account) in &diff.accounts {
            match account {
                Some(a) => {
                    inner.accounts.insert(*address, a.clone());
                }
                None => {
                    inner.accounts.remove(address);
                }
            }
        }
        for address in &diff.wiped_storage {
            inner.storage.remove(address);
        }
        for (address, slots) in &diff.storage {
            let entry = inner.storage.entry(*address).or_default();
            for (slot, value) in slots {
                if value.is_zero() {
                    entry.remove(slot);
                } else {
                    entry.insert(*slot, *value);
                }
            }
            if entry.is_empty() {
                inner.storage.remove(address);
            }
        }
        for (hash, code) in &diff.codes {
            inner.codes.insert(*hash, code.clone());
        }
        let number = commit.block.number();
        for (i, tx) in commit.block.block.txs.iter().enumerate() {
            inner.tx_index.insert(
                tx.hash(),
                TxLocation {
                    block_number: number,
                    index: i as u32,
                },
            );
        }
        inner.hash_to_number.insert(commit.block.hash, number);
        inner.total_tx += commit.block.block.txs.len() as u64;
        inner.blocks.push(CommittedBlock {
            block: commit.block.clone(),
            receipts: Arc::new(commit.receipts.to_vec()),
            senders: Arc::new(commit.senders.to_vec()),
            certificate: Bytes::copy_from_slice(commit.certificate),
        });
        Ok(())
    }

    fn block_by_number(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        Ok(self.block(number).map(|b| b.block))
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        Ok(self.block(number).map(|b| b.block.hash))
    }

    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        Ok(self.inner.read().hash_to_number.get(hash).copied())
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        Ok(self.block(number).map(|b| b.receipts.to_vec()))
    }

    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError> {
        Ok(self.block(number).map(|b| b.senders.to_vec()))
    }

    fn certificate(&self, number: u64) -> Result<Option<Bytes>, StorageError> {
        Ok(self.block(number).map(|b| b.certificate))
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError> {
        Ok(self.inner.read().tx_index.get(hash).copied())
    }

    fn total_tx_count(&self) -> u64 {
        self.inner.read().total_tx
    }

    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, StorageError> {
        Ok(self.block(number))
    }
}
