//! Parallel execution within a block (spec/execution.md §3.6, EXEC-R17..R20) against the
//! serial `Executor::execute_block`, over a `MemStore` holding the committed state, on four
//! blocks of 1000 transactions, one sender each:
//!
//! - `eth_transfer`: plain transfers, each to its own fresh payee. They are applied without
//!   revm (EXEC-R21) and never speculated, so the block runs serially on either path
//!   (EXEC-R20): the pair shows the scheduler costs nothing there. (With EXEC-R21 off they
//!   would all be speculated: nothing conflicts but the beneficiary's fees, credited blind,
//!   EXEC-R19);
//! - `erc20_transfer`: token transfers to fresh payees (distinct balance slots);
//! - `hot_payee`: plain transfers all to one merchant (every transfer reads the balance the
//!   previous one wrote; the pre-scan of EXEC-R20 runs the block serially);
//! - `hot_erc20`: token transfers all to one merchant (one hot balance slot; the pre-scan
//!   of EXEC-R20 sees one contract called with the same first argument and runs the block
//!   serially).
//!
//! `serial` is `execute_block`; `parallel_N` is `execute_block_parallel` with N threads (the
//! committing one included). Throughput is per transaction. Goals (issue 15): parallel at
//! least 1.8x serial on 2 cores at low contention; the hot blocks at least 0.9x serial.
//! Each block's `ParallelStats` (how many transactions came from speculation) is printed
//! once, before it is timed.

use alloy_primitives::{Address, U256};
use bcos_benches::chain::{
    block_env, fresh_payee, funded, mem_store, parallel_checked, recovered, token_store,
};
use bcos_benches::token::transfer_input;
use bcos_benches::{accounts, eip1559, quick};
use bcos_execution::{ExecConfig, Executor};
use bcos_storage::MemStore;
use bcos_types::RecoveredTx;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

const BLOCK_TXS: usize = 1000;
const TOKEN: Address = Address::repeat_byte(0x70);
const MERCHANT: Address = Address::repeat_byte(0x4d);
/// Gas per ERC20 call: ~21.1 k intrinsic + two slots (one fresh) + one log, with room.
const ERC20_GAS: u64 = 100_000;
const THREADS: usize = 2;

fn run(c: &mut Criterion, name: &str, store: &MemStore, txs: &[RecoveredTx], gas_each: u64) {
    let exec = Executor::new(ExecConfig::default());
    let env = block_env(1, gas_each * txs.len() as u64);
    let (_, stats) = parallel_checked(&exec, store, &env, txs, name, THREADS);
    eprintln!("{name}: parallel_{THREADS} {stats:?}");

    let mut g = c.benchmark_group("evm_parallel");
    g.throughput(Throughput::Elements(txs.len() as u64));
    // Nothing is written back, so each iteration executes the same block on block 0's state.
    g.bench_function(BenchmarkId::new(format!("{name}/serial"), txs.len()), |b| {
        b.iter(|| {
            black_box(
                exec.execute_block(store, &env, txs)
                    .expect("block executes"),
            )
        })
    });
    g.bench_function(
        BenchmarkId::new(format!("{name}/parallel_{THREADS}"), txs.len()),
        |b| {
            b.iter(|| {
                black_box(
                    exec.execute_block_parallel(store, &env, txs, THREADS)
                        .expect("block executes"),
                )
            })
        },
    );
    g.finish();
}

fn evm_parallel(c: &mut Criterion) {
    let (keys, addrs) = accounts(BLOCK_TXS);
    let recovered =
        |make: &dyn Fn(usize) -> std::sync::Arc<bcos_types::Tx>| recovered(&addrs, make);
    let transfer = |to: &dyn Fn(usize) -> Address| {
        recovered(&|i| eip1559(&keys[i], 0, to(i), U256::from(1u64), Vec::new(), 21_000))
    };
    let token_transfer = |to: &dyn Fn(usize) -> Address| {
        recovered(&|i| {
            let input = transfer_input(&to(i), U256::from(5u64));
            eip1559(&keys[i], 0, TOKEN, U256::ZERO, input, ERC20_GAS)
        })
    };

    let store = mem_store(funded(&addrs));
    run(c, "eth_transfer", &store, &transfer(&fresh_payee), 21_000);
    run(c, "hot_payee", &store, &transfer(&|_| MERCHANT), 21_000);

    let store = token_store(&addrs, TOKEN);
    run(
        c,
        "erc20_transfer",
        &store,
        &token_transfer(&fresh_payee),
        ERC20_GAS,
    );
    run(
        c,
        "hot_erc20",
        &store,
        &token_transfer(&|_| MERCHANT),
        ERC20_GAS,
    );
}

criterion_group! { name = benches; config = quick(); targets = evm_parallel }
bcos_benches::bench_main!(benches);
