//! Block execution: fees, chaining, rejected versus failed transactions, diffs.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use bcos_execution::{ExecConfig, Executor};
use bcos_types::state::next_state_root;
use bcos_types::{Account, KECCAK_EMPTY};
use common::*;

fn executor() -> Executor {
    Executor::new(ExecConfig {
        chain_id: CHAIN_ID,
        ..Default::default()
    })
}

#[test]
fn eth_transfer_moves_balance_bumps_nonce_and_pays_fees() {
    let alice = key(1);
    let a = address_of(&alice);
    let b = Address::repeat_byte(0xb0);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let env = env(1);
    let tx = tx1559(&alice, 0, TxKind::Call(b), ether(1), vec![], 21_000);

    let out = executor().execute_block(&state, &env, &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    assert!(out.rejected.is_empty());
    assert_eq!(out.gas_used, 21_000);
    assert_eq!(out.receipts.len(), 1);
    assert!(out.receipts[0].success);
    assert_eq!(out.receipts[0].cumulative_gas_used, 21_000);
    assert_eq!(out.receipts[0].tx_type, 2);

    // Effective price = base fee + tip = 2 gwei; the base fee is burnt, the tip goes to the
    // beneficiary.
    let mut after = state.clone();
    after.apply(&out.diff);
    let fee = U256::from(21_000u64) * U256::from(2 * GWEI);
    assert_eq!(after.balance(&a), ether(10) - ether(1) - fee);
    assert_eq!(after.nonce(&a), 1);
    assert_eq!(after.balance(&b), ether(1));
    assert_eq!(
        after.balance(&env.beneficiary),
        U256::from(21_000u64) * U256::from(GWEI)
    );
    assert_eq!(out.diff.accounts.len(), 3);
    assert!(out.diff.storage.is_empty() && out.diff.codes.is_empty());
}

#[test]
fn transactions_in_a_block_see_each_other() {
    let alice = key(1);
    let bob = key(2);
    let (a, b) = (address_of(&alice), address_of(&bob));
    let state = TestState::with_balances(&[(a, ether(10))]);
    // Bob is funded by tx 0 and spends in tx 2; Alice's nonces run 0, 1.
    let txs = vec![
        tx1559(&alice, 0, TxKind::Call(b), ether(2), vec![], 21_000),
        tx1559(&alice, 1, TxKind::Call(b), ether(1), vec![], 21_000),
        legacy(&bob, 0, a, ether(1), 2 * GWEI),
    ];
    let out = executor().execute_block(&state, &env(1), &txs).unwrap();
    assert_eq!(out.included, vec![0, 1, 2]);
    assert_eq!(
        out.receipts
            .iter()
            .map(|r| r.cumulative_gas_used)
            .collect::<Vec<_>>(),
        vec![21_000, 42_000, 63_000]
    );
    let mut after = state.clone();
    after.apply(&out.diff);
    assert_eq!(after.nonce(&a), 2);
    assert_eq!(after.nonce(&b), 1);
    let fee = U256::from(21_000u64) * U256::from(2 * GWEI);
    assert_eq!(after.balance(&b), ether(2) - fee);
}

#[test]
fn invalid_transactions_are_rejected_and_change_nothing() {
    let alice = key(1);
    let poor = key(3);
    let a = address_of(&alice);
    let p = address_of(&poor);
    let state = TestState::with_balances(&[(a, ether(10)), (p, U256::from(1_000u64))]);
    let to = Address::repeat_byte(0xb0);
    let txs = vec![
        tx1559(&alice, 5, TxKind::Call(to), ether(1), vec![], 21_000), // nonce gap
        tx1559(&poor, 0, TxKind::Call(to), U256::from(1u64), vec![], 21_000), // cannot pay gas
        tx1559(&alice, 0, TxKind::Call(to), ether(11), vec![], 21_000), // value over balance
    ];
    let out = executor().execute_block(&state, &env(1), &txs).unwrap();
    assert!(out.included.is_empty());
    assert!(out.receipts.is_empty());
    assert_eq!(
        out.rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(
        out.rejected[0].1.to_lowercase().contains("nonce"),
        "{}",
        out.rejected[0].1
    );
    assert!(
        out.rejected[1].1.to_lowercase().contains("fund"),
        "{}",
        out.rejected[1].1
    );
    assert!(out.diff.is_empty());
    assert_eq!(out.gas_used, 0);
}

#[test]
fn a_rejected_transaction_does_not_disturb_its_neighbours() {
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let to = Address::repeat_byte(0xb0);
    let txs = vec![
        tx1559(&alice, 0, TxKind::Call(to), ether(1), vec![], 21_000),
        tx1559(&alice, 0, TxKind::Call(to), ether(1), vec![], 21_000), // replayed nonce
        tx1559(&alice, 1, TxKind::Call(to), ether(1), vec![], 21_000),
    ];
    let out = executor().execute_block(&state, &env(1), &txs).unwrap();
    assert_eq!(out.included, vec![0, 2]);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].0, 1);
    let mut after = state.clone();
    after.apply(&out.diff);
    assert_eq!(after.balance(&to), ether(2));
}

