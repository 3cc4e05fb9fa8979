//! The durable store: block records in segment files, state and indexes in RocksDB, commit
//! order DUR-1 ... DUR-3, the state cache (DUR-C1 ... DUR-C4) and recovery at open
//! (spec/durability.md).

use crate::cache::{CachedBlock, RecentBlocks};
use crate::config::{IoBackend, StorageConfig};
use crate::io_backend::Appender;
use crate::recovery::{block_location, recover};
use crate::rocks::{self, *};
use crate::rules::check_commit;
use crate::segment::{
    begin_record, decode_record, finish_record, AppendState, SegmentSet, RECORD_HEADER_BYTES,
};
use crate::state_cache::{Lookup, StateCache, StateCacheStats};
use crate::traits::{BlockCommit, ChainStore, StateReader, StorageError, TxLocation};
use bcos_types::receipt::{decode_receipts, encode_receipts};
use bcos_types::{
    codec, Account, Address, Block, Bytes, CommittedBlock, Receipt, SealedBlock, B256, U256,
};
use parking_lot::{Mutex, RwLock};
use rocksdb::{WriteOptions, DB};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// RocksDB lives here under the store's directory.
pub const STATE_DIR: &str = "state";
/// Segment files live here under the store's directory.
pub const BLOCKS_DIR: &str = "blocks";

struct Writer {
    append: AppendState,
    /// Set when a commit failed after it began writing: what reached the disk is unknown
    /// until recovery sorts it out, so no further commit is attempted.
    poisoned: Option<String>,
}

/// RocksDB + segment files. All methods take `&self`; commits are serialized internally.
pub struct DiskStore {
    db: DB,
    segments: SegmentSet,
    writer: Mutex<Writer>,
    head: RwLock<Option<(u64, B256)>>,
    total_tx: AtomicU64,
    recent: RecentBlocks,
    /// None when `state_cache_bytes` disables it.
    state: Option<StateCache>,
    backend: IoBackend,
    sync_state_writes: bool,
}

impl DiskStore {
    /// Opens or creates the store in `dir`, recovering from a crash (DUR-R1 ... DUR-R7).
    /// Fails with [`StorageError::Corrupt`] rather than drop a committed block.
    pub fn open(dir: &Path, config: StorageConfig) -> Result<DiskStore, StorageError> {
        let blocks_dir = dir.join(BLOCKS_DIR);
        std::fs::create_dir_all(&blocks_dir)?;
        let db = rocks::open_db(&dir.join(STATE_DIR), &config)?;
        let recovered = recover(&db, &blocks_dir, config.verify_tail_blocks)?;
        let segments = SegmentSet::open(
            &blocks_dir,
            recovered.segment_count,
            config.segment_bytes_max,
        )?;
        let appender = Appender::open(config.io_backend)?;
        let backend = appender.kind();
        tracing::info!(
            dir = %dir.display(),
            head = ?recovered.head.map(|h| h.0),
            segments = segments.segment_count(),
            io_backend = ?backend,
            "disk store opened"
        );
        Ok(DiskStore {
            db,
            segments,
            writer: Mutex::new(Writer {
                append: AppendState {
                    appender,
                    tail_bytes: recovered.tail_bytes,
                },
                poisoned: None,
            }),
            head: RwLock::new(recovered.head),
            total_tx: AtomicU64::new(recovered.total_tx),
            recent: RecentBlocks::new(config.recent_blocks_cached),
            // DUR-R7: empty at open, so exact whatever recovery found.
            state: StateCache::new(config.state_cache_bytes),
            backend,
            sync_state_writes: config.sync_state_writes,
        })
    }

    /// The backend segment appends go through (`Auto` resolved).
    pub fn io_backend_in_use(&self) -> IoBackend {
        self.backend
    }

    /// Hits, misses and size of the account/slot cache, for metrics; all zero when
    /// `state_cache_bytes` disabled it.
    pub fn state_cache_stats(&self) -> StateCacheStats {
        self.state
            .as_ref()
            .map(StateCache::stats)
            .unwrap_or_default()
    }

