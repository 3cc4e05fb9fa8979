//! bcos-crypto: transaction sender recovery (single, batched and cached), dev-account key
//! derivation and signing helpers, and BLS (blst) consensus votes with aggregate commit
//! certificates and a vote cache (`bls`, spec/pbft.md).
//!
//! Implements the signature rules of transaction admission (DESIGN.md, "Transactions": a
//! sender is recovered with secp256k1 once, at pool admission), with EIP-2 low-`s` and
//! EIP-155 / EIP-2718 signature hashes.
//!
//! # Design choices
//!
//! - **libsecp256k1, not pure Rust.** Sender recovery is ~93 % of the CPU cost of admitting a
//!   plain transfer. Through the `secp256k1` crate (version 0.31, the one revm already links,
//!   so there is one copy of the C library) an ecrecover costs about 40 µs on this machine's
//!   cores against about 73 µs for k256 (shared/reference/machine-limits.md, row 1): 1.9x.
//! - **Batches on a rayon pool.** Recovery is independent per transaction and scales 2.0x
//!   over 2 cores (row 7), so [`BatchRecoverer`] fans a batch out over its own pool (sized
//!   by [`BatchConfig::thread_count`], default all cores) and keeps tiny batches inline.
//! - **A cache by tx hash.** The hash covers the signature, so it determines the sender. The
//!   same transaction reaches a node several times (client submit, peer re-broadcast, inside
//!   a proposal); [`SenderCache`] makes every arrival after the first a ~100 ns lookup instead
//!   of a 40 µs recovery. It is bounded ([`SenderCacheConfig::capacity_entries`]) and sharded.
//!
//! # Model checking the cache with loom
//!
//! The cache's locking goes through a small `sync` shim that swaps in `loom`'s types under
//! `cfg(loom)`. Run the model (a separate target dir keeps the `--cfg loom` build from
//! invalidating the shared one):
//!
//! ```text
//! CARGO_TARGET_DIR=/var/cache/bcos-target-loom RUSTFLAGS="--cfg loom" \
//!     cargo test --release -p bcos-crypto --test loom_sender_cache
//! ```

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod bls;
pub mod keys;
pub mod recover;
pub mod sender_cache;
pub mod sign;
mod sync;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod testing;

pub use batch::{BatchConfig, BatchError, BatchRecoverer, RecoverStats};
pub use keys::{address_of, dev_keys, dev_keys_with_passphrase, KeyError, TEST_MNEMONIC};
pub use recover::{is_high_s, recover_address, recover_sender};
pub use secp256k1::SecretKey;
pub use sender_cache::{Lookup, SenderCache, SenderCacheConfig};
pub use sign::{sign_prehash, sign_tx};
