//! Block execution on revm through `bcos_execution::Executor::execute_block`, over a
//! `MemStore` holding the committed state: a block of plain ETH transfers and a block of
//! ERC20 `transfer` calls to a hand-assembled token (`bcos_benches::token`). One distinct
//! sender per transaction, each paying the next sender, so every account read is a first
//! (cold) read, as in a block of unrelated users. Throughput is per transaction.
//!
//! `eth_transfer` applies the transfers without revm's interpreter (spec/execution.md
//! EXEC-R21, the node's default); `eth_transfer_revm` runs the same block through revm.
//! Issue 15's goal: native transfers serial at least 300k/s on one core.
//!
//! Expected: revm alone does ~1.06 µs per transfer and ~3.2 µs per ERC20 transfer from an
//! in-memory CacheDB (shared/reference/machine-limits.md row 5); the executor adds its state
//! reads through the `StateReader` and the diff it builds. (Replaces the former
//! `bcos-execution` bench `transfer`.)

use alloy_primitives::{Address, U256};
use bcos_benches::chain::{block_env, executed_whole, funded, mem_store, recovered, token_store};
use bcos_benches::token::transfer_input;
use bcos_benches::{accounts, eip1559, quick};
use bcos_execution::{ExecConfig, Executor};
use bcos_storage::MemStore;
use bcos_types::RecoveredTx;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

const BLOCK_TXS: usize = 1000;
const TOKEN: Address = Address::repeat_byte(0x70);
/// Gas per ERC20 call: ~21.1 k intrinsic + two cold slots + one log, with room to spare.
const ERC20_GAS: u64 = 100_000;

fn run(c: &mut Criterion, name: &str, store: &MemStore, txs: &[RecoveredTx], gas_each: u64) {
    run_with(c, name, store, txs, gas_each, ExecConfig::default());
}

fn run_with(
    c: &mut Criterion,
    name: &str,
    store: &MemStore,
    txs: &[RecoveredTx],
    gas_each: u64,
    config: ExecConfig,
) {
    let exec = Executor::new(config);
    let env = block_env(1, gas_each * txs.len() as u64);
    // The block must be what it claims before it is timed: all in, all succeeded.
    executed_whole(&exec, store, &env, txs, name);
    eprintln!(
        "{name}: {} of {} applied without revm (EXEC-R21)",
        exec.direct_transfers(),
        txs.len()
    );

    let mut g = c.benchmark_group("evm");
    g.throughput(Throughput::Elements(txs.len() as u64));
    g.bench_function(BenchmarkId::new(name, txs.len()), |b| {
        // Nothing is written back, so each iteration executes the same block on block 0's state.
        b.iter(|| {
            black_box(
                exec.execute_block(store, &env, txs)
                    .expect("block executes"),
            )
        })
    });
    g.finish();
}

fn evm(c: &mut Criterion) {
    let (keys, addrs) = accounts(BLOCK_TXS);
    let recovered =
        |make: &dyn Fn(usize) -> std::sync::Arc<bcos_types::Tx>| recovered(&addrs, make);
    let next = |i: usize| addrs[(i + 1) % BLOCK_TXS];

    let store = mem_store(funded(&addrs));
    let transfers =
        recovered(&|i| eip1559(&keys[i], 0, next(i), U256::from(1u64), Vec::new(), 21_000));
    run(c, "eth_transfer", &store, &transfers, 21_000);
    // The same block with every transfer through revm (EXEC-R21 off): the direct path's gain.
    let through_revm = ExecConfig {
        direct_transfers: false,
        ..ExecConfig::default()
    };
    run_with(
        c,
        "eth_transfer_revm",
        &store,
        &transfers,
        21_000,
        through_revm,
    );

    let store = token_store(&addrs, TOKEN);
    let calls = recovered(&|i| {
        eip1559(
            &keys[i],
            0,
            TOKEN,
            U256::ZERO,
            transfer_input(&next(i), U256::from(5u64)),
            ERC20_GAS,
        )
    });
    run(c, "erc20_transfer", &store, &calls, ERC20_GAS);
}

criterion_group! { name = benches; config = quick(); targets = evm }
bcos_benches::bench_main!(benches);
