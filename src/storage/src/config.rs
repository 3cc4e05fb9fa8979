//! Storage configuration (spec/durability.md §6 lists every limit and its default).

use serde::{Deserialize, Serialize};

/// How block segment appends reach the disk (spec/durability.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoBackend {
    /// io_uring when the kernel allows it (ring setup and the write/fsync opcodes probe
    /// fine), otherwise std. The choice is logged at open.
    #[default]
    Auto,
    /// io_uring only: open fails if it cannot be set up.
    IoUring,
    /// `pwrite` + `fdatasync` through std::fs.
    Std,
}

/// Limits and knobs of [`crate::DiskStore`]. Every field has a documented default, so a
/// config file may name only the fields it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Segment append backend. Default: `auto`.
    pub io_backend: IoBackend,
    /// A segment file is closed and a new one started once the next record would take it
    /// past this size. A single record larger than this gets a segment of its own.
    /// Default: 256 MiB.
    pub segment_bytes_max: u64,
    /// How many of the newest committed blocks `open` re-reads and checks (record present,
    /// crc, decodes, hash matches the index). Default: 16.
    pub verify_tail_blocks: u64,
    /// How many of the newest blocks are kept in memory for reads. Default: 64.
    pub recent_blocks_cached: usize,
    /// Bound on the in-memory account and storage-slot cache in front of RocksDB that
    /// serves `StateReader::account` and `StateReader::storage` (admission, execution,
    /// `eth_call`); absent accounts and zero slots are cached too. Written through at every
    /// commit, so it is exact (spec/durability.md §2.1). Each entry is accounted as
    /// [`crate::STATE_CACHE_ENTRY_BYTES`]; 0 (or less than one entry per shard) disables
    /// it. Per store, so per group. Default: 256 MiB.
    pub state_cache_bytes: usize,
    /// RocksDB memtable size per column family. Default: 64 MiB.
    pub rocksdb_write_buffer_bytes: usize,
    /// RocksDB block cache shared by all column families. Default: 256 MiB.
    pub rocksdb_block_cache_bytes: usize,
    /// RocksDB open-file limit (-1: unlimited). Default: 1024.
    pub rocksdb_max_open_files: i32,
    /// fsync the RocksDB WAL on every block commit. With `false` a power loss may drop the
    /// newest committed blocks' state (their segment records are then truncated at the next
    /// open, spec/durability.md DUR-R3). Default: true.
    pub sync_state_writes: bool,
}

pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 256 * 1024 * 1024;
pub const VERIFY_TAIL_BLOCKS_DEFAULT: u64 = 16;
pub const RECENT_BLOCKS_CACHED_DEFAULT: usize = 64;
pub const STATE_CACHE_BYTES_DEFAULT: usize = 256 * 1024 * 1024;
pub const ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT: usize = 64 * 1024 * 1024;
pub const ROCKSDB_BLOCK_CACHE_BYTES_DEFAULT: usize = 256 * 1024 * 1024;
pub const ROCKSDB_MAX_OPEN_FILES_DEFAULT: i32 = 1024;

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            io_backend: IoBackend::Auto,
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
            verify_tail_blocks: VERIFY_TAIL_BLOCKS_DEFAULT,
            recent_blocks_cached: RECENT_BLOCKS_CACHED_DEFAULT,
            state_cache_bytes: STATE_CACHE_BYTES_DEFAULT,
            rocksdb_write_buffer_bytes: ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT,
            rocksdb_block_cache_bytes: ROCKSDB_BLOCK_CACHE_BYTES_DEFAULT,
            rocksdb_max_open_files: ROCKSDB_MAX_OPEN_FILES_DEFAULT,
            sync_state_writes: true,
        }
    }
}
