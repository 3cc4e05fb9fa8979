//! The block rules a replica applies to a leader's block (issue 10 item 6): every header
//! field bounded, and the same per-transaction rules as the pool.

use super::*;
use crate::config::{ChainConfig, PoolConfig, SealerConfig};
use crate::genesis::{build_genesis, ensure_genesis};
use crate::pool::{rules::StaticRules, Pool};
use alloy_consensus::{TxEip1559, TxLegacy};
use alloy_primitives::{TxKind, U256};
use bcos_execution::{ExecConfig, Executor};
use bcos_storage::MemStore;
use bcos_types::Tx;

/// A dev chain's genesis committed to a store, and a sealer context on it (also the solo
/// driver's tests' fixture).
pub(crate) struct Fixture {
    pub ctx: SealerContext,
    pub parent: SealedBlock,
    pub key: secp256k1::SecretKey,
    pub sender: Address,
    /// The dev chain's committee: the first dev account alone (spec/governance.md GOV-R1).
    committee_key: secp256k1::SecretKey,
}

fn fixture() -> Fixture {
    fixture_on(Arc::new(MemStore::new()))
}

/// The fixture on `store`, which must be empty.
pub(crate) fn fixture_on(store: Arc<dyn ChainStore>) -> Fixture {
    let chain = ChainConfig::default();
    let sealer = SealerConfig::default();
    let genesis = build_genesis(&chain, &sealer).expect("genesis");
    ensure_genesis(&*store, &genesis).expect("commit genesis");
    let metrics = Arc::new(Metrics::default());
    let doorbell = Doorbell::new();
    let rules = StaticRules {
        chain_id: chain.chain_id,
        allow_unprotected: false,
        tx_bytes_max: 128 * 1024,
        block_gas_limit: sealer.block_gas_limit,
        tx_gas_cap: 16_777_216,
        base_fee: chain.base_fee_wei,
        governed_gas_limit: Default::default(),
    };
    let pool = Arc::new(Pool::new(
        &PoolConfig::default(),
        rules,
        store.clone(),
        doorbell.clone(),
        metrics.clone(),
    ));
    let executor = Arc::new(Executor::with_system_contracts(
        ExecConfig {
            chain_id: chain.chain_id,
            block_gas_limit: sealer.block_gas_limit,
            ..ExecConfig::default()
        },
        crate::settlement::system_contracts(None),
    ));
    let (blocks, _) = broadcast::channel(4);
    let ctx = SealerContext {
        store,
        pool,
        executor,
        doorbell,
        blocks,
        metrics,
        block_txs_max: 4,
        block_gas_limit: sealer.block_gas_limit,
        base_fee: chain.base_fee_wei,
        beneficiary: genesis.addresses[0],
        timestamp_future_s_max: 15,
        clock: crate::runtime::system_clock(),
    };
    Fixture {
        ctx,
        parent: genesis.block.clone(),
        key: genesis.keys[1],
        sender: genesis.addresses[1],
        committee_key: genesis.keys[0],
    }
}

fn transfer(f: &Fixture, nonce: u64) -> RecoveredTx {
    transfer_to(f, nonce, Address::repeat_byte(0x22))
}

/// A transfer of 1 wei from the fixture's sender to `to`.
pub(crate) fn transfer_to(f: &Fixture, nonce: u64, to: Address) -> RecoveredTx {
    let env = bcos_crypto::sign_tx(
        TxEip1559 {
            chain_id: 20200,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(to),
            value: U256::from(1u64),
            input: Default::default(),
            access_list: Default::default(),
        },
        &f.key,
    );
    RecoveredTx::new(Arc::new(Tx::from_envelope(env)), f.sender)
}

/// A valid block of `count` transfers, as the leader builds it.
fn valid(f: &Fixture, count: u64) -> (SealedBlock, Vec<RecoveredTx>) {
    let txs: Vec<RecoveredTx> = (0..count).map(|n| transfer(f, n)).collect();
    let c = build(&f.ctx, &f.parent, txs).expect("build");
    (c.block, c.included)
}

fn with_header(block: &SealedBlock, edit: impl FnOnce(&mut Header)) -> SealedBlock {
    let mut b = (*block.block).clone();
    edit(&mut b.header);
    b.seal()
}

#[test]
fn a_valid_block_passes() {
    let f = fixture();
    let (block, txs) = valid(&f, 2);
    verify_and_execute(&f.ctx, &f.parent, block, txs).expect("valid");
}

