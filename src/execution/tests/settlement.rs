//! The settlement system contract in the executor (spec/settlement.md §9, spec/execution.md
//! §6): a user chain's `settle()` turns the proxy balance into a record in the same state
//! transition (XS-R1..R3); a refused system call reverts and writes nothing beyond its gas;
//! value sent to a system contract is rejected; the merchant side refuses junk with a
//! reason through eth_call.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, TxKind, U256};
use bcos_execution::settlement::{
    selector, submit_calldata, user_slots, MerchantSettlement, UserSettlement, SETTLE_SIGNATURE,
};
use bcos_execution::{CallLimits, ExecConfig, Executor, SystemContracts};
use bcos_settlement::{CertificateCheck, SettlementRecord, VerifierConfig, SETTLEMENT_ADDRESS};
use bcos_types::{CallOutcome, CallRequest, Header};
use common::*;
use std::sync::Arc;

const MERCHANT: Address = Address::repeat_byte(0x4d);

fn user_executor() -> Executor {
    Executor::with_system_contracts(
        ExecConfig {
            chain_id: CHAIN_ID,
            ..Default::default()
        },
        SystemContracts::new(vec![Arc::new(UserSettlement { merchant: MERCHANT })]),
    )
}

fn settle(key: &secp256k1::SecretKey, nonce: u64) -> bcos_types::RecoveredTx {
    let input = selector(SETTLE_SIGNATURE).to_vec();
    tx1559(
        key,
        nonce,
        TxKind::Call(SETTLEMENT_ADDRESS),
        U256::ZERO,
        input,
        60_000,
    )
}

/// A state where a payer and a settler are funded, and the payer's payment of 3 ether to
/// the merchant's proxy (not yet executed).
fn paid_proxy() -> (secp256k1::SecretKey, TestState, bcos_types::RecoveredTx) {
    let payer = key(1);
    let settler = key(2);
    let state = TestState::with_balances(&[
        (address_of(&payer), ether(10)),
        (address_of(&settler), ether(1)),
    ]);
    let pay = tx1559(&payer, 0, TxKind::Call(MERCHANT), ether(3), vec![], 21_000);
    (settler, state, pay)
}

#[test]
fn settle_moves_the_proxy_balance_into_one_record_per_block() {
    let (settler, state, pay) = paid_proxy();
    // Two settle() in one block: the second is refused (XS-R1) and reverts.
    let txs = vec![pay, settle(&settler, 0), settle(&settler, 1)];
    let out = user_executor()
        .execute_block(&state, &env(7), &txs)
        .unwrap();
    assert_eq!(out.included, vec![0, 1, 2]);
    assert!(out.receipts[1].success && !out.receipts[2].success);
    let record = SettlementRecord::from_log(&out.receipts[1].logs[0]).unwrap();
    assert_eq!(
        record,
        SettlementRecord {
            chain_id: CHAIN_ID,
            seq: 1,
            amount: ether(3),
            cumulative: ether(3),
            block: 7,
        }
    );
    assert!(out.receipts[2].logs.is_empty());
    let mut after = state.clone();
    after.apply(&out.diff);
    assert_eq!(after.balance(&MERCHANT), U256::ZERO);
    assert_eq!(after.balance(&SETTLEMENT_ADDRESS), ether(3));
    let slot = |s| {
        after
            .storage
            .get(&(SETTLEMENT_ADDRESS, s))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(slot(user_slots::LAST_SEQ), U256::from(1u64));
    assert_eq!(slot(user_slots::record_block(1)), U256::from(7u64));
    // The refused call still paid its gas and used its nonce, like any revert.
    assert_eq!(after.nonce(&address_of(&settler)), 2);

    // Nothing held: the next block's settle() reverts and writes nothing.
    let out = user_executor()
        .execute_block(&after, &env(8), &[settle(&settler, 2)])
        .unwrap();
    assert!(!out.receipts[0].success);
    assert!(!out.diff.storage.contains_key(&SETTLEMENT_ADDRESS));
}

#[test]
fn value_sent_to_a_system_contract_is_rejected() {
    let settler = key(2);
    let state = TestState::with_balances(&[(address_of(&settler), ether(1))]);
    let input = selector(SETTLE_SIGNATURE).to_vec();
    let tx = tx1559(
        &settler,
        0,
        TxKind::Call(SETTLEMENT_ADDRESS),
        ether(1),
        input,
        60_000,
    );
    let out = user_executor()
        .execute_block(&state, &env(1), &[tx])
        .unwrap();
    assert!(out.included.is_empty());
    assert!(out.rejected[0].1.contains("takes no value"));
}

struct RefuseAll;
impl CertificateCheck for RefuseAll {
    fn check(&self, _: u64, _: &Header, _: &[u8]) -> Result<(), String> {
        Err("no".into())
    }
}

#[test]
fn the_merchant_side_explains_a_refusal_through_eth_call() {
    let exec = Executor::with_system_contracts(
        ExecConfig {
            chain_id: CHAIN_ID,
            ..Default::default()
        },
        SystemContracts::new(vec![Arc::new(MerchantSettlement {
            merchant: MERCHANT,
            config: VerifierConfig::default(),
            check: Arc::new(RefuseAll),
        })]),
    );
    let state = TestState::default();
    let req = CallRequest {
        to: Some(SETTLEMENT_ADDRESS),
        input: submit_calldata(b"junk").into(),
        ..CallRequest::default()
    };
    let out = exec
        .call(&state, &env(1), &req, &CallLimits::default())
        .unwrap();
    let CallOutcome::Revert { output, .. } = out else {
        panic!("junk was accepted: {out:?}");
    };
    let reason = String::from_utf8_lossy(&output[68..]).to_string();
    assert!(reason.contains("malformed proof"), "{reason}");
}

#[test]
fn a_system_call_pays_its_own_gas_and_reverts_without_enough() {
    use bcos_execution::settlement::SETTLE_GAS;
    let (settler, state, pay) = paid_proxy();
    let input = selector(SETTLE_SIGNATURE).to_vec();
    let starved = tx1559(
        &settler,
        0,
        TxKind::Call(SETTLEMENT_ADDRESS),
        U256::ZERO,
        input,
        30_000,
    );
    let txs = vec![pay, starved, settle(&settler, 1)];
    let out = user_executor()
        .execute_block(&state, &env(3), &txs)
        .unwrap();
    let used = |i: usize| {
        out.receipts[i].cumulative_gas_used
            - if i == 0 {
                0
            } else {
                out.receipts[i - 1].cumulative_gas_used
            }
    };
    // Too little gas for the contract's work: all of it is used, nothing is settled.
    assert!(!out.receipts[1].success);
    assert_eq!(used(1), 30_000);
    // With enough, the call costs the plain call plus SETTLE_GAS, and the sender pays it.
    assert!(out.receipts[2].success);
    let plain = used(2) - SETTLE_GAS;
    assert!((21_000..22_000).contains(&plain), "plain call gas {plain}");
    let mut after = state.clone();
    after.apply(&out.diff);
    let price = U256::from(2 * GWEI);
    assert_eq!(
        after.balance(&address_of(&settler)),
        ether(1) - U256::from(used(1) + used(2)) * price
    );
    assert_eq!(out.gas_used, out.receipts[2].cumulative_gas_used);
}
