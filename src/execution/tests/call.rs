//! eth_call and eth_estimateGas.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use bcos_execution::{CallLimits, ExecConfig, ExecError, Executor};
use bcos_types::{CallOutcome, CallRequest};
use common::*;

fn executor() -> Executor {
    Executor::new(ExecConfig {
        chain_id: CHAIN_ID,
        ..Default::default()
    })
}

fn with_logger() -> (Executor, TestState, Address) {
    let exec = executor();
    let alice = key(1);
    let a = address_of(&alice);
    let state = TestState::with_balances(&[(a, ether(10))]);
    let tx = tx1559(
        &alice,
        0,
        TxKind::Create,
        U256::ZERO,
        deployer(&logger_runtime()),
        1_000_000,
    );
    let out = exec.execute_block(&state, &env(1), &[tx]).unwrap();
    assert!(out.receipts[0].success);
    let mut after = state;
    after.apply(&out.diff);
    (exec, after, a.create(0))
}

#[test]
fn call_returns_revert_data_and_commits_nothing() {
    let (exec, state, contract) = with_logger();
    let req = CallRequest {
        to: Some(contract),
        ..Default::default()
    };
    match exec
        .call(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
    {
        CallOutcome::Revert { output, gas_used } => {
            assert_eq!(output, Bytes::from(nope_revert_data()));
            assert!(gas_used > 21_000);
        }
        other => panic!("expected a revert, got {other:?}"),
    }
}

#[test]
fn call_from_an_unfunded_account_without_fee_succeeds_and_logs() {
    let (exec, state, contract) = with_logger();
    let req = CallRequest {
        from: Some(Address::repeat_byte(0x55)),
        to: Some(contract),
        input: Bytes::from(vec![1u8; 32]),
        // a nonce that would be wrong for a transaction: calls skip the check
        nonce: Some(9),
        ..Default::default()
    };
    match exec
        .call(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
    {
        CallOutcome::Success {
            logs,
            gas_used,
            output,
        } => {
            assert_eq!(logs.len(), 1);
            assert_eq!(logs[0].address, contract);
            assert!(output.is_empty());
            assert!(gas_used > 21_000);
        }
        other => panic!("expected success, got {other:?}"),
    }
    // The call wrote slot 0 only in its own overlay.
    assert!(!state.storage.contains_key(&(contract, U256::ZERO)));
}

#[test]
fn call_with_a_fee_the_sender_cannot_pay_is_invalid() {
    let (exec, state, contract) = with_logger();
    let req = CallRequest {
        from: Some(Address::repeat_byte(0x55)),
        to: Some(contract),
        gas_price: Some(2 * GWEI),
        input: Bytes::from(vec![1u8; 32]),
        ..Default::default()
    };
    assert!(matches!(
        exec.call(&state, &env(2), &req, &CallLimits::default()),
        Err(ExecError::InvalidCall(_))
    ));
}

#[test]
fn call_can_run_from_a_contract_address() {
    let (exec, state, contract) = with_logger();
    let req = CallRequest {
        from: Some(contract),
        to: Some(contract),
        input: Bytes::from(vec![2u8; 32]),
        ..Default::default()
    };
    assert!(exec
        .call(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
        .is_success());
}

#[test]
fn estimate_of_a_transfer_is_21000() {
    let exec = executor();
    let a = address_of(&key(1));
    let state = TestState::with_balances(&[(a, ether(10))]);
    let req = CallRequest {
        from: Some(a),
        to: Some(Address::repeat_byte(7)),
        value: Some(ether(1)),
        ..Default::default()
    };
    assert_eq!(
        exec.estimate_gas(&state, &env(1), &req, &CallLimits::default())
            .unwrap(),
        Ok(21_000)
    );
}

#[test]
fn estimate_is_the_least_gas_that_succeeds() {
    let (exec, state, contract) = with_logger();
    let a = address_of(&key(1));
    let req = CallRequest {
        from: Some(a),
        to: Some(contract),
        input: Bytes::from(vec![3u8; 32]),
        ..Default::default()
    };
    let estimate = exec
        .estimate_gas(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
        .unwrap();
    let at = |gas: u64| {
        exec.call(
            &state,
            &env(2),
            &CallRequest {
                gas: Some(gas),
                ..req.clone()
            },
            &CallLimits::default(),
        )
        .unwrap()
    };
    assert!(at(estimate).is_success());
    assert!(!at(estimate - 1).is_success());
    assert_eq!(at(estimate).gas_used(), estimate);

    // The estimate holds for a real transaction too.
    let alice = key(1);
    let tx = tx1559(
        &alice,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        vec![3u8; 32],
        estimate,
    );
    let out = exec.execute_block(&state, &env(2), &[tx]).unwrap();
    assert!(out.receipts[0].success);
    let tx = tx1559(
        &alice,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        vec![3u8; 32],
        estimate - 1,
    );
    let out = exec.execute_block(&state, &env(2), &[tx]).unwrap();
    assert!(!out.receipts[0].success);
}

#[test]
fn estimate_of_a_reverting_call_returns_the_revert() {
    let (exec, state, contract) = with_logger();
    let req = CallRequest {
        to: Some(contract),
        ..Default::default()
    };
    match exec
        .estimate_gas(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
    {
        Err(CallOutcome::Revert { output, .. }) => {
            assert_eq!(output, Bytes::from(nope_revert_data()))
        }
        other => panic!("expected a revert, got {other:?}"),
    }
}

#[test]
fn estimate_of_a_deployment_succeeds_with_it() {
    let exec = executor();
    let a = address_of(&key(1));
    let state = TestState::with_balances(&[(a, ether(10))]);
    let init = deployer(&logger_runtime());
    let req = CallRequest {
        from: Some(a),
        input: Bytes::from(init.clone()),
        ..Default::default()
    };
    let estimate = exec
        .estimate_gas(&state, &env(1), &req, &CallLimits::default())
        .unwrap()
        .unwrap();
    let tx = tx1559(
        &key(1),
        0,
        TxKind::Create,
        U256::ZERO,
        init.clone(),
        estimate,
    );
    assert!(exec.execute_block(&state, &env(1), &[tx]).unwrap().receipts[0].success);
    let tx = tx1559(&key(1), 0, TxKind::Create, U256::ZERO, init, estimate - 1);
    let out = exec.execute_block(&state, &env(1), &[tx]).unwrap();
    assert!(out.rejected.len() == 1 || !out.receipts[0].success);
}

#[test]
fn estimate_covers_gas_that_is_refunded_later() {
    let (exec, mut state, contract) = with_logger();
    // Clearing a set slot earns a refund, so the limit needed exceeds the gas finally used.
    state
        .storage
        .insert((contract, U256::ZERO), U256::from(1u64));
    let a = address_of(&key(1));
    let req = CallRequest {
        from: Some(a),
        to: Some(contract),
        input: Bytes::from(vec![0u8; 32]),
        ..Default::default()
    };
    let estimate = exec
        .estimate_gas(&state, &env(2), &req, &CallLimits::default())
        .unwrap()
        .unwrap();
    let at = |gas: u64| {
        exec.call(
            &state,
            &env(2),
            &CallRequest {
                gas: Some(gas),
                ..req.clone()
            },
            &CallLimits::default(),
        )
        .unwrap()
    };
    assert!(at(estimate).is_success());
    assert!(!at(estimate - 1).is_success());
    assert!(estimate > at(estimate).gas_used());
}
