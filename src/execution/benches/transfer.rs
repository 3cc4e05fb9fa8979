//! Block execution speed for plain ETH transfers (prints µs per transaction; asserts nothing
//! about time). Run: `cargo bench -p bcos-execution --bench transfer`.

#[path = "../tests/common/mod.rs"]
mod common;

use alloy_primitives::{Address, TxKind, U256};
use bcos_execution::{ExecConfig, Executor};
use common::*;
use std::time::Instant;

const SENDERS: usize = 1_000;
const TXS_PER_SENDER: u64 = 5;

fn main() {
    let keys: Vec<_> = (0..SENDERS)
        .map(|i| secp256k1::SecretKey::from_byte_array(seed(i)).expect("key"))
        .collect();
    let alloc: Vec<_> = keys.iter().map(|k| (address_of(k), ether(100))).collect();
    let state = TestState::with_balances(&alloc);
    let mut txs = Vec::new();
    for nonce in 0..TXS_PER_SENDER {
        for (i, k) in keys.iter().enumerate() {
            let to = Address::with_last_byte((i % 251) as u8);
            txs.push(tx1559(k, nonce, TxKind::Call(to), U256::from(1u64), vec![], 21_000));
        }
    }
    let exec = Executor::new(ExecConfig { chain_id: CHAIN_ID, ..Default::default() });
    let mut env = env(1);
    env.gas_limit = 21_000 * txs.len() as u64;
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        let out = exec.execute_block(&state, &env, &txs).expect("block");
        let per_tx = start.elapsed().as_secs_f64() * 1e6 / txs.len() as f64;
        assert_eq!(out.included.len(), txs.len());
        best = best.min(per_tx);
    }
    println!("execute_block: {} transfers, best of 7: {best:.2} us/tx", txs.len());
}

fn seed(i: usize) -> [u8; 32] {
    let mut s = [7u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}
