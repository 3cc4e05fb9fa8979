//! [`CachedStore`]: the state cache (spec/durability.md §2.1, DUR-C1 ... DUR-C4) in front of
//! any [`ChainStore`], so stores other than [`crate::DiskStore`] (the simulator's
//! [`crate::MemStore`]s) run with it.
//!
//! Reads of accounts and slots go through [`StateCache`] with the ticket/fill protocol
//! DiskStore uses (DUR-C2); a commit writes its diff through once the inner store committed
//! it (DUR-C1) and clears the cache if the inner commit failed (DUR-C4). Everything else is
//! delegated.
//!
//! **Ordering.** DiskStore writes through *before* it publishes its head (DUR-3), so a
//! reader that sees head `h` reads state of `h` or later from the cache. The wrapper cannot
//! reach inside the inner commit: the inner store publishes its head, then the wrapper
//! writes the diff through. Between the two, a concurrent reader that already sees the new
//! head may still be answered the previous block's value for a key that is cached and in
//! the diff. That window is transient, never a lasting divergence: the write-through
//! overwrites every key of the diff, and a fill racing the commit is dropped by its ticket
//! or overwritten exactly as in DiskStore (a read of the inner store before its commit
//! fills a value that the write-through then overwrites or whose ticket it invalidates; a
//! read after it fills the new value). Commits through the wrapper are serialized, so
//! write-throughs land in commit order. For a single-writer driver whose reads happen
//! between its own commits, as in the simulator (one thread: the driver, its pool and the
//! checkers read only between steps, never while a commit is in flight), the window is
//! never observed and the cache is exact: every read returns what the inner store holds.
//! A multi-threaded node should use DiskStore's integrated cache, which has no such window.

use crate::state_cache::{Lookup, StateCache, StateCacheStats, SHARDS, STATE_CACHE_ENTRY_BYTES};
use crate::traits::{BlockCommit, ChainStore, StateReader, StorageError, TxLocation};
use bcos_types::{Account, Address, Bytes, CommittedBlock, Receipt, SealedBlock, B256, U256};
use parking_lot::Mutex;

/// A [`ChainStore`] with the account/slot cache in front of `S`'s state.
pub struct CachedStore<S: ChainStore> {
    inner: S,
    /// None when the bound does not hold one entry per shard (reads go straight through).
    cache: Option<StateCache>,
    /// Serializes inner commit + write-through, so write-throughs land in commit order.
    commit: Mutex<()>,
}

impl<S: ChainStore> CachedStore<S> {
    /// A cache of at most `state_cache_bytes` (as `StorageConfig::state_cache_bytes`;
    /// below one entry per shard, 0 included, disables it) in front of `inner`.
    pub fn new(inner: S, state_cache_bytes: usize) -> Self {
        CachedStore {
            inner,
            cache: StateCache::new(state_cache_bytes),
            commit: Mutex::new(()),
        }
    }

    /// A cache of `entries` entries per shard ([`crate::STATE_CACHE_SHARDS`] shards); 0
    /// disables it. A few per shard keep it evicting and refilling all the time.
    pub fn with_entries_per_shard(inner: S, entries: usize) -> Self {
        Self::new(
            inner,
            entries
                .saturating_mul(SHARDS)
                .saturating_mul(STATE_CACHE_ENTRY_BYTES),
        )
    }

    /// The store behind the cache (reads through it bypass the cache).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Forgets every cached entry, as a process restart does (DUR-R7: the cache starts
    /// empty); reads begun before drop their fills (DUR-C4).
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// Hits, misses and size; all zero when disabled.
    pub fn cache_stats(&self) -> StateCacheStats {
        self.cache
            .as_ref()
            .map(StateCache::stats)
            .unwrap_or_default()
    }
}

impl<S: ChainStore> StateReader for CachedStore<S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        let Some(cache) = &self.cache else {
            return self.inner.account(address);
        };
        match cache.account(address) {
            Lookup::Hit(v) => Ok(v),
            Lookup::Miss(ticket) => {
                // DUR-C2: the ticket drops this fill if a commit overtook the read.
                let v = self.inner.account(address)?;
                cache.fill_account(address, ticket, v.clone());
                Ok(v)
            }
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        let Some(cache) = &self.cache else {
            return self.inner.storage(address, slot);
        };
        match cache.storage(address, slot) {
            Lookup::Hit(v) => Ok(v),
            Lookup::Miss(ticket) => {
                let v = self.inner.storage(address, slot)?;
                cache.fill_storage(address, slot, ticket, v);
                Ok(v)
            }
        }
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        self.inner.code(code_hash)
    }

    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.inner.recent_block_hash(number)
    }
}

impl<S: ChainStore> ChainStore for CachedStore<S> {
    fn head(&self) -> Option<(u64, B256)> {
        self.inner.head()
    }

    fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StorageError> {
        let _serial = self.commit.lock();
        match self.inner.commit_block(commit) {
            Ok(()) => {
                // DUR-C1: written through once the inner store holds the block (see the
                // module docs for the window between its head publish and this).
                if let Some(cache) = &self.cache {
                    cache.apply(commit.diff);
                }
                Ok(())
            }
            Err(e) => {
                // DUR-C4: what a failed inner commit left behind is the inner store's to
                // answer, so the cache forgets everything (always safe; a refused commit,
                // DUR-0, wrote nothing and only costs the hits).
                self.clear_cache();
                Err(e)
            }
        }
    }

    fn block_by_number(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        self.inner.block_by_number(number)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.inner.block_hash(number)
    }

    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        self.inner.block_number_by_hash(hash)
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        self.inner.receipts(number)
    }

    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError> {
        self.inner.senders(number)
    }

    fn certificate(&self, number: u64) -> Result<Option<Bytes>, StorageError> {
        self.inner.certificate(number)
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError> {
        self.inner.tx_location(hash)
    }

    fn total_tx_count(&self) -> u64 {
        self.inner.total_tx_count()
    }

    fn state_cache_stats(&self) -> Option<StateCacheStats> {
        Some(self.cache_stats())
    }

    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, StorageError> {
        self.inner.committed_block(number)
    }
}
