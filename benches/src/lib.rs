//! Fixtures shared by the criterion benches under `benches/benches/` (one file per subject:
//! sender recovery, BLS votes, EVM execution, storage commit, block append, the consensus
//! round, RPC decoding). Benches measure speed; nothing here asserts a wall-clock time.
//!
//! Run all: `CARGO_TARGET_DIR=/var/cache/bcos-target cargo bench -p bcos-benches`; one subject:
//! `... --bench evm`. Results land in `$CARGO_TARGET_DIR/criterion/<group>/<function>/new/`, and
//! each bench binary (through [`bench_main!`], not `criterion_main!`) appends which commit it ran
//! at and when to `criterion/bcos-provenance.jsonl` ([`provenance`]), so a report can tell
//! this commit's results from older ones.
//! The expected per-op costs on the reference machine are in
//! shared/reference/machine-limits.md (rows cited in each bench file).

pub mod chain;
pub mod provenance;
pub mod token;

/// The node's allocator (src/node/src/main.rs), so a bench measures the code as the node runs
/// it: under glibc's malloc the execution benches spent ~18 % of their time faulting in the
/// pages of each block's freshly reserved maps, which jemalloc keeps and reuses.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// For [`bench_main!`], which expands in the bench files.
pub use criterion;

use alloy_consensus::{TxEip1559, TxLegacy};
use alloy_primitives::{Address, TxKind, U256};
use bcos_crypto::{address_of, sign_tx, SecretKey};
use bcos_types::Tx;
use criterion::Criterion;
use std::sync::Arc;
use std::time::Duration;

pub const CHAIN_ID: u64 = 20200;
pub const GWEI: u128 = 1_000_000_000;
/// Base fee of every bench block; transactions offer 2 gwei with a 1 gwei tip.
pub const BASE_FEE: u64 = 1_000_000_000;

/// Criterion settings for every group: few samples and short windows, so the whole suite
/// runs in a few minutes on two shared cores. Criterion's command line still overrides them.
pub fn quick() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
}

/// The `i`-th distinct secp256k1 key (valid for any `i` below 2^64 - 1).
pub fn key(i: usize) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    SecretKey::from_byte_array(seed).expect("a seed this small is a valid key")
}

/// `n` keys and their addresses.
pub fn accounts(n: usize) -> (Vec<SecretKey>, Vec<Address>) {
    let keys: Vec<SecretKey> = (0..n).map(key).collect();
    let addrs = keys.iter().map(address_of).collect();
    (keys, addrs)
}

pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A signed EIP-1559 call (2 gwei max fee, 1 gwei tip).
pub fn eip1559(
    key: &SecretKey,
    nonce: u64,
    to: Address,
    value: U256,
    input: Vec<u8>,
    gas: u64,
) -> Arc<Tx> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(to),
        value,
        input: input.into(),
        access_list: Default::default(),
    };
    Arc::new(Tx::from_envelope(sign_tx(tx, key)))
}

/// A signed EIP-155 legacy transfer at 2 gwei.
pub fn legacy(key: &SecretKey, nonce: u64, to: Address, value: U256) -> Arc<Tx> {
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value,
        input: Default::default(),
    };
    Arc::new(Tx::from_envelope(sign_tx(tx, key)))
}

/// `n` plain transfers, one per sender, alternating legacy and EIP-1559 (the two types
/// wallets send), sender `i` paying sender `i + 1`.
pub fn mixed_transfers(keys: &[SecretKey], addrs: &[Address]) -> Vec<Arc<Tx>> {
    let n = keys.len();
    (0..n)
        .map(|i| {
            let to = addrs[(i + 1) % n];
            if i % 2 == 0 {
                legacy(&keys[i], 0, to, U256::from(1u64))
            } else {
                eip1559(&keys[i], 0, to, U256::from(1u64), Vec::new(), 21_000)
            }
        })
        .collect()
}

/// A fresh temporary directory for a disk store, under `BCOS_BENCH_DIR` when set (default:
/// the system temp dir). It must sit on the disk under test, not tmpfs, for fsyncs to count.
pub fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("BCOS_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory for the store")
}
