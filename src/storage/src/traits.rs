//! The storage interface. Everything above storage uses these traits only.

use bcos_types::{
    Account, Address, Bytes, CommittedBlock, Receipt, SealedBlock, StateDiff, B256, U256,
};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Db(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A commit that does not extend the current head (wrong number or parent hash).
    #[error("block {number} does not extend the head: {reason}")]
    NotNext { number: u64, reason: String },
    /// A commit whose parts disagree (e.g. receipt or sender count != transaction count).
    #[error("invalid commit of block {number}: {reason}")]
    InvalidCommit { number: u64, reason: String },
    /// An earlier commit failed part-way; the store must be reopened (which recovers).
    #[error("store unusable after a failed commit; reopen it: {0}")]
    Poisoned(String),
}

/// Reads the latest committed state.
pub trait StateReader: Send + Sync {
    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError>;
    /// Zero for a slot that was never written.
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError>;
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError>;
    /// The hash of committed block `number`, for the EVM's BLOCKHASH (which only asks for
    /// the 256 most recent blocks). A reader that keeps no block index returns None, and
    /// BLOCKHASH then yields zero (spec/execution.md §3.2).
    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        let _ = number;
        Ok(None)
    }
}

/// Where a committed transaction sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block_number: u64,
    pub index: u32,
}

/// One block and everything its execution produced, committed as a unit.
#[derive(Debug, Clone, Copy)]
pub struct BlockCommit<'a> {
    pub block: &'a SealedBlock,
    pub receipts: &'a [Receipt],
    /// The sender of each transaction, in block order.
    pub senders: &'a [Address],
    pub diff: &'a StateDiff,
    /// The commit certificate (empty for the solo protocol).
    pub certificate: &'a [u8],
}

/// The chain: committed blocks, their indexes and the latest state.
///
/// `commit_block` returns only once the block, its receipts and its state are durable
/// (spec/durability.md §2); readers see either all of a block or none of it.
pub trait ChainStore: StateReader {
    /// The highest committed block, or None before genesis is committed.
    fn head(&self) -> Option<(u64, B256)>;
    /// Commits block `head + 1` (or the genesis block into an empty store).
    fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StorageError>;
    fn block_by_number(&self, number: u64) -> Result<Option<SealedBlock>, StorageError>;
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError>;
    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError>;
    fn receipts(&self, number: u64) -> Result<Option<Vec<Receipt>>, StorageError>;
    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError>;
    fn certificate(&self, number: u64) -> Result<Option<Bytes>, StorageError>;
    fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError>;
    /// Transactions in all committed blocks.
    fn total_tx_count(&self) -> u64;

    /// The account/slot cache's counters (spec/durability.md §2.1); None for a store that
    /// keeps none.
    fn state_cache_stats(&self) -> Option<crate::StateCacheStats> {
        None
    }

    /// The whole committed block, for RPC and subscribers.
    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, StorageError> {
        let Some(block) = self.block_by_number(number)? else {
            return Ok(None);
        };
        let receipts = self.receipts(number)?.unwrap_or_default();
        let senders = self.senders(number)?.unwrap_or_default();
        let certificate = self.certificate(number)?.unwrap_or_default();
        Ok(Some(CommittedBlock {
            block,
            receipts: receipts.into(),
            senders: senders.into(),
            certificate,
        }))
    }
}