    /// A RocksDB integer property of one column family (`rocksdb.num-entries-active-mem-table`,
    /// …), for tests and diagnostics; None when the family or the property is unknown.
    pub fn rocksdb_property(&self, cf_name: &str, property: &str) -> Option<u64> {
        let cf = self.db.cf_handle(cf_name)?;
        self.db.property_int_value_cf(cf, property).ok().flatten()
    }

    fn account_from_db(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        match self.get(CF_ACCOUNTS, address.as_slice())? {
            None => Ok(None),
            Some(v) => codec::decode_exact(&v)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(format!("account {address}: {e}"))),
        }
    }

    fn storage_from_db(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        match self.get(CF_STORAGE, &storage_key(address, slot))? {
            None => Ok(U256::ZERO),
            Some(v) => decode_slot_value(&v),
        }
    }

    fn get(
        &self,
        cf_name: &str,
        key: &[u8],
    ) -> Result<Option<rocksdb::DBPinnableSlice<'_>>, StorageError> {
        self.db
            .get_pinned_cf(rocks::cf(&self.db, cf_name)?, key)
            .map_err(db_err)
    }

    fn read_block(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        let Some(loc) = block_location(&self.db, number)? else {
            return Ok(None);
        };
        let bytes = self.segments.read(loc)?;
        let record = decode_record(&bytes).map_err(|e| {
            StorageError::Corrupt(format!(
                "block {number} record at segment {} offset {}: {e}",
                loc.segment, loc.offset
            ))
        })?;
        if record.number != number {
            return Err(StorageError::Corrupt(format!(
                "record indexed as block {number} holds block {}",
                record.number
            )));
        }
        let block = Block::decode_bytes(record.payload)
            .map_err(|e| StorageError::Corrupt(format!("block {number} does not decode: {e}")))?;
        Ok(Some(block.seal()))
    }

    fn commit_locked(&self, w: &mut Writer, commit: &BlockCommit<'_>) -> Result<(), StorageError> {
        let block = commit.block;
        let number = block.number();
        let mut record =
            Vec::with_capacity(RECORD_HEADER_BYTES + alloy_rlp::Encodable::length(&*block.block));
        let start = begin_record(&mut record);
        alloy_rlp::Encodable::encode(&*block.block, &mut record);
        finish_record(&mut record, start, number).map_err(|e| StorageError::InvalidCommit {
            number,
            reason: e.to_string(),
        })?;

        // DUR-4's guard, before anything of this block is written: a failed flush leaves
        // the store as it was.
        rocks::flush_before_wipes(&self.db, commit.diff)?;

        // DUR-1: the block record is on stable storage before any of its state is written.
        let loc = self.segments.append(&mut w.append, &record).map_err(|e| {
            w.poisoned = Some(format!("append of block {number} failed: {e}"));
            StorageError::Io(e)
        })?;
        drop(record);

        // DUR-2: state, indexes, receipts and the new head in one atomic WriteBatch.
        let receipts_encoded = encode_receipts(commit.receipts);
        let total_tx = self.total_tx.load(Ordering::Acquire) + block.block.txs.len() as u64;
        let batch = build_batch(&self.db, commit, &receipts_encoded, loc, total_tx)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(self.sync_state_writes);
        self.db.write_opt(batch, &opts).map_err(|e| {
            w.poisoned = Some(format!("state write of block {number} failed: {e}"));
            // DUR-C4: whether any of the batch landed is unknown; RocksDB alone answers.
            if let Some(cache) = &self.state {
                cache.clear();
            }
            db_err(e)
        })?;
        // DUR-C1: the diff is written through once RocksDB holds it, before the head moves.
        if let Some(cache) = &self.state {
            cache.apply(commit.diff);
        }

        self.recent.push(CachedBlock::new(
            block.clone(),
            receipts_encoded,
            commit.senders.to_vec(),
            Bytes::copy_from_slice(commit.certificate),
        ));
        // DUR-3: publish the head only now, so nothing advertises a block before it is
        // durable.
        self.total_tx.store(total_tx, Ordering::Release);
        *self.head.write() = Some((number, block.hash));
        Ok(())
    }
}

