//! Parallel execution within a block (spec/execution.md §3.6): whatever the block, the
//! parallel path returns exactly what `Executor::execute_block` returns (EXEC-R17): the same
//! included and rejected transactions (with the same reasons), receipts, diff and gas.
//!
//! Random blocks mix the conflicts that matter: one sender's consecutive nonces, wrong
//! nonces, shared and hot payees, senders that run out of balance, a token's shared balance
//! slots, contracts that read the beneficiary's or another account's balance, self-destructs,
//! creations (also destroyed in the creating transaction), BLOCKHASH, calls to a system
//! contract that moves a balance, and block gas limits that the block overflows.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, TxKind, U256};
use bcos_execution::settlement::{selector, SETTLE_SIGNATURE};
use bcos_execution::{
    BlockEnv, EvmSpec, ExecutedBlock, Executor, ParallelOptions, ParallelStats,
    PARALLEL_BACKOFF_BLOCKS,
};
use bcos_settlement::SETTLEMENT_ADDRESS;
use bcos_types::{Account, RecoveredTx};
use common::*;
use proptest::prelude::*;

const SENDERS: u8 = 12;
const HOT: Address = Address::repeat_byte(0x40);
/// The settlement contract's merchant proxy: `settle()` empties its balance.
const MERCHANT: Address = Address::repeat_byte(0x4d);
const TOKEN: Address = Address::repeat_byte(0xa1);
const COINBASE_READER: Address = Address::repeat_byte(0xc1);
const BALANCE_READER: Address = Address::repeat_byte(0xe1);
const DESTRUCTOR: Address = Address::repeat_byte(0xd1);
const BLOCKHASH_READER: Address = Address::repeat_byte(0xb1);

/// `transfer(to = word 0, amount = word 1)` over balances keyed by the holder's address;
/// reverts when the caller holds too little, else logs LOG1(to).
fn token_runtime() -> Vec<u8> {
    let mut code = vec![
        0x33, 0x54, // sload(caller)
        0x60, 0x20, 0x35, // amount
        0x80, 0x82, 0x10, // balance < amount
        0x60, 0x00, 0x57, // jumpi(fail) (patched below)
        0x80, 0x91, 0x03, 0x33, 0x55, // sstore(caller, balance - amount)
        0x60, 0x00, 0x35, 0x80, 0x54, 0x82, 0x01, 0x90,
        0x55, // sstore(to, sload(to) + amount)
        0x50, // pop amount
        0x60, 0x00, 0x35, 0x60, 0x00, 0x60, 0x00, 0xa1, // log1(0, 0, to)
        0x00, // stop
    ];
    let fail = code.len() as u8;
    code[9] = fail;
    code.extend_from_slice(&[0x5b, 0x60, 0x00, 0x80, 0xfd]); // fail: revert(0, 0)
    code
}

fn token_call(to: Address, amount: u64) -> Vec<u8> {
    let mut input = [0u8; 64];
    input[12..32].copy_from_slice(to.as_slice());
    input[32..].copy_from_slice(&U256::from(amount).to_be_bytes::<32>());
    input.to_vec()
}

fn word(a: Address) -> Vec<u8> {
    let mut input = [0u8; 32];
    input[12..].copy_from_slice(a.as_slice());
    input.to_vec()
}

fn with_code(state: &mut TestState, at: Address, runtime: Vec<u8>, balance: U256) {
    let code = alloy_primitives::Bytes::from(runtime);
    let code_hash = alloy_primitives::keccak256(&code);
    state.codes.insert(code_hash, code);
    state.accounts.insert(
        at,
        Account {
            nonce: 1,
            balance,
            code_hash,
        },
    );
}

fn sender(i: u8) -> secp256k1::SecretKey {
    key(i + 1)
}

