//! The contract naming service in the executor (spec/execution.md §7): names owned by their
//! first registrant, immutable versions, `latest`, ownership transfer, the canary route, the
//! name list and its bounds, and the gas a registration pays; reverts carry `cns:` reasons
//! through eth_call and leave nothing but the gas in a block.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{keccak256, Address, TxKind, B256, U256};
use alloy_sol_types::{Revert, SolCall, SolError, SolEvent};
use bcos_execution::cns::{Cns, CNS_WRITE_GAS_PER_WORD};
use bcos_execution::{CallLimits, ExecConfig, Executor, SystemContracts};
use bcos_types::cns::{ICns, CNS_ADDRESS, CNS_LIST_MAX, CNS_VERSION_BYTES_MAX};
use bcos_types::{CallOutcome, CallRequest, Receipt};
use common::*;
use std::sync::Arc;

const V1: Address = Address::repeat_byte(0x11);
const V2: Address = Address::repeat_byte(0x22);

/// A chain with the CNS, two funded accounts and a block counter.
struct Chain {
    exec: Executor,
    state: TestState,
    number: u64,
    nonces: [u64; 3],
}

impl Chain {
    fn new() -> Self {
        Chain {
            exec: Executor::with_system_contracts(
                ExecConfig {
                    chain_id: CHAIN_ID,
                    ..Default::default()
                },
                SystemContracts::new(vec![Arc::new(Cns)]),
            ),
            state: TestState::with_balances(&[
                (address_of(&key(1)), ether(100)),
                (address_of(&key(2)), ether(100)),
            ]),
            number: 0,
            nonces: [0; 3],
        }
    }

    /// Sends `input` to the CNS from account `who` in a block of its own.
    fn send_with_gas(&mut self, who: u8, input: Vec<u8>, gas: u64) -> Receipt {
        let nonce = self.nonces[usize::from(who)];
        self.nonces[usize::from(who)] += 1;
        let tx = tx1559(
            &key(who),
            nonce,
            TxKind::Call(CNS_ADDRESS),
            U256::ZERO,
            input,
            gas,
        );
        self.number += 1;
        let out = self
            .exec
            .execute_block(&self.state, &env(self.number), &[tx])
            .unwrap();
        assert_eq!(out.included, vec![0], "the transaction is included");
        self.state.apply(&out.diff);
        out.receipts.into_iter().next().unwrap()
    }

    fn send(&mut self, who: u8, call: impl SolCall) -> Receipt {
        let input = call.abi_encode();
        // Calldata at the EIP-7623 floor (40 a byte at most), then the contract's own gas.
        let gas = 21_000 + 40 * input.len() as u64 + Cns.gas_of(&input);
        self.send_with_gas(who, input, gas)
    }

    /// eth_call of `call` from account `who`: its return value, or its revert reason.
    fn view<C: SolCall>(&self, who: u8, call: C) -> Result<C::Return, String> {
        let request = CallRequest {
            from: Some(address_of(&key(who))),
            to: Some(CNS_ADDRESS),
            input: call.abi_encode().into(),
            ..Default::default()
        };
        let outcome = self
            .exec
            .call(
                &self.state,
                &env(self.number + 1),
                &request,
                &CallLimits::default(),
            )
            .unwrap();
        match outcome {
            CallOutcome::Success { output, .. } => Ok(C::abi_decode_returns(&output).unwrap()),
            CallOutcome::Revert { output, .. } => Err(Revert::abi_decode(&output).unwrap().reason),
            CallOutcome::Halt { reason, .. } => panic!("halted: {reason}"),
        }
    }

    /// The revert reason `call` from `who` would get, asserting that sending it fails and
    /// leaves the CNS as it was.
    fn refused(&mut self, who: u8, call: impl SolCall + Clone) -> String {
        let reason = self.view(who, call.clone()).map(|_| ()).unwrap_err();
        let before = cns_storage(&self.state);
        let receipt = self.send(who, call);
        assert!(!receipt.success, "refused on chain too: {reason}");
        assert!(receipt.logs.is_empty());
        assert_eq!(
            cns_storage(&self.state),
            before,
            "a refused call writes nothing"
        );
        reason
    }
}