impl StateReader for DiskStore {
    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        // BLOCKHASH: committed blocks are final, so any committed height answers.
        ChainStore::block_hash(self, number)
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        let Some(cache) = &self.state else {
            return self.account_from_db(address);
        };
        match cache.account(address) {
            Lookup::Hit(v) => Ok(v),
            Lookup::Miss(ticket) => {
                // DUR-C2: the ticket drops this fill if a commit overtook the read.
                let v = self.account_from_db(address)?;
                cache.fill_account(address, ticket, v.clone());
                Ok(v)
            }
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        let Some(cache) = &self.state else {
            return self.storage_from_db(address, slot);
        };
        match cache.storage(address, slot) {
            Lookup::Hit(v) => Ok(v),
            Lookup::Miss(ticket) => {
                let v = self.storage_from_db(address, slot)?;
                cache.fill_storage(address, slot, ticket, v);
                Ok(v)
            }
        }
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self
            .get(CF_CODE, code_hash.as_slice())?
            .map(|v| Bytes::copy_from_slice(&v)))
    }
}

impl ChainStore for DiskStore {
    fn state_cache_stats(&self) -> Option<StateCacheStats> {
        Some(DiskStore::state_cache_stats(self))
    }

    fn head(&self) -> Option<(u64, B256)> {
        *self.head.read()
    }

    fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StorageError> {
        let mut w = self.writer.lock();
        if let Some(why) = &w.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        check_commit(*self.head.read(), &commit)?;
        self.commit_locked(&mut w, &commit)
    }

    fn block_by_number(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        if let Some(c) = self.recent.get(number) {
            return Ok(Some(c.block.clone()));
        }
        self.read_block(number)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        if let Some(c) = self.recent.get(number) {
            return Ok(Some(c.block.hash));
        }
        match self.get(CF_NUMBER_TO_HASH, &number_key(number))? {
            None => Ok(None),
            Some(v) if v.len() == 32 => Ok(Some(B256::from_slice(&v))),
            Some(v) => Err(StorageError::Corrupt(format!(
                "number_to_hash of block {number} has {} bytes",
                v.len()
            ))),
        }
    }

    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        match self.get(CF_HASH_TO_NUMBER, hash.as_slice())? {
            None => Ok(None),
            Some(v) => decode_u64(&v, "hash_to_number").map(Some),
        }
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        if let Some(r) = self.recent.get(number).and_then(|c| c.receipts()) {
            return Ok(Some(r.to_vec()));
        }
        match self.get(CF_RECEIPTS, &number_key(number))? {
            None => Ok(None),
            Some(v) => decode_receipts(&v)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(format!("receipts of block {number}: {e}"))),
        }
    }

    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError> {
        if let Some(c) = self.recent.get(number) {
            return Ok(Some(c.senders.to_vec()));
        }
        self.get(CF_SENDERS, &number_key(number))?
            .map(|v| decode_senders(&v))
            .transpose()
    }

    fn certificate(&self, number: u64) -> Result<Option<Bytes>, StorageError> {
        if let Some(c) = self.recent.get(number) {
            return Ok(Some(c.certificate.clone()));
        }
        Ok(self
            .get(CF_CERTIFICATES, &number_key(number))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError> {
        self.get(CF_TX_INDEX, hash.as_slice())?
            .map(|v| decode_tx_location(&v))
            .transpose()
    }

    fn total_tx_count(&self) -> u64 {
        self.total_tx.load(Ordering::Acquire)
    }

    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, StorageError> {
        if let Some(c) = self.recent.get(number).and_then(|c| c.committed()) {
            return Ok(Some(c));
        }
        let Some(block) = self.read_block(number)? else {
            return Ok(None);
        };
        Ok(Some(CommittedBlock {
            block,
            receipts: Arc::new(self.receipts(number)?.unwrap_or_default()),
            senders: Arc::new(self.senders(number)?.unwrap_or_default()),
            certificate: self.certificate(number)?.unwrap_or_default(),
        }))
    }
}
