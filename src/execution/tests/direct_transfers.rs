//! Plain transfers applied without revm (spec/execution.md EXEC-R21): whatever the block, an
//! executor with `direct_transfers` returns exactly what one without it returns (the same
//! included and rejected transactions with the same reasons, receipts, diff and gas).
//!
//! Random blocks mix what the direct path must either get right or leave to revm: every
//! transaction type with and without an access list, fees below the base fee and tips above
//! the max fee, gas limits around 21,000 and above the block's or the fork's cap, wrong chain
//! ids, nonce gaps, senders that cannot pay or have code, recipients that are contracts,
//! precompiles, a system contract, empty but existing accounts, the sender itself or the
//! beneficiary, values that overflow the recipient's balance, a zero base fee, and all
//! three forks.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_consensus::{TxEip1559, TxEip2930, TxLegacy};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, TxKind, B256, U256};
use bcos_execution::{BlockEnv, EvmSpec, Executor};
use bcos_settlement::SETTLEMENT_ADDRESS;
use bcos_types::{Account, RecoveredTx};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;

const SENDERS: u8 = 6;
const CONTRACT: Address = Address::repeat_byte(0xc0);
/// Exists with nonce 0, balance 0 and no code: touching it deletes it (EIP-161).
const EMPTY: Address = Address::repeat_byte(0xee);
/// Holds nearly 2^256 wei: one more wei overflows it.
const FULL: Address = Address::repeat_byte(0xff);
const MERCHANT: Address = Address::repeat_byte(0x4d);

fn sender(i: u8) -> secp256k1::SecretKey {
    key(i + 1)
}

/// Senders 0..3 rich, 3 able to pay for one transfer, 4 with nothing, 5 a contract's key
/// holder (its address has code, so EIP-3607 rejects it).
fn genesis() -> TestState {
    let mut alloc: Vec<(Address, U256)> = (0..SENDERS)
        .map(|i| {
            let balance = match i {
                3 => U256::from(21_000u64) * U256::from(3 * GWEI),
                4 => U256::ZERO,
                _ => ether(100),
            };
            (address_of(&sender(i)), balance)
        })
        .collect();
    alloc.push((MERCHANT, ether(1)));
    let mut state = TestState::with_balances(&alloc);
    state.accounts.remove(&address_of(&sender(4)));
    let code = alloy_primitives::Bytes::from(vec![0x00]);
    let code_hash = alloy_primitives::keccak256(&code);
    state.codes.insert(code_hash, code);
    for at in [CONTRACT, address_of(&sender(5))] {
        state.accounts.insert(
            at,
            Account {
                nonce: 1,
                balance: ether(100),
                code_hash,
            },
        );
    }
    state.accounts.insert(EMPTY, Account::default());
    state.accounts.insert(
        FULL,
        Account {
            balance: U256::MAX - U256::from(1u64),
            ..Account::default()
        },
    );
    state
}

#[derive(Debug, Clone)]
struct TxSpec {
    from: u8,
    to: u8,
    value: u8,
    kind: u8,
    fees: u8,
    gas: u8,
    /// 0: the next nonce; 1: a gap; 2: one too low.
    nonce: u8,
    wrong_chain: bool,
    data: bool,
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        (
            prop_oneof![8 => 0..3u8, 1 => 3..SENDERS],
            0..12u8,
            prop_oneof![2 => Just(0u8), 3 => Just(1u8), 3 => Just(2u8), 1 => Just(3u8), 1 => Just(4u8)],
            0..4u8,
        ),
        (
            prop_oneof![10 => Just(0u8), 4 => Just(1u8), 1 => 2..5u8],
            prop_oneof![16 => Just(0u8), 1 => 1..5u8],
            prop_oneof![30 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            prop::bool::weighted(0.05),
            prop::bool::weighted(0.05),
        ),
    )
        .prop_map(
            |((from, to, value, kind), (fees, gas, nonce, wrong_chain, data))| TxSpec {
                from,
                to,
                value,
                kind,
                fees,
                gas,
                nonce,
                wrong_chain,
                data,
            },
        )
}

fn recipient(i: u8, env: &BlockEnv, from: Address) -> Address {
    match i {
        0..3 => address_of(&sender(i)),
        3 => from,
        4 => env.beneficiary,
        5 => CONTRACT,
        6 => EMPTY,
        7 => FULL,
        8 => Address::with_last_byte(2),  // sha256
        9 => Address::with_last_byte(10), // point evaluation, Cancun on
        10 => SETTLEMENT_ADDRESS,
        _ => Address::repeat_byte(0x51),
    }
}