fn cns_storage(state: &TestState) -> Vec<(U256, U256)> {
    state
        .storage
        .iter()
        .filter(|((at, _), _)| *at == CNS_ADDRESS)
        .map(|((_, slot), value)| (*slot, *value))
        .collect()
}

trait GasOf {
    fn gas_of(&self, input: &[u8]) -> u64;
}

impl GasOf for Cns {
    fn gas_of(&self, input: &[u8]) -> u64 {
        bcos_execution::SystemContract::gas(self, input)
    }
}

fn register(name: &str, version: &str, addr: Address, abi: &str) -> ICns::registerCall {
    ICns::registerCall {
        name: name.into(),
        version: version.into(),
        addr,
        abi: abi.into(),
    }
}

fn resolve(name: &str, version: &str) -> ICns::resolveCall {
    ICns::resolveCall {
        name: name.into(),
        version: version.into(),
    }
}

fn latest(name: &str) -> ICns::latestCall {
    ICns::latestCall { name: name.into() }
}

#[test]
fn two_versions_resolve_each_and_the_latest_is_the_last_registered() {
    let mut chain = Chain::new();
    let r1 = chain.send(1, register("Pay", "1.0", V1, "[abi-1]"));
    assert!(r1.success);
    let event = ICns::Registered::decode_log_data(&r1.logs[0].data).unwrap();
    assert_eq!(r1.logs[0].address, CNS_ADDRESS);
    assert_eq!(
        (
            event.name.as_str(),
            event.version.as_str(),
            event.addr,
            event.owner
        ),
        ("Pay", "1.0", V1, address_of(&key(1)))
    );
    assert!(chain.send(1, register("Pay", "2.0", V2, "[abi-2]")).success);

    assert_eq!(chain.view(2, resolve("Pay", "1.0")), Ok(V1));
    assert_eq!(chain.view(2, resolve("Pay", "2.0")), Ok(V2));
    let last = chain.view(2, latest("Pay")).unwrap();
    assert_eq!((last.version.as_str(), last.addr), ("2.0", V2));
    assert_eq!(
        chain.view(2, ICns::versionsCall { name: "Pay".into() }),
        Ok(vec!["1.0".to_string(), "2.0".to_string()])
    );
    assert_eq!(
        chain.view(
            2,
            ICns::abiOfCall {
                name: "Pay".into(),
                version: "1.0".into()
            }
        ),
        Ok("[abi-1]".to_string())
    );
    assert_eq!(
        chain.view(2, ICns::ownerOfCall { name: "Pay".into() }),
        Ok(address_of(&key(1)))
    );
    assert_eq!(
        chain.view(2, resolve("Pay", "3.0")),
        Err("cns: Pay 3.0 is not registered".to_string())
    );
    assert_eq!(
        chain.view(2, latest("Nobody")),
        Err("cns: Nobody is not registered".to_string())
    );
}

#[test]
fn a_long_abi_survives_storage_byte_for_byte() {
    let mut chain = Chain::new();
    // Not a multiple of 32, with multi-byte UTF-8 in it.
    let abi = format!("[{}\"é\"]", "{\"type\":\"function\"},".repeat(150));
    assert!(chain.send(1, register("Big", "1", V1, &abi)).success);
    assert_eq!(
        chain.view(
            1,
            ICns::abiOfCall {
                name: "Big".into(),
                version: "1".into()
            }
        ),
        Ok(abi)
    );
}