/// Senders 0..8 rich, 9 and 10 able to pay for about one transfer, 11 rich in the token
/// only.
fn genesis() -> TestState {
    let mut alloc = Vec::new();
    for i in 0..SENDERS {
        let balance = match i {
            9 | 10 => U256::from(60_000u64) * U256::from(2 * GWEI),
            11 => U256::ZERO,
            _ => ether(100),
        };
        alloc.push((address_of(&sender(i)), balance));
    }
    alloc.push((MERCHANT, ether(3)));
    let mut state = TestState::with_balances(&alloc);
    with_code(&mut state, TOKEN, token_runtime(), U256::ZERO);
    for i in 0..SENDERS {
        let holder = U256::from_be_slice(word(address_of(&sender(i))).as_slice());
        state
            .storage
            .insert((TOKEN, holder), U256::from(100u64 * u64::from(i)));
    }
    // balance(coinbase) -> slot 0
    with_code(
        &mut state,
        COINBASE_READER,
        vec![0x41, 0x31, 0x60, 0x00, 0x55, 0x00],
        U256::ZERO,
    );
    // balance(word 0) -> slot 0
    with_code(
        &mut state,
        BALANCE_READER,
        vec![0x60, 0x00, 0x35, 0x31, 0x60, 0x00, 0x55, 0x00],
        U256::ZERO,
    );
    // selfdestruct(word 0), holding 1 ether
    with_code(
        &mut state,
        DESTRUCTOR,
        vec![0x60, 0x00, 0x35, 0xff],
        ether(1),
    );
    // blockhash(number - 1) -> slot 0
    with_code(
        &mut state,
        BLOCKHASH_READER,
        vec![0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00],
        U256::ZERO,
    );
    state
}

#[derive(Debug, Clone)]
enum Op {
    Transfer {
        to: usize,
        value: u8,
        is_legacy: bool,
    },
    Token {
        to: usize,
        amount: u64,
    },
    ReadCoinbase,
    ReadBalance {
        of: usize,
    },
    Destruct {
        to: usize,
    },
    Deploy,
    CreateAndDestroy {
        to: usize,
    },
    BlockHash,
    Settle,
    ValueToSystem,
}

#[derive(Debug, Clone)]
struct TxSpec {
    from: u8,
    op: Op,
    /// 0: the next nonce; 1: a gap; 2: one too low.
    nonce: u8,
    big_gas: bool,
}

/// Payees: senders, the hot account, the merchant proxy, fresh accounts, and whoever is
/// the beneficiary (index 10).
fn payee(i: usize, env: &BlockEnv) -> Address {
    match i {
        0..6 => address_of(&sender(i as u8)),
        6 => HOT,
        7 => MERCHANT,
        8 | 9 => Address::repeat_byte(0x50 + i as u8),
        _ => env.beneficiary,
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..11usize, 0..4u8, any::<bool>())
            .prop_map(|(to, value, legacy)| Op::Transfer { to, value, is_legacy: legacy }),
        4 => (0..11usize, 0..300u64).prop_map(|(to, amount)| Op::Token { to, amount }),
        1 => Just(Op::ReadCoinbase),
        1 => (0..11usize).prop_map(|of| Op::ReadBalance { of }),
        1 => (0..11usize).prop_map(|to| Op::Destruct { to }),
        1 => Just(Op::Deploy),
        1 => (0..11usize).prop_map(|to| Op::CreateAndDestroy { to }),
        1 => Just(Op::BlockHash),
        1 => Just(Op::Settle),
        1 => Just(Op::ValueToSystem),
    ]
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        0..SENDERS,
        op(),
        prop_oneof![18 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(from, op, nonce, big_gas)| TxSpec {
            from,
            op,
            nonce,
            big_gas,
        })
}

