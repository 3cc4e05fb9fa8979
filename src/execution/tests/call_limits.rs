//! EXEC-R12: every eth_call / eth_estimateGas is bounded in gas and in wall-clock time, and
//! caller-supplied fee fields cannot overflow.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, Bytes, U256};
use bcos_execution::{CallLimits, EvmSpec, ExecConfig, ExecError, Executor};
use bcos_types::{CallOutcome, CallRequest};
use common::*;
use std::time::Duration;

/// Init code that never ends: `JUMPDEST PUSH1 0 JUMP`.
fn endless_loop() -> CallRequest {
    CallRequest {
        from: Some(Address::repeat_byte(0x55)),
        input: Bytes::from(vec![0x5b, 0x60, 0x00, 0x56]),
        ..Default::default()
    }
}

fn executor(spec: EvmSpec) -> Executor {
    Executor::new(ExecConfig {
        chain_id: CHAIN_ID,
        spec,
        ..Default::default()
    })
}

/// Regression (issue 10, item 11): eth_call had no time limit. A deadline that has passed
/// stops the loop at its first step with a timeout, not after burning all its gas.
#[test]
fn a_call_past_its_deadline_is_aborted_with_a_timeout() {
    let exec = executor(EvmSpec::Osaka);
    let state = TestState::default();
    let limits = CallLimits {
        gas_max: 10_000_000,
        timeout: Duration::ZERO,
    };
    match exec.call(&state, &env(1), &endless_loop(), &limits) {
        Err(e @ ExecError::Timeout(_)) => {
            assert_eq!(e.to_string(), "execution aborted (timeout = 0 ms)")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // One clock for the whole estimateGas search.
    assert!(matches!(
        exec.estimate_gas(&state, &env(1), &endless_loop(), &limits),
        Err(ExecError::Timeout(_))
    ));
}

/// Regression (issue 10, item 11): a call's gas was capped only by the block gas limit
/// (300 M on the node). `gas_max` caps it below, whatever the request asks.
#[test]
fn call_gas_is_capped_by_the_limit_not_only_the_block() {
    // Cancun has no per-transaction cap (EIP-7825 came with Osaka).
    let exec = executor(EvmSpec::Cancun);
    let state = TestState::default();
    let limits = CallLimits {
        gas_max: 1_000_000,
        timeout: Duration::from_secs(60),
    };
    for asked in [None, Some(u64::MAX), Some(20_000_000)] {
        let request = CallRequest {
            gas: asked,
            ..endless_loop()
        };
        match exec.call(&state, &env(1), &request, &limits).unwrap() {
            CallOutcome::Halt { reason, gas_used } => {
                assert_eq!(reason, "out of gas");
                assert_eq!(gas_used, 1_000_000, "asked {asked:?}");
            }
            other => panic!("expected out of gas, got {other:?}"),
        }
    }
    // estimateGas searches below the same cap: the loop fails at its highest allowed gas.
    match exec
        .estimate_gas(&state, &env(1), &endless_loop(), &limits)
        .unwrap()
    {
        Err(CallOutcome::Halt { gas_used, .. }) => assert_eq!(gas_used, 1_000_000),
        other => panic!("expected a failing outcome, got {other:?}"),
    }
}

/// A tip alone means `maxFeePerGas = base fee + tip`; a tip near 2^128 must be refused, not
/// wrapped into a tiny fee (or a panic with overflow checks on).
#[test]
fn a_tip_that_overflows_the_fee_is_an_invalid_call() {
    let exec = executor(EvmSpec::Osaka);
    let state = TestState::with_balances(&[(Address::repeat_byte(0x55), ether(1))]);
    let request = CallRequest {
        max_priority_fee_per_gas: Some(u128::MAX),
        to: Some(Address::repeat_byte(0x66)),
        value: Some(U256::from(1)),
        ..endless_loop()
    };
    match exec.call(&state, &env(1), &request, &CallLimits::default()) {
        Err(ExecError::InvalidCall(m)) => assert!(m.contains("overflows"), "{m}"),
        other => panic!("expected an invalid call, got {other:?}"),
    }
}
