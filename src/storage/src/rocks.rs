//! The RocksDB side of the disk store (spec/durability.md §3): column families, key and
//! value encodings, and the one WriteBatch per block (DUR-2).

use crate::config::StorageConfig;
use crate::segment::RecordLocation;
use crate::traits::{BlockCommit, StorageError, TxLocation};
use bcos_types::{Address, StateDiff, B256, U256};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, DB,
};
use std::path::Path;

pub const CF_ACCOUNTS: &str = "accounts";
pub const CF_STORAGE: &str = "storage";
pub const CF_CODE: &str = "code";
pub const CF_NUMBER_TO_HASH: &str = "number_to_hash";
pub const CF_HASH_TO_NUMBER: &str = "hash_to_number";
pub const CF_TX_INDEX: &str = "tx_index";
pub const CF_RECEIPTS: &str = "receipts";
pub const CF_SENDERS: &str = "senders";
pub const CF_CERTIFICATES: &str = "certificates";
pub const CF_BLOCK_INDEX: &str = "block_index";
pub const CF_META: &str = "meta";

pub const ALL_CFS: [&str; 11] = [
    CF_ACCOUNTS,
    CF_STORAGE,
    CF_CODE,
    CF_NUMBER_TO_HASH,
    CF_HASH_TO_NUMBER,
    CF_TX_INDEX,
    CF_RECEIPTS,
    CF_SENDERS,
    CF_CERTIFICATES,
    CF_BLOCK_INDEX,
    CF_META,
];

/// meta: head block number (be64) ‖ hash.
pub const META_HEAD: &[u8] = b"head";
/// meta: transactions in all committed blocks (be64).
pub const META_TOTAL_TX: &[u8] = b"total_tx";

pub const STORAGE_KEY_BYTES: usize = 20 + 32;
pub const TX_LOCATION_BYTES: usize = 12;

pub fn db_err(e: rocksdb::Error) -> StorageError {
    StorageError::Db(e.into_string())
}

/// The options [`open_db`] opens with, over `cache` (the store's block cache): (database,
/// column family). Public so a measurement of other layouts (benches/examples/
/// group_storage.rs) uses exactly these.
pub fn db_options(config: &StorageConfig, cache: &Cache) -> (Options, Options) {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    let mut cf_opts = Options::default();
    cf_opts.set_write_buffer_size(config.rocksdb_write_buffer_bytes);
    cf_opts.set_block_based_table_factory(&table);
    cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // A memtable bloom filter answers most lookups of absent keys (new accounts, unwritten
    // slots) without walking the skip list, which profiles showed on the admission path.
    cf_opts.set_memtable_prefix_bloom_ratio(0.1);
    cf_opts.set_memtable_whole_key_filtering(true);
    let mut db_opts = cf_opts.clone();
    // RocksDB refuses in-place updates (`IN_PLACE_CFS`) beside concurrent memtable
    // writes; one writer lock serializes a store's commits anyway (DUR-2).
    db_opts.set_allow_concurrent_memtable_write(false);
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    db_opts.set_max_open_files(config.rocksdb_max_open_files);
    (db_opts, cf_opts)
}

/// The column families whose memtables update a key's value in place (spec/durability.md
/// DUR-4): `accounts` and `storage`. A hot account or slot (an ERC20 balance) is rewritten
/// in every block; without this each write adds a version to the skip list, which grows to
/// hundreds of versions per key and makes every insert walk them (~7 % of a loaded node's
/// CPU in `FindSpliceForLevel`). RocksDB keeps the old entry's sequence number on an
/// in-place update, which is right only while no range deletion sits between two puts of a
/// key in one memtable: so the store flushes `storage` before a block that wipes any
/// storage ([`flush_before_wipes`]), and takes no snapshots and opens no iterators.
pub const IN_PLACE_CFS: [&str; 2] = [CF_ACCOUNTS, CF_STORAGE];

/// `cf_opts` (from [`db_options`]) with the memtable behaviour family `name` takes (DUR-4).
pub fn column_family_options(name: &str, cf_opts: &Options) -> Options {
    let mut opts = cf_opts.clone();
    if IN_PLACE_CFS.contains(&name) {
        opts.set_inplace_update_support(true);
    }
    opts
}