fn build(specs: &[TxSpec], env: &BlockEnv) -> Vec<RecoveredTx> {
    let mut nonces = [0u64; SENDERS as usize];
    specs
        .iter()
        .map(|s| {
            let k = sender(s.from);
            let nonce = pick_nonce(&mut nonces[s.from as usize], s.nonce);
            let gas = |normal: u64| if s.big_gas { 5_000_000 } else { normal };
            match &s.op {
                Op::Transfer {
                    to,
                    value,
                    is_legacy,
                } => {
                    let value = match value {
                        0 => U256::ZERO,
                        1 => U256::from(1u64),
                        2 => ether(1),
                        _ => ether(60),
                    };
                    let to = payee(*to, env);
                    if *is_legacy {
                        // 1 gwei is the base fee: a zero tip.
                        legacy(&k, nonce, to, value, GWEI)
                    } else {
                        tx1559(&k, nonce, TxKind::Call(to), value, vec![], gas(21_000))
                    }
                }
                Op::Token { to, amount } => tx1559(
                    &k,
                    nonce,
                    TxKind::Call(TOKEN),
                    U256::ZERO,
                    token_call(payee(*to, env), *amount),
                    gas(80_000),
                ),
                Op::ReadCoinbase => call(&k, nonce, COINBASE_READER, vec![], gas(60_000)),
                Op::ReadBalance { of } => call(
                    &k,
                    nonce,
                    BALANCE_READER,
                    word(payee(*of, env)),
                    gas(60_000),
                ),
                Op::Destruct { to } => {
                    call(&k, nonce, DESTRUCTOR, word(payee(*to, env)), gas(60_000))
                }
                Op::Deploy => tx1559(
                    &k,
                    nonce,
                    TxKind::Create,
                    U256::ZERO,
                    deployer(&logger_runtime()),
                    gas(200_000),
                ),
                Op::CreateAndDestroy { to } => {
                    // init code: selfdestruct(to), with 5 wei sent along
                    let mut init = vec![0x73];
                    init.extend_from_slice(payee(*to, env).as_slice());
                    init.push(0xff);
                    tx1559(
                        &k,
                        nonce,
                        TxKind::Create,
                        U256::from(5u64),
                        init,
                        gas(100_000),
                    )
                }
                Op::BlockHash => call(&k, nonce, BLOCKHASH_READER, vec![], gas(60_000)),
                Op::Settle => call(
                    &k,
                    nonce,
                    SETTLEMENT_ADDRESS,
                    selector(SETTLE_SIGNATURE).to_vec(),
                    gas(60_000),
                ),
                Op::ValueToSystem => tx1559(
                    &k,
                    nonce,
                    TxKind::Call(SETTLEMENT_ADDRESS),
                    U256::from(1u64),
                    vec![],
                    gas(21_000),
                ),
            }
        })
        .collect()
}

fn call(
    k: &secp256k1::SecretKey,
    nonce: u64,
    to: Address,
    input: Vec<u8>,
    gas: u64,
) -> RecoveredTx {
    tx1559(k, nonce, TxKind::Call(to), U256::ZERO, input, gas)
}

/// Plain transfers are speculated like any transaction here (EXEC-R21 off): these tests
/// are about speculation. [`executor_with`] turns EXEC-R21 on.
fn executor() -> Executor {
    executor_with(false)
}

fn executor_with(direct_transfers: bool) -> Executor {
    settlement_executor(MERCHANT, EvmSpec::default(), direct_transfers)
}

fn block_env(beneficiary: u8, gas_limit: u64) -> BlockEnv {
    BlockEnv {
        gas_limit,
        beneficiary: match beneficiary {
            0 => Address::repeat_byte(0xbe),
            // a sender: its own transactions read the beneficiary
            1 => address_of(&sender(0)),
            2 => HOT,
            _ => TOKEN,
        },
        ..env(7)
    }
}

/// The parallel schedules worth comparing: every transaction validated, the default, and
/// more speculating threads than cores without the fallback.
fn schedules() -> [ParallelOptions; 3] {
    [
        ParallelOptions {
            speculate_all: true,
            fallback: false,
            ..ParallelOptions::new(2)
        },
        ParallelOptions::new(2),
        ParallelOptions {
            fallback: false,
            ..ParallelOptions::new(4)
        },
    ]
}