#[test]
fn block_gas_limit_rejects_what_does_not_fit() {
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let to = Address::repeat_byte(0xb0);
    let mut env = env(1);
    env.gas_limit = 50_000;
    let txs = vec![
        tx1559(
            &alice,
            0,
            TxKind::Call(to),
            U256::from(1u64),
            vec![],
            21_000,
        ),
        tx1559(
            &alice,
            1,
            TxKind::Call(to),
            U256::from(1u64),
            vec![],
            30_000,
        ), // 51,000 > 50,000
        tx1559(
            &alice,
            1,
            TxKind::Call(to),
            U256::from(1u64),
            vec![],
            21_000,
        ), // fits
    ];
    let out = executor().execute_block(&state, &env, &txs).unwrap();
    assert_eq!(out.included, vec![0, 2]);
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0].1.contains("remaining block gas"));
}

#[test]
fn wrong_chain_id_is_rejected() {
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let tx = tx1559(&alice, 0, TxKind::Call(a), U256::ZERO, vec![], 21_000);
    let other = Executor::new(ExecConfig {
        chain_id: CHAIN_ID + 1,
        ..Default::default()
    });
    let out = other.execute_block(&state, &env(1), &[tx]).unwrap();
    assert!(out.included.is_empty());
    assert_eq!(out.rejected.len(), 1);
}