/// Opens (creating if missing) the database with every column family.
pub fn open_db(path: &Path, config: &StorageConfig) -> Result<DB, StorageError> {
    let cache = Cache::new_lru_cache(config.rocksdb_block_cache_bytes);
    let (db_opts, cf_opts) = db_options(config, &cache);
    let cfs = ALL_CFS
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, column_family_options(name, &cf_opts)));
    DB::open_cf_descriptors(&db_opts, path, cfs).map_err(db_err)
}

pub fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily, StorageError> {
    db.cf_handle(name)
        .ok_or_else(|| StorageError::Db(format!("column family {name} missing")))
}

pub fn storage_key(address: &Address, slot: &U256) -> [u8; STORAGE_KEY_BYTES] {
    let mut key = [0u8; STORAGE_KEY_BYTES];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// The exclusive end of an address's storage keys: longer than, and a prefix-extension
/// of, every `address ‖ slot`, so it sorts after all of them.
pub fn storage_range_end(address: &Address) -> [u8; STORAGE_KEY_BYTES + 1] {
    let mut key = [0xffu8; STORAGE_KEY_BYTES + 1];
    key[..20].copy_from_slice(address.as_slice());
    key
}

/// Slot values are stored big-endian without leading zeros (never empty: zero deletes).
pub fn encode_slot_value<'a>(value: &U256, buf: &'a mut [u8; 32]) -> &'a [u8] {
    *buf = value.to_be_bytes::<32>();
    let skip = (value.leading_zeros() / 8).min(31);
    &buf[skip..]
}

pub fn decode_slot_value(bytes: &[u8]) -> Result<U256, StorageError> {
    U256::try_from_be_slice(bytes)
        .ok_or_else(|| StorageError::Corrupt("storage value longer than 32 bytes".into()))
}

pub fn number_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

pub fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, StorageError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StorageError::Corrupt(format!("{what}: expected 8 bytes, found {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

pub fn encode_head(number: u64, hash: &B256) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&number.to_be_bytes());
    out[8..].copy_from_slice(hash.as_slice());
    out
}

pub fn decode_head(bytes: &[u8]) -> Result<(u64, B256), StorageError> {
    if bytes.len() != 40 {
        return Err(StorageError::Corrupt(format!(
            "head record has {} bytes, expected 40",
            bytes.len()
        )));
    }
    Ok((
        decode_u64(&bytes[..8], "head number")?,
        B256::from_slice(&bytes[8..]),
    ))
}

pub fn encode_tx_location(loc: TxLocation) -> [u8; TX_LOCATION_BYTES] {
    let mut out = [0u8; TX_LOCATION_BYTES];
    out[..8].copy_from_slice(&loc.block_number.to_be_bytes());
    out[8..].copy_from_slice(&loc.index.to_be_bytes());
    out
}

pub fn decode_tx_location(bytes: &[u8]) -> Result<TxLocation, StorageError> {
    if bytes.len() != TX_LOCATION_BYTES {
        return Err(StorageError::Corrupt(format!(
            "tx location has {} bytes",
            bytes.len()
        )));
    }
    let mut index = [0u8; 4];
    index.copy_from_slice(&bytes[8..]);
    Ok(TxLocation {
        block_number: decode_u64(&bytes[..8], "tx location")?,
        index: u32::from_be_bytes(index),
    })
}

pub fn decode_senders(bytes: &[u8]) -> Result<Vec<Address>, StorageError> {
    if !bytes.len().is_multiple_of(20) {
        return Err(StorageError::Corrupt(format!(
            "senders value of {} bytes is not a multiple of 20",
            bytes.len()
        )));
    }
    Ok(bytes.chunks_exact(20).map(Address::from_slice).collect())
}

/// DUR-4's guard: before a block whose diff wipes storage, the `storage` memtable is
/// flushed, so the wipe's range deletion lands in an empty memtable and nothing older than
/// it can be updated in place there (RocksDB keeps an updated entry's old sequence number,
/// which the range deletion would then hide). The flush also moves the family past the WAL
/// records before it, so a replay at open starts from the same empty memtable. Wipes are
/// rare (a contract created over an existing account); each costs one synchronous flush of
/// the `storage` memtable, in the commit's path.
pub fn flush_before_wipes(db: &DB, diff: &StateDiff) -> Result<(), StorageError> {
    if diff.wiped_storage.is_empty() {
        return Ok(());
    }
    db.flush_cf(cf(db, CF_STORAGE)?).map_err(db_err)
}