/// Runs `txs` serially and under every schedule; all must agree. Returns the serial result
/// and the stats of the all-validated schedule.
fn assert_same(
    exec: &Executor,
    state: &TestState,
    env: &BlockEnv,
    txs: &[RecoveredTx],
) -> (ExecutedBlock, ParallelStats) {
    let serial = exec.execute_block(state, env, txs).unwrap();
    let mut first = None;
    for opts in schedules() {
        let (parallel, stats) = exec
            .execute_block_parallel_with(state, env, txs, opts)
            .unwrap();
        assert_eq!(parallel, serial, "schedule {opts:?}, stats {stats:?}");
        first.get_or_insert(stats);
    }
    (serial, first.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn parallel_equals_serial(
        specs in prop::collection::vec(tx_spec(), 8..40),
        beneficiary in 0..4u8,
        gas_limit in prop_oneof![2 => Just(30_000_000u64), 1 => Just(500_000u64), 1 => Just(1_500_000u64)],
        direct_transfers in any::<bool>(),
    ) {
        let exec = executor_with(direct_transfers);
        let state = genesis();
        let env = block_env(beneficiary, gas_limit);
        let txs = build(&specs, &env);
        assert_same(&exec, &state, &env, &txs);
    }
}

/// With EXEC-R21 on, plain transfers are applied by the committing thread at their turn
/// and never speculated; the token calls beside them still are.
#[test]
fn plain_transfers_are_not_speculated_when_applied_directly() {
    let exec = executor_with(true);
    let state = genesis();
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = (0..4u8)
        .map(|i| {
            let to = Address::repeat_byte(0x58 + i);
            tx1559(&sender(i), 0, TxKind::Call(to), ether(1), vec![], 21_000)
        })
        .chain((4..8u8).map(|i| {
            let input = token_call(Address::repeat_byte(0x60 + i), 1);
            call(&sender(i), 0, TOKEN, input, 80_000)
        }))
        .collect();
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), 8);
    assert_eq!(stats.speculative, 4, "the token calls: {stats:?}");
    assert_eq!(stats.serial, 4, "the transfers: {stats:?}");
    // Four per run: the serial one and the three schedules of assert_same.
    assert_eq!(exec.direct_transfers(), 16);
    // With the fallbacks on, four transactions to speculate are too few to start the
    // scheduler for (EXEC-R20): the block runs serially.
    let (block, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, ParallelOptions::new(2))
        .unwrap();
    assert_eq!(block, serial);
    assert!(stats.serial_block, "{stats:?}");
}

/// One sender per transaction, each paying the next: nothing conflicts but the fees, which
/// are credited blind (EXEC-R19), so every speculative run is used.
#[test]
fn independent_transfers_are_all_taken_from_speculation() {
    let exec = executor();
    let state = genesis();
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = (0..3u8)
        .map(|i| {
            let to = Address::repeat_byte(0x58 + i);
            tx1559(&sender(i), 0, TxKind::Call(to), ether(1), vec![], 21_000)
        })
        .chain((0..3u8).map(|i| {
            let input = token_call(Address::repeat_byte(0x60 + i), 1);
            call(&sender(i), 1, TOKEN, input, 80_000)
        }))
        .chain((0..3u8).map(|i| {
            let to = Address::repeat_byte(0x70 + i);
            legacy(&sender(i), 2, to, U256::from(1u64), 2 * GWEI)
        }))
        .collect();
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), txs.len());
    // The first transaction of each sender runs on the committed state; its later ones
    // read the nonce the earlier one wrote.
    assert_eq!(stats.speculative, 3, "{stats:?}");
    assert_eq!(stats.conflicts, 6, "{stats:?}");
}

/// Timing is off unless asked for; asked for, it counts every speculative run once and
/// leaves the result alone. With `speculate_all` every transaction here is speculated before
/// any is committed, and each run is either taken or redone serially.
#[test]
fn timed_blocks_report_their_phases_and_the_same_result() {
    let exec = executor();
    let state = genesis();
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = (0..SENDERS)
        .filter(|i| ![9, 10, 11].contains(i))
        .map(|i| {
            let input = token_call(Address::repeat_byte(0x60 + i), 1);
            call(&sender(i), 0, TOKEN, input, 80_000)
        })
        .collect();
    let serial = exec.execute_block(&state, &env, &txs).unwrap();
    let opts = ParallelOptions {
        speculate_all: true,
        fallback: false,
        ..ParallelOptions::new(2)
    };
    let (block, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, opts)
        .unwrap();
    assert_eq!(block, serial);
    assert_eq!(stats.phases, None, "untimed: {stats:?}");
    let timed = ParallelOptions {
        timed: true,
        ..opts
    };
    let (block, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, timed)
        .unwrap();
    assert_eq!(block, serial);
    let phases = stats.phases.expect("timed");
    assert_eq!(
        phases.runs as usize,
        stats.speculative + stats.conflicts,
        "{stats:?}"
    );
    assert_eq!(phases.runs as usize, txs.len(), "{stats:?}");
    assert!(phases.runs_ns > 0 && phases.finishing_ns > 0, "{phases:?}");
}

