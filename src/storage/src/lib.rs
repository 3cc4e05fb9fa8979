//! Storage: the traits the node and the executor program against, an in-memory store for
//! tests and models, and the durable store (RocksDB for state and indexes, block segment
//! files appended through io_uring with a std::fs fallback).
//!
//! Implements spec/durability.md: the commit checks (DUR-0), the commit order (DUR-1 ...
//! DUR-3: block durable, then state, then the head published), what is durable before a
//! receipt is visible, the state cache kept exact across commits (DUR-C1 ... DUR-C4), and
//! recovery after a crash (DUR-R1 ... DUR-R7). [`CachedStore`] puts the same state cache in
//! front of any other store (the simulator's).

mod cache;
mod cached_store;
pub mod config;
mod disk;
mod io_backend;
pub mod mem;
mod pending;
mod recovery;
pub mod rocks;
mod rules;
pub mod segment;
mod state_cache;
pub mod traits;

pub use cached_store::CachedStore;
pub use config::{IoBackend, StorageConfig};
pub use disk::{DiskStore, BLOCKS_DIR, STATE_DIR};
pub use mem::MemStore;
pub use pending::PendingState;
pub use state_cache::{StateCacheStats, SHARDS as STATE_CACHE_SHARDS, STATE_CACHE_ENTRY_BYTES};
pub use traits::{BlockCommit, ChainStore, StateReader, StorageError, TxLocation};
