//! Admission against committed state, including a block that lands between the state reads
//! and the queue update.

use super::rules::StaticRules;
use super::*;
use crate::config::PoolConfig;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::Signature;
use bcos_storage::{BlockCommit, MemStore};
use bcos_types::{Account, Block, Header, StateDiff, Tx, TxKind};

fn rules() -> StaticRules {
    StaticRules {
        chain_id: 20200,
        allow_unprotected: false,
        tx_bytes_max: 1 << 20,
        block_gas_limit: 30_000_000,
        tx_gas_cap: 30_000_000,
        base_fee: 1,
    }
}

const SENDER: Address = Address::repeat_byte(0xaa);

/// A transaction with a fake signature: admission takes the sender as recovered.
fn tx(nonce: u64) -> RecoveredTx {
    let unsigned = TxEip1559 {
        chain_id: 20200,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xbb)),
        ..Default::default()
    };
    let env: TxEnvelope = unsigned
        .into_signed(Signature::new(U256::from(1), U256::from(2), false))
        .into();
    RecoveredTx::new(Arc::new(Tx::from_envelope(env)), SENDER)
}

/// Commits block `number` setting the sender's nonce.
fn commit(store: &MemStore, number: u64, nonce: u64) {
    let (_, parent_hash) = store.head().unwrap_or((0, B256::ZERO));
    let mut diff = StateDiff::default();
    diff.accounts.insert(
        SENDER,
        Some(Account {
            nonce,
            balance: U256::from(1u64 << 60),
            ..Default::default()
        }),
    );
    let block = Block {
        header: Header {
            number,
            parent_hash,
            ..Default::default()
        },
        txs: vec![],
    }
    .seal();
    store
        .commit_block(BlockCommit {
            block: &block,
            receipts: &[],
            senders: &[],
            diff: &diff,
            certificate: &[],
        })
        .unwrap();
}

fn pool(store: Arc<MemStore>) -> Pool {
    Pool::new(
        &PoolConfig::default(),
        rules(),
        store,
        Doorbell::new(),
        Arc::new(Metrics::default()),
    )
}

#[test]
fn admits_against_committed_nonce_and_balance() {
    let store = Arc::new(MemStore::new());
    commit(&store, 0, 3);
    let p = pool(store);
    let out = p.admit_batch(vec![Ok(tx(2)), Ok(tx(3)), Ok(tx(3)), Ok(tx(4))]);
    assert!(matches!(
        out[0],
        Err(PoolError::NonceTooLow { next: 3, got: 2 })
    ));
    assert!(out[1].is_ok());
    assert_eq!(out[2], Err(PoolError::AlreadyKnown));
    assert!(out[3].is_ok());
    assert_eq!(p.pending_nonce(&SENDER).unwrap(), 5);
}

/// Regression: state read at nonce 0, then a block commits nonces 0..2 and empties the
/// sender's queue before the batch takes the lock. The stale nonce must not park nonce 2
/// behind a gap that never fills.
#[test]
fn a_block_between_read_and_lock_does_not_strand_the_sender() {
    let store = Arc::new(MemStore::new());
    commit(&store, 0, 0);
    let p = pool(store.clone());
    let first = vec![tx(0), tx(1)];
    assert!(p
        .admit_batch(first.iter().cloned().map(Ok).collect())
        .iter()
        .all(Result::is_ok));

    let pre = p.prefetch(vec![Ok(tx(2))]);
    commit(&store, 1, 2);
    p.on_block(&first, &[]);
    let out = p.apply(pre);

    assert!(out[0].is_ok());
    let ready = p.take_ready(10, u64::MAX);
    assert_eq!(ready.iter().map(|t| t.nonce()).collect::<Vec<_>>(), vec![2]);
}