#[test]
fn only_the_owner_registers_and_a_version_never_changes() {
    let mut chain = Chain::new();
    assert!(chain.send(1, register("Pay", "1.0", V1, "")).success);
    let reason = chain.refused(2, register("Pay", "2.0", V2, ""));
    assert!(reason.contains("is owned by"), "{reason}");
    let reason = chain.refused(1, register("Pay", "1.0", V2, ""));
    assert!(reason.contains("already registered"), "{reason}");
    // EXEC-R16: no gas limit makes a refused call succeed, so the estimate fails with it.
    let request = CallRequest {
        from: Some(address_of(&key(1))),
        to: Some(CNS_ADDRESS),
        input: register("Pay", "1.0", V2, "").abi_encode().into(),
        ..Default::default()
    };
    let estimate = chain
        .exec
        .estimate_gas(&chain.state, &env(9), &request, &CallLimits::default())
        .unwrap();
    let Err(CallOutcome::Revert { output, .. }) = estimate else {
        panic!("estimated a refused call: {estimate:?}")
    };
    assert!(Revert::abi_decode(&output)
        .unwrap()
        .reason
        .contains("already registered"));
    // And a call that succeeds is estimated with the contract's own gas.
    let fresh = register("Pay", "2.0", V2, "").abi_encode();
    let request = CallRequest {
        input: fresh.clone().into(),
        ..request
    };
    let gas = chain
        .exec
        .estimate_gas(&chain.state, &env(9), &request, &CallLimits::default())
        .unwrap()
        .unwrap();
    assert!(gas > Cns.gas_of(&fresh), "{gas}");
    assert_eq!(chain.view(2, resolve("Pay", "1.0")), Ok(V1));
    assert_eq!(
        chain.view(2, ICns::versionsCall { name: "Pay".into() }),
        Ok(vec!["1.0".to_string()])
    );
}

#[test]
fn ownership_moves_with_transfer_ownership() {
    let mut chain = Chain::new();
    assert!(chain.send(1, register("Pay", "1.0", V1, "")).success);
    let transfer = ICns::transferOwnershipCall {
        name: "Pay".into(),
        newOwner: address_of(&key(2)),
    };
    let reason = chain.refused(2, transfer.clone());
    assert!(reason.contains("may not change it"), "{reason}");
    let receipt = chain.send(1, transfer);
    assert!(receipt.success);
    let event = ICns::OwnershipTransferred::decode_log_data(&receipt.logs[0].data).unwrap();
    assert_eq!(event.newOwner, address_of(&key(2)));
    assert!(chain.send(2, register("Pay", "2.0", V2, "")).success);
    assert!(chain
        .refused(1, register("Pay", "3.0", V1, ""))
        .contains("is owned by"));
}

#[test]
fn bad_names_versions_and_addresses_are_refused_with_reasons() {
    let mut chain = Chain::new();
    for (call, expect) in [
        (register("", "1", V1, ""), "a name is 1 to"),
        (register("has space", "1", V1, ""), "letters, digits"),
        (register("Pay", "latest", V1, ""), "reserved"),
        (
            register("Pay", &"9".repeat(CNS_VERSION_BYTES_MAX + 1), V1, ""),
            "a version is 1 to",
        ),
        (register("Pay", "1", Address::ZERO, ""), "zero address"),
    ] {
        let reason = chain.refused(1, call);
        assert!(reason.contains(expect), "{reason:?} lacks {expect:?}");
    }
    // Not the CNS interface at all.
    let request = CallRequest {
        to: Some(CNS_ADDRESS),
        input: vec![1, 2, 3, 4, 5].into(),
        ..Default::default()
    };
    let outcome = chain
        .exec
        .call(&chain.state, &env(1), &request, &CallLimits::default())
        .unwrap();
    let CallOutcome::Revert { output, .. } = outcome else {
        panic!("not a revert: {outcome:?}")
    };
    assert!(Revert::abi_decode(&output)
        .unwrap()
        .reason
        .starts_with("cns: not a call of the CNS interface"));
    assert_eq!(Revert::SELECTOR, [0x08, 0xc3, 0x79, 0xa0]);
}