/// One key per seed in `seeds`, each holding 10 ether, and the state that funds them.
fn funded_senders(seeds: std::ops::Range<u8>) -> (Vec<secp256k1::SecretKey>, TestState) {
    let (keys, alloc): (Vec<_>, Vec<_>) = seeds
        .map(|i| (key(i), (address_of(&key(i)), ether(10))))
        .unzip();
    (keys, TestState::with_balances(&alloc))
}

/// Every transfer pays one account: the pre-scan runs the block serially (EXEC-R20), and
/// without it every run but the first conflicts; the results agree either way.
#[test]
fn hot_payee_block_falls_back_and_agrees() {
    let exec = executor();
    let (keys, state) = funded_senders(10..40u8);
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = keys
        .iter()
        .map(|k| tx1559(k, 0, TxKind::Call(HOT), ether(1), vec![], 21_000))
        .collect();
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), txs.len());
    assert_eq!(stats.speculative, 1, "{stats:?}");
    let (_, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, ParallelOptions::new(2))
        .unwrap();
    assert!(stats.serial_block, "{stats:?}");
}

/// Token transfers from every holder to one merchant (one hot balance slot): the pre-scan
/// sees the same contract called with the same first argument by more than half the block
/// and runs it serially (EXEC-R20), so no speculative run is wasted; speculated anyway,
/// every run but the first conflicts. The results agree either way.
#[test]
fn hot_token_payee_block_runs_serially_from_the_pre_scan() {
    let exec = executor();
    let state = genesis();
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = (1..9u8)
        .map(|i| {
            let k = sender(i);
            tx1559(
                &k,
                0,
                TxKind::Call(TOKEN),
                U256::ZERO,
                token_call(HOT, 1),
                90_000,
            )
        })
        .collect();
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), txs.len());
    assert!(serial.receipts.iter().all(|r| r.success));
    assert_eq!(stats.speculative, 1, "{stats:?}");
    let (_, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, ParallelOptions::new(2))
        .unwrap();
    assert!(stats.serial_block, "{stats:?}");
    // Half the block to the merchant is not enough: the other half pays fresh accounts.
    let spread: Vec<_> = (1..9u8)
        .map(|i| {
            let payee = if i % 2 == 0 {
                HOT
            } else {
                Address::repeat_byte(0x60 + i)
            };
            tx1559(
                &sender(i),
                0,
                TxKind::Call(TOKEN),
                U256::ZERO,
                token_call(payee, 1),
                90_000,
            )
        })
        .collect();
    let (_, stats) = exec
        .execute_block_parallel_with(&state, &env, &spread, ParallelOptions::new(2))
        .unwrap();
    assert!(!stats.serial_block, "{stats:?}");
}

/// A block that touches 961 accounts: at the block's end the parallel path reads its diff
/// on two threads (`ChangeTracker::into_diff_on`, 256 accounts a thread at least), and the
/// split must not change the diff. Each sender's later transfers conflict on its nonce.
#[test]
fn a_diff_read_on_two_threads_is_the_serial_one() {
    let exec = executor();
    let (keys, state) = funded_senders(10..250u8);
    let env = block_env(0, 30_000_000);
    let payee = |i: usize| Address::left_padding_from(&(0x7000_0000u64 + i as u64).to_be_bytes());
    let txs: Vec<_> = (0..3u64)
        .flat_map(|nonce| keys.iter().enumerate().map(move |(i, k)| (nonce, i, k)))
        .map(|(nonce, i, k)| {
            let to = payee(i * 3 + nonce as usize);
            tx1559(k, nonce, TxKind::Call(to), ether(1), vec![], 21_000)
        })
        .collect();
    let (serial, _) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), 720);
    assert_eq!(serial.diff.accounts.len(), 240 + 720 + 1);
}