#[test]
fn a_far_future_timestamp_is_refused() {
    let f = fixture();
    let (block, txs) = valid(&f, 1);
    let now_s = f.ctx.clock.wall_s();
    let late = with_header(&block, |h| h.timestamp = now_s + 3_600);
    assert!(matches!(
        verify_and_execute(&f.ctx, &f.parent, late, txs.clone()),
        Err(BlockInvalid::TimestampAhead { .. })
    ));
    let within = with_header(&block, |h| h.timestamp = now_s + 5);
    verify_and_execute(&f.ctx, &f.parent, within, txs).expect("within the drift");
}

#[test]
fn oversized_extra_data_and_a_foreign_beneficiary_are_refused() {
    let f = fixture();
    let (block, txs) = valid(&f, 1);
    let fat = with_header(&block, |h| {
        h.extra_data = Bytes::from(vec![7u8; EXTRA_DATA_BYTES_MAX + 1])
    });
    assert_eq!(
        verify_and_execute(&f.ctx, &f.parent, fat, txs.clone()).err(),
        Some(BlockInvalid::Header("extra_data"))
    );
    let paid_elsewhere = with_header(&block, |h| h.beneficiary = Address::repeat_byte(9));
    assert_eq!(
        verify_and_execute(&f.ctx, &f.parent, paid_elsewhere, txs).err(),
        Some(BlockInvalid::Header("beneficiary"))
    );
}

#[test]
fn more_transactions_than_a_block_may_hold_are_refused() {
    let mut f = fixture();
    f.ctx.block_txs_max = 8;
    let (block, txs) = valid(&f, 6);
    f.ctx.block_txs_max = 5;
    assert!(matches!(
        verify_and_execute(&f.ctx, &f.parent, block, txs),
        Err(BlockInvalid::TooManyTxs { count: 6, max: 5 })
    ));
}

/// An unprotected legacy transaction (no chain id: replayable on any chain) is refused by
/// the pool; before the fix a leader could still put one in a block.
#[test]
fn a_transaction_the_pool_refuses_cannot_ride_in_a_block() {
    let f = fixture();
    let unprotected = bcos_crypto::sign_tx(
        TxLegacy {
            chain_id: None,
            nonce: 0,
            gas_price: 2_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(0x22)),
            value: U256::from(1u64),
            input: Default::default(),
        },
        &f.key,
    );
    let tx = RecoveredTx::new(Arc::new(Tx::from_envelope(unprotected)), f.sender);
    assert!(
        f.ctx.pool.rules().check(&tx.tx).is_err(),
        "the pool refuses it"
    );
    let c = build(&f.ctx, &f.parent, vec![tx]).expect("build");
    assert_eq!(c.included.len(), 1, "execution alone would take it");
    let err = verify_and_execute(&f.ctx, &f.parent, c.block, c.included).err();
    assert!(matches!(err, Some(BlockInvalid::Tx(0, _))), "{err:?}");
}

/// The same context with another executor: a leader whose executor skips rules.
fn with_executor(ctx: &SealerContext, executor: Executor) -> SealerContext {
    SealerContext {
        store: ctx.store.clone(),
        pool: ctx.pool.clone(),
        executor: Arc::new(executor),
        doorbell: ctx.doorbell.clone(),
        blocks: ctx.blocks.clone(),
        metrics: ctx.metrics.clone(),
        block_txs_max: ctx.block_txs_max,
        block_gas_limit: ctx.block_gas_limit,
        base_fee: ctx.base_fee,
        beneficiary: ctx.beneficiary,
        timestamp_future_s_max: ctx.timestamp_future_s_max,
        clock: ctx.clock.clone(),
    }
}