#[test]
fn registration_gas_grows_with_what_it_stores_and_too_little_registers_nothing() {
    let mut chain = Chain::new();
    let small = register("Pay", "1.0", V1, "").abi_encode();
    let big = register("Pay", "1.0", V1, &"x".repeat(3200)).abi_encode();
    assert_eq!(
        Cns.gas_of(&big) - Cns.gas_of(&small),
        100 * CNS_WRITE_GAS_PER_WORD,
        "3,200 more bytes are 100 more words"
    );
    // Enough for the plain call, not for the contract's own gas (EXEC-R15).
    let receipt = chain.send_with_gas(1, big, 21_000 + 40 * 4000);
    assert!(!receipt.success);
    assert_eq!(
        chain.view(2, resolve("Pay", "1.0")),
        Err("cns: Pay 1.0 is not registered".to_string())
    );
}

fn key_n(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

#[test]
fn the_canary_route_splits_keys_by_the_weight_and_keeps_each_key_on_its_version() {
    let mut chain = Chain::new();
    assert!(chain.send(1, register("Pay", "1.0", V1, "")).success);
    let route = |chain: &Chain, i: u64| {
        chain
            .view(
                2,
                ICns::routeCall {
                    name: "Pay".into(),
                    key: key_n(i),
                },
            )
            .unwrap()
    };
    // No route yet: every key lands on the latest version.
    assert_eq!(route(&chain, 0), V1);
    assert!(chain.send(1, register("Pay", "2.0", V2, "")).success);
    assert_eq!(route(&chain, 0), V2);

    let set = |stable: &str, canary: &str, permille: u16| ICns::setRouteCall {
        name: "Pay".into(),
        stable: stable.into(),
        canary: canary.into(),
        canaryPermille: permille,
    };
    assert!(chain.refused(2, set("1.0", "2.0", 100)).contains("may not"));
    assert!(chain
        .refused(1, set("1.0", "2.0", 1001))
        .contains("0 to 1000"));
    assert!(chain
        .refused(1, set("1.0", "9.9", 100))
        .contains("not registered"));
    assert!(chain.refused(1, set("1.0", "1.0", 100)).contains("same"));

    for permille in [100u16, 250] {
        let receipt = chain.send(1, set("1.0", "2.0", permille));
        assert!(receipt.success);
        let keys = 10_000u64;
        let on_canary: Vec<bool> = (0..keys).map(|i| route(&chain, i) == V2).collect();
        let share = on_canary.iter().filter(|c| **c).count() as f64 / keys as f64;
        let weight = f64::from(permille) / 1000.0;
        assert!(
            (share - weight).abs() <= 0.01,
            "canary share {share} for weight {weight}"
        );
        // The same key lands on the same version on every call.
        for i in (0..keys).step_by(997) {
            assert_eq!(route(&chain, i) == V2, on_canary[i as usize]);
        }
    }
}

#[test]
fn names_are_listed_in_registration_order_within_the_bound() {
    let mut chain = Chain::new();
    for name in ["A", "B", "C"] {
        assert!(chain.send(1, register(name, "1", V1, "")).success);
    }
    // A second version does not list the name twice.
    assert!(chain.send(1, register("B", "2", V2, "")).success);
    assert_eq!(chain.view(2, ICns::nameCountCall {}), Ok(U256::from(3u8)));
    let names = |start: u64, count: u64| {
        chain.view(
            2,
            ICns::namesCall {
                start: U256::from(start),
                count: U256::from(count),
            },
        )
    };
    assert_eq!(
        names(0, 10),
        Ok(vec!["A".to_string(), "B".into(), "C".into()])
    );
    assert_eq!(names(1, 1), Ok(vec!["B".to_string()]));
    assert_eq!(names(5, 1), Ok(vec![]));
    assert!(names(0, CNS_LIST_MAX + 1).unwrap_err().contains("at most"));
}