/// Builds the block's WriteBatch (DUR-2): state diff, indexes, receipts, senders,
/// certificate, block location, head and counters. `receipts_encoded` is passed in so the
/// caller can keep it for the recent-block cache.
pub fn build_batch(
    db: &DB,
    commit: &BlockCommit<'_>,
    receipts_encoded: &[u8],
    loc: RecordLocation,
    total_tx_after: u64,
) -> Result<WriteBatch, StorageError> {
    let block = commit.block;
    let number = block.number();
    let nkey = number_key(number);
    let diff = commit.diff;
    let mut batch = WriteBatch::default();

    let accounts = cf(db, CF_ACCOUNTS)?;
    let mut account_buf = Vec::with_capacity(96);
    for (address, account) in &diff.accounts {
        match account {
            Some(a) => {
                account_buf.clear();
                alloy_rlp::Encodable::encode(a, &mut account_buf);
                batch.put_cf(accounts, address, &account_buf);
            }
            None => batch.delete_cf(accounts, address),
        }
    }
    let storage = cf(db, CF_STORAGE)?;
    // Wipes first: later operations in one batch win, so new slots survive the wipe.
    for address in &diff.wiped_storage {
        batch.delete_range_cf(storage, &address[..], &storage_range_end(address)[..]);
    }
    let mut value_buf = [0u8; 32];
    for (address, slots) in &diff.storage {
        for (slot, value) in slots {
            let key = storage_key(address, slot);
            if value.is_zero() {
                batch.delete_cf(storage, key);
            } else {
                batch.put_cf(storage, key, encode_slot_value(value, &mut value_buf));
            }
        }
    }
    let code = cf(db, CF_CODE)?;
    for (hash, bytes) in &diff.codes {
        batch.put_cf(code, hash, bytes);
    }

    batch.put_cf(cf(db, CF_NUMBER_TO_HASH)?, nkey, block.hash);
    batch.put_cf(cf(db, CF_HASH_TO_NUMBER)?, block.hash, nkey);
    let tx_index = cf(db, CF_TX_INDEX)?;
    // In key order: the memtable's skip list keeps the splice of the previous insert, so
    // sorted inserts skip most of the walk from the top that random hashes each cost
    // (~10 % of a loaded node's CPU before). A stable sort keeps a repeated hash's last
    // location last, as the unsorted loop did.
    let mut locations: Vec<(B256, u32)> = block
        .block
        .txs
        .iter()
        .enumerate()
        .map(|(i, tx)| (tx.hash(), i as u32))
        .collect();
    locations.sort_by_key(|(hash, _)| *hash);
    for (hash, index) in locations {
        let loc = TxLocation {
            block_number: number,
            index,
        };
        batch.put_cf(tx_index, hash, encode_tx_location(loc));
    }
    batch.put_cf(cf(db, CF_RECEIPTS)?, nkey, receipts_encoded);
    let mut senders = Vec::with_capacity(commit.senders.len() * 20);
    for s in commit.senders {
        senders.extend_from_slice(s.as_slice());
    }
    batch.put_cf(cf(db, CF_SENDERS)?, nkey, &senders);
    batch.put_cf(cf(db, CF_CERTIFICATES)?, nkey, commit.certificate);
    batch.put_cf(cf(db, CF_BLOCK_INDEX)?, nkey, loc.encode());
    let meta = cf(db, CF_META)?;
    batch.put_cf(meta, META_HEAD, encode_head(number, &block.hash));
    batch.put_cf(meta, META_TOTAL_TX, total_tx_after.to_be_bytes());
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slot_values_round_trip(limbs in any::<[u64; 4]>()) {
            let v = U256::from_limbs(limbs);
            let mut buf = [0u8; 32];
            let enc = encode_slot_value(&v, &mut buf).to_vec();
            prop_assert!(!enc.is_empty());
            prop_assert_eq!(decode_slot_value(&enc).expect("valid"), v);
        }

        #[test]
        fn range_end_bounds_every_slot(a in any::<[u8; 20]>(), limbs in any::<[u64; 4]>()) {
            let address = Address::from(a);
            let key = storage_key(&address, &U256::from_limbs(limbs));
            prop_assert!(&key[..] >= address.as_slice());
            prop_assert!(key[..] < storage_range_end(&address)[..]);
        }
    }
}