fn build(specs: &[TxSpec], env: &BlockEnv) -> Vec<RecoveredTx> {
    let mut nonces = [0u64; SENDERS as usize];
    specs
        .iter()
        .map(|s| {
            let k = sender(s.from);
            let from = address_of(&k);
            let nonce = pick_nonce(&mut nonces[s.from as usize], s.nonce);
            let to = TxKind::Call(recipient(s.to, env, from));
            let value = match s.value {
                0 => U256::ZERO,
                1 => U256::from(1u64),
                2 => ether(1),
                3 => ether(1_000),
                _ => U256::from(7u64),
            };
            let listed_or_data = s.kind == 2 || (s.kind == 1 && s.fees % 2 == 0) || s.data;
            let gas_limit = match s.gas {
                // Enough for the intrinsic cost.
                0 if listed_or_data => 21_000 + 16 + 2_400 + 1_900,
                0 => 21_000,
                1 => 20_999,
                2 => 30_000,
                3 => env.gas_limit + 1,
                _ => (1 << 24) + 1,
            };
            // (max fee, tip) against a base fee of 0 or 1 gwei.
            let (max_fee, tip) = match s.fees {
                0 => (2 * GWEI, GWEI),
                1 => (GWEI, 0),
                2 => (GWEI / 2, 0),
                3 => (2 * GWEI, 3 * GWEI),
                _ => (0, 0),
            };
            let chain_id = if s.wrong_chain {
                CHAIN_ID + 1
            } else {
                CHAIN_ID
            };
            let input = if s.data {
                vec![0x01].into()
            } else {
                Default::default()
            };
            let listed = AccessList(vec![AccessListItem {
                address: Address::repeat_byte(0x99),
                storage_keys: vec![B256::ZERO],
            }]);
            match s.kind {
                0 => sign(
                    TxLegacy {
                        chain_id: Some(chain_id),
                        nonce,
                        gas_price: max_fee,
                        gas_limit,
                        to,
                        value,
                        input,
                    },
                    &k,
                ),
                1 => sign(
                    TxEip2930 {
                        chain_id,
                        nonce,
                        gas_price: max_fee,
                        gas_limit,
                        to,
                        value,
                        access_list: if s.fees % 2 == 0 {
                            listed
                        } else {
                            AccessList::default()
                        },
                        input,
                    },
                    &k,
                ),
                _ => sign(
                    TxEip1559 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas: max_fee,
                        max_priority_fee_per_gas: tip,
                        to,
                        value,
                        access_list: if s.kind == 2 {
                            listed
                        } else {
                            AccessList::default()
                        },
                        input,
                    },
                    &k,
                ),
            }
        })
        .collect()
}

fn executor(spec: EvmSpec, direct_transfers: bool) -> Executor {
    settlement_executor(MERCHANT, spec, direct_transfers)
}

fn block_env(beneficiary: u8, base_fee: u64) -> BlockEnv {
    BlockEnv {
        base_fee,
        beneficiary: match beneficiary {
            0 => Address::repeat_byte(0xbe),
            1 => address_of(&sender(0)),
            2 => EMPTY,
            _ => FULL,
        },
        ..env(7)
    }
}

/// Every case agrees, and the run reached both sides: transactions applied directly and
/// transactions the direct path left to revm (reported, as the model runs report states).
#[test]
fn direct_transfers_equal_revm() {
    let strategy = (
        prop::collection::vec(tx_spec(), 1..32),
        0..4u8,
        prop_oneof![3 => Just(BASE_FEE), 1 => Just(0u64)],
        prop_oneof![
            Just(EvmSpec::Cancun),
            Just(EvmSpec::Prague),
            Just(EvmSpec::Osaka)
        ],
    );
    let direct_total = Cell::new(0u64);
    let txs_total = Cell::new(0u64);
    let included_total = Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    runner
        .run(&strategy, |(specs, beneficiary, base_fee, spec)| {
            let state = genesis();
            let env = block_env(beneficiary, base_fee);
            let txs = build(&specs, &env);
            let direct = executor(spec, true);
            let with_revm = executor(spec, false);
            let expected = with_revm.execute_block(&state, &env, &txs).unwrap();
            let got = direct.execute_block(&state, &env, &txs).unwrap();
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(with_revm.direct_transfers(), 0);
            direct_total.set(direct_total.get() + direct.direct_transfers());
            txs_total.set(txs_total.get() + txs.len() as u64);
            included_total.set(included_total.get() + expected.included.len() as u64);
            Ok(())
        })
        .unwrap();
    let (direct, included, txs) = (direct_total.get(), included_total.get(), txs_total.get());
    eprintln!("direct_transfers_equal_revm: {txs} transactions, {included} included, {direct} applied directly");
    assert!(
        direct * 4 > included,
        "too few applied directly to prove anything: {direct} of {included}"
    );
    assert!(direct < included, "nothing included was left to revm");
}

/// Which transactions take the direct path: plain transfers that succeed do; calls with
/// data, an access list, a contract or precompile or system contract as the recipient, and
/// anything revm rejects do not, and nothing changes when the setting is off.
#[test]
fn only_plain_transfers_that_succeed_are_applied_directly() {
    let state = genesis();
    let env = block_env(0, BASE_FEE);
    let exec = executor(EvmSpec::Osaka, true);
    let plain = |to: u8, nonce: u8| TxSpec {
        from: 0,
        to,
        value: 1,
        kind: 3,
        fees: 0,
        gas: 0,
        nonce,
        wrong_chain: false,
        data: false,
    };
    let specs = vec![
        plain(1, 0),  // direct
        plain(11, 0), // direct, to a fresh account
        plain(3, 0),  // direct, to itself
        TxSpec {
            kind: 0,
            ..plain(2, 0)
        }, // direct, legacy
        plain(5, 0),  // contract
        plain(8, 0),  // precompile
        plain(10, 0), // system contract (with value: rejected)
        TxSpec {
            kind: 2,
            ..plain(1, 0)
        }, // access list
        TxSpec {
            data: true,
            ..plain(1, 0)
        },
        TxSpec {
            fees: 2,
            ..plain(1, 0)
        }, // below the base fee: rejected
        plain(1, 1), // nonce gap: rejected
        TxSpec {
            value: 4,
            ..plain(7, 0)
        }, // the recipient's balance overflows
    ];
    let txs = build(&specs, &env);
    let block = exec.execute_block(&state, &env, &txs).unwrap();
    assert_eq!(exec.direct_transfers(), 4);
    let off = executor(EvmSpec::Osaka, false);
    assert_eq!(off.execute_block(&state, &env, &txs).unwrap(), block);
    assert_eq!(off.direct_transfers(), 0);
    assert!(block.included.starts_with(&[0, 1, 2, 3]));
    assert!(block
        .receipts
        .iter()
        .take(4)
        .all(|r| r.success && r.logs.is_empty()));
}