/// spec/governance.md REG-R5: a leader that proposes a frozen account's transaction (here
/// one whose executor knows no governance) has its block refused by a replica, and an
/// honest leader leaves the transaction out.
#[test]
fn a_block_carrying_a_frozen_accounts_transaction_is_refused() {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::{IGovernance, IGovernanceActions, GOVERNANCE_ADDRESS};
    let mut f = fixture();
    let action = IGovernanceActions::freezeAccountCall {
        account: f.sender,
        frozen: true,
    }
    .abi_encode();
    let propose = bcos_crypto::sign_tx(
        TxEip1559 {
            chain_id: 20200,
            nonce: 0,
            gas_limit: 1_000_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(GOVERNANCE_ADDRESS),
            value: U256::ZERO,
            input: IGovernance::proposeCall {
                action: action.into(),
            }
            .abi_encode()
            .into(),
            access_list: Default::default(),
        },
        &f.committee_key,
    );
    let committee = bcos_crypto::address_of(&f.committee_key);
    let propose = RecoveredTx::new(Arc::new(Tx::from_envelope(propose)), committee);
    // Block 1: the committee's only member proposes; its weight is the threshold, so the
    // freeze applies from block 2.
    let c = build(&f.ctx, &f.parent, vec![propose]).expect("build");
    assert!(c.executed.receipts[0].success);
    let block1 = c.block.clone();
    commit(&f.ctx, c, Vec::new()).expect("commit block 1");
    f.parent = block1;

    let faulty = with_executor(
        &f.ctx,
        Executor::new(ExecConfig {
            chain_id: 20200,
            block_gas_limit: f.ctx.block_gas_limit,
            ..ExecConfig::default()
        }),
    );
    let bad = build(&faulty, &f.parent, vec![transfer(&f, 0)]).expect("faulty build");
    assert_eq!(bad.included.len(), 1, "the faulty leader included it");
    let refused = verify_and_execute(&f.ctx, &f.parent, bad.block, bad.included);
    match refused {
        Err(BlockInvalid::Tx(0, reason)) => {
            assert!(reason.contains("rule frozen-account"), "{reason}")
        }
        other => panic!(
            "expected the frozen account's transaction refused, got {:?}",
            other.err()
        ),
    }
    let honest = build(&f.ctx, &f.parent, vec![transfer(&f, 0)]).expect("build");
    assert!(honest.included.is_empty());
    assert_eq!(honest.rejected.len(), 1);
}

/// spec/governance.md GOV-R7: a block gas limit governance set applies from the next block
/// to the header, the replica's check and the pool's per-transaction rule alike (lowered
/// here: the default 300 M is above the fork's per-transaction cap already).
#[test]
fn a_governed_block_gas_limit_moves_the_header_and_the_pool_rule() {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::{IGovernance, IGovernanceActions, GOVERNANCE_ADDRESS};
    let mut f = fixture();
    let lowered = 1_000_000u64;
    let action = IGovernanceActions::setSettingCall {
        key: "block_gas_limit".into(),
        value: U256::from(lowered),
    }
    .abi_encode();
    let sign = |nonce: u64, to, gas_limit: u64, input: Vec<u8>, key: &secp256k1::SecretKey| {
        let env = bcos_crypto::sign_tx(
            TxEip1559 {
                chain_id: 20200,
                nonce,
                gas_limit,
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1,
                to,
                value: U256::ZERO,
                input: input.into(),
                access_list: Default::default(),
            },
            key,
        );
        RecoveredTx::new(
            Arc::new(Tx::from_envelope(env)),
            bcos_crypto::address_of(key),
        )
    };
    let to = TxKind::Call(Address::repeat_byte(0x22));
    let big = sign(0, to, 2 * lowered, Vec::new(), &f.key);
    f.ctx
        .pool
        .rules()
        .check(&big.tx)
        .expect("under the configured limit");
    let propose = sign(
        0,
        TxKind::Call(GOVERNANCE_ADDRESS),
        500_000,
        IGovernance::proposeCall {
            action: action.into(),
        }
        .abi_encode(),
        &f.committee_key,
    );
    // Block 1 passes it (the dev committee's one member); block 2 applies it at its start.
    for txs in [vec![propose], Vec::new()] {
        let c = build(&f.ctx, &f.parent, txs).expect("build");
        assert_eq!(c.block.header().gas_limit, f.ctx.block_gas_limit, "not yet");
        let b = c.block.clone();
        commit(&f.ctx, c, Vec::new()).expect("commit");
        f.parent = b;
    }
    assert_eq!(f.ctx.limits().gas_limit, lowered);
    assert_eq!(f.ctx.pool.rules().block_gas_limit(), lowered);
    assert_eq!(
        f.ctx.pool.rules().check(&big.tx),
        Err(crate::pool::PoolError::GasLimitExceeded {
            gas: 2 * lowered,
            limit: lowered
        })
    );
    let small = sign(0, to, 21_000, Vec::new(), &f.key);
    let c = build(&f.ctx, &f.parent, vec![small]).expect("build");
    assert_eq!(c.block.header().gas_limit, lowered);
    assert_eq!(c.included.len(), 1);
    let (block, txs) = (c.block.clone(), c.included.clone());
    verify_and_execute(&f.ctx, &f.parent, block, txs).expect("a replica agrees");
    // A leader still on the configured limit is refused.
    let stale = with_header(&c.block, |h| h.gas_limit = f.ctx.block_gas_limit);
    assert!(matches!(
        verify_and_execute(&f.ctx, &f.parent, stale, c.included.clone()),
        Err(BlockInvalid::Header("gas_limit"))
    ));
}