/// The diff is read in shares of the touched accounts, and a token whose written balances
/// are about as many as all other touched accounts together is one account of one share:
/// the split must still give the serial diff.
#[test]
fn a_diff_split_around_one_heavy_token_is_the_serial_one() {
    let exec = executor();
    let (keys, mut state) = funded_senders(10..250u8);
    with_code(&mut state, TOKEN, token_runtime(), U256::ZERO);
    for k in &keys {
        let holder = U256::from_be_slice(word(address_of(k)).as_slice());
        state.storage.insert((TOKEN, holder), U256::from(1_000u64));
    }
    let env = block_env(0, 60_000_000);
    let payee = |i: usize| Address::left_padding_from(&(0x7000_0000u64 + i as u64).to_be_bytes());
    let txs: Vec<_> = keys
        .iter()
        .enumerate()
        .flat_map(|(i, k)| {
            [
                tx1559(k, 0, TxKind::Call(payee(2 * i)), ether(1), vec![], 21_000),
                tx1559(
                    k,
                    1,
                    TxKind::Call(payee(2 * i + 1)),
                    ether(1),
                    vec![],
                    21_000,
                ),
                call(k, 2, TOKEN, token_call(payee(1_000 + i), 7), 80_000),
            ]
        })
        .collect();
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), 720);
    // The senders, the ether payees and the beneficiary (the token called, but unchanged).
    assert_eq!(serial.diff.accounts.len(), 240 + 480 + 1);
    // Each token transfer wrote the sender's balance and a new holder's.
    assert_eq!(serial.diff.storage[&TOKEN].len(), 480);
    assert!(!stats.serial_block, "{stats:?}");
}

/// A contract that reads the beneficiary's balance must see every earlier fee: its run
/// conflicts and is redone serially; the transfers around it keep their blind credits.
#[test]
fn reading_the_beneficiary_sees_the_fees_before_it() {
    let exec = executor();
    let state = genesis();
    let env = block_env(0, 30_000_000);
    let mut txs: Vec<_> = (0..3u8)
        .map(|i| {
            tx1559(
                &sender(i),
                0,
                TxKind::Call(HOT),
                U256::from(1u64),
                vec![],
                21_000,
            )
        })
        .collect();
    txs.push(call(&sender(0), 1, COINBASE_READER, vec![], 60_000));
    txs.extend((1..3u8).map(|i| call(&sender(i), 1, COINBASE_READER, vec![], 60_000)));
    for i in 0..3u8 {
        txs.push(tx1559(
            &sender(i),
            2,
            TxKind::Call(HOT),
            U256::from(1u64),
            vec![],
            21_000,
        ));
    }
    let (serial, stats) = assert_same(&exec, &state, &env, &txs);
    assert_eq!(serial.included.len(), txs.len());
    let mut after = state.clone();
    after.apply(&serial.diff);
    // The last reader (tx 5) saw the 1 gwei tips of the five transactions before it.
    let stored = after
        .storage
        .get(&(COINBASE_READER, U256::ZERO))
        .copied()
        .unwrap_or_default();
    let tips_before = U256::from(serial.receipts[4].cumulative_gas_used) * U256::from(GWEI);
    assert_eq!(stored, tips_before);
    assert!(stats.conflicts >= 3, "{stats:?}");
}

/// A hot spot the pre-scan cannot see (transfers with data to one account, like calls to a
/// hot balance): the block aborts its speculation, and the next
/// `PARALLEL_BACKOFF_BLOCKS` blocks run serially without paying for another try; then one
/// tries again (EXEC-R20). Every block's result is the serial one.
#[test]
fn an_aborted_block_makes_the_next_blocks_serial_for_a_while() {
    let exec = executor();
    let (keys, state) = funded_senders(10..50u8);
    let env = block_env(0, 30_000_000);
    let txs: Vec<_> = keys
        .iter()
        .map(|k| tx1559(k, 0, TxKind::Call(HOT), ether(1), vec![1], 30_000))
        .collect();
    let serial = exec.execute_block(&state, &env, &txs).unwrap();
    assert_eq!(serial.included.len(), txs.len());
    let every_run_checked = ParallelOptions {
        speculate_all: true,
        ..ParallelOptions::new(2)
    };
    let (block, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, every_run_checked)
        .unwrap();
    assert_eq!(block, serial);
    assert!(stats.aborted && !stats.serial_block, "{stats:?}");
    for k in 0..PARALLEL_BACKOFF_BLOCKS {
        let (block, stats) = exec
            .execute_block_parallel_with(&state, &env, &txs, ParallelOptions::new(2))
            .unwrap();
        assert_eq!(block, serial);
        assert!(stats.serial_block, "block {k} after the abort: {stats:?}");
    }
    let (block, stats) = exec
        .execute_block_parallel_with(&state, &env, &txs, ParallelOptions::new(2))
        .unwrap();
    assert_eq!(block, serial);
    assert!(
        !stats.serial_block,
        "tries again after the back-off: {stats:?}"
    );
}