/// Deploys the logger contract in block 1; returns the state after it and its address.
fn deploy_logger(exec: &Executor) -> (TestState, Address) {
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let runtime = logger_runtime();
    let tx = tx1559(
        &alice,
        0,
        TxKind::Create,
        U256::ZERO,
        deployer(&runtime),
        1_000_000,
    );
    let out = exec.execute_block(&state, &env(1), &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    assert!(out.receipts[0].success);
    let contract = a.create(0);
    let code_hash = keccak256(&runtime);
    assert_eq!(
        out.diff.accounts[&contract],
        Some(Account {
            nonce: 1,
            balance: U256::ZERO,
            code_hash
        })
    );
    assert_eq!(out.diff.codes[&code_hash], Bytes::from(runtime));
    // A fresh address had no storage to wipe.
    assert!(out.diff.wiped_storage.is_empty());
    let mut after = state;
    after.apply(&out.diff);
    (after, contract)
}

#[test]
fn deployed_contract_stores_and_logs() {
    let exec = executor();
    let (state, contract) = deploy_logger(&exec);
    let alice = key(1);
    let word = [0x42u8; 32];
    let tx = tx1559(
        &alice,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        word.to_vec(),
        100_000,
    );
    let out = exec.execute_block(&state, &env(2), &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    let r = &out.receipts[0];
    assert!(r.success);
    assert_eq!(r.logs.len(), 1);
    assert_eq!(r.logs[0].address, contract);
    assert_eq!(r.logs[0].data.topics(), &[B256::from(TOPIC)]);
    assert_eq!(r.logs[0].data.data.as_ref(), &word);
    assert!(r
        .bloom()
        .contains_input(alloy_primitives::BloomInput::Raw(contract.as_slice())));
    assert_eq!(
        out.diff.storage[&contract][&U256::ZERO],
        U256::from_be_bytes(word)
    );
    // The contract account itself did not change (calls do not touch its fields).
    assert!(!out.diff.accounts.contains_key(&contract));
}

#[test]
fn reverting_transaction_is_included_failed_and_charged() {
    let exec = executor();
    let (state, contract) = deploy_logger(&exec);
    let alice = key(1);
    let a = address_of(&alice);
    let tx = tx1559(
        &alice,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        vec![],
        100_000,
    );
    let out = exec.execute_block(&state, &env(2), &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    let r = &out.receipts[0];
    assert!(!r.success);
    assert!(r.logs.is_empty());
    assert!(out.gas_used > 21_000);
    let mut after = state.clone();
    after.apply(&out.diff);
    assert_eq!(after.nonce(&a), 2);
    let fee = U256::from(out.gas_used) * U256::from(2 * GWEI);
    assert_eq!(after.balance(&a), state.balance(&a) - fee);
    assert!(out.diff.storage.is_empty());
}

#[test]
fn same_block_twice_gives_the_same_diff_and_root() {
    let exec = executor();
    let (state, contract) = deploy_logger(&exec);
    let alice = key(1);
    let txs = vec![
        tx1559(
            &alice,
            1,
            TxKind::Call(contract),
            U256::from(5u64),
            vec![7u8; 32],
            100_000,
        ),
        tx1559(
            &alice,
            2,
            TxKind::Call(Address::repeat_byte(9)),
            ether(1),
            vec![],
            21_000,
        ),
        tx1559(
            &alice,
            3,
            TxKind::Call(contract),
            U256::ZERO,
            vec![],
            100_000,
        ),
    ];
    let first = exec.execute_block(&state, &env(2), &txs).unwrap();
    let second = executor().execute_block(&state, &env(2), &txs).unwrap();
    assert_eq!(first, second);
    let parent = B256::repeat_byte(3);
    assert_eq!(
        next_state_root(&parent, 2, &first.diff),
        next_state_root(&parent, 2, &second.diff)
    );
    assert_eq!(first.included, vec![0, 1, 2]);
}

#[test]
fn slot_restored_within_the_block_is_not_in_the_diff() {
    let exec = executor();
    let (mut state, contract) = deploy_logger(&exec);
    let alice = key(1);
    let original = [0x11u8; 32];
    state
        .storage
        .insert((contract, U256::ZERO), U256::from_be_bytes(original));
    let txs = vec![
        tx1559(
            &alice,
            1,
            TxKind::Call(contract),
            U256::ZERO,
            vec![0x22; 32],
            100_000,
        ),
        tx1559(
            &alice,
            2,
            TxKind::Call(contract),
            U256::ZERO,
            original.to_vec(),
            100_000,
        ),
    ];
    let out = exec.execute_block(&state, &env(2), &txs).unwrap();
    assert_eq!(out.included, vec![0, 1]);
    assert!(out.receipts.iter().all(|r| r.success));
    assert!(out.diff.storage.is_empty(), "{:?}", out.diff.storage);
}

#[test]
fn zero_value_transfer_to_nowhere_creates_no_account() {
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let nowhere = Address::repeat_byte(0x77);
    let tx = tx1559(&alice, 0, TxKind::Call(nowhere), U256::ZERO, vec![], 21_000);
    let out = executor().execute_block(&state, &env(1), &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    assert!(
        !out.diff.accounts.contains_key(&nowhere),
        "EIP-161: touched empty account"
    );
    assert_ne!(KECCAK_EMPTY, B256::ZERO);
}

#[test]
fn contract_destroyed_in_its_creating_transaction_is_deleted_and_wiped() {
    let alice = key(1);
    let a = address_of(&alice);
    let doomed = a.create(0);
    // The address already holds a balance (sent before deployment), so it exists pre-block.
    let state = TestState::with_balances(&[(a, ether(10)), (doomed, U256::from(5u64))]);
    // init code: selfdestruct(caller)
    let tx = tx1559(
        &alice,
        0,
        TxKind::Create,
        U256::from(3u64),
        vec![0x33, 0xff],
        100_000,
    );
    let out = executor().execute_block(&state, &env(1), &[tx]).unwrap();
    assert_eq!(out.included, vec![0]);
    assert!(out.receipts[0].success);
    assert_eq!(out.diff.accounts[&doomed], None);
    assert!(out.diff.wiped_storage.contains(&doomed));
    let mut after = state.clone();
    after.apply(&out.diff);
    let fee = U256::from(out.gas_used) * U256::from(2 * GWEI);
    // The 5 wei already there and the 3 wei endowment both went back to Alice.
    assert_eq!(after.balance(&a), ether(10) - fee + U256::from(5u64));
}
