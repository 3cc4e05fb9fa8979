//! Queue behaviour: nonce ordering, gaps, limits, replacement, commit and rejection.

use super::error::PoolError;
use super::queue::{QueueLimits, TxQueue};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::Signature;
use bcos_types::{Address, RecoveredTx, Tx, TxKind, U256};
use std::sync::Arc;

fn limits() -> QueueLimits {
    QueueLimits {
        txs_max: 100,
        bytes_max: 1 << 20,
        per_sender_max: 10,
        nonce_gap_max: 20,
        price_bump_percent: 10,
    }
}

/// A transaction with a fake signature: the queue never looks at signatures.
fn tx(sender: u8, nonce: u64, fee: u128) -> RecoveredTx {
    let unsigned = TxEip1559 {
        chain_id: 20200,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xee)),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = Signature::new(U256::from(1), U256::from(sender as u64 + 1), false);
    let env: TxEnvelope = unsigned.into_signed(sig).into();
    RecoveredTx::new(
        Arc::new(Tx::from_envelope(env)),
        Address::repeat_byte(sender),
    )
}

#[test]
fn ready_run_stops_at_a_gap() {
    let mut q = TxQueue::new(limits());
    assert!(q.insert(tx(1, 0, 10), 0).unwrap().ready);
    assert!(q.insert(tx(1, 1, 10), 0).unwrap().ready);
    assert!(!q.insert(tx(1, 3, 10), 0).unwrap().ready);
    assert_eq!(q.pending_nonce(&Address::repeat_byte(1)), Some(2));
    let nonces: Vec<u64> = q
        .take_ready(100, u64::MAX)
        .iter()
        .map(|t| t.nonce())
        .collect();
    assert_eq!(nonces, vec![0, 1]);
    assert!(q.insert(tx(1, 2, 10), 0).unwrap().ready);
    assert_eq!(q.take_ready(100, u64::MAX).len(), 4);
}

#[test]
fn nonce_bounds() {
    let mut q = TxQueue::new(limits());
    assert_eq!(
        q.insert(tx(1, 4, 10), 5),
        Err(PoolError::NonceTooLow { next: 5, got: 4 })
    );
    assert!(matches!(
        q.insert(tx(1, 26, 10), 5),
        Err(PoolError::NonceTooHigh { .. })
    ));
    assert!(q.insert(tx(1, 25, 10), 5).is_ok());
}

#[test]
fn duplicates_and_replacement() {
    let mut q = TxQueue::new(limits());
    q.insert(tx(1, 0, 100), 0).unwrap();
    assert_eq!(q.insert(tx(1, 0, 100), 0), Err(PoolError::AlreadyKnown));
    assert_eq!(
        q.insert(tx(1, 0, 105), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    q.insert(tx(1, 0, 110), 0).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q.take_ready(10, u64::MAX)[0].max_fee_per_gas(), 110);
}

#[test]
fn count_and_sender_limits() {
    let mut q = TxQueue::new(QueueLimits {
        txs_max: 12,
        ..limits()
    });
    for n in 0..10 {
        q.insert(tx(1, n, 10), 0).unwrap();
    }
    assert!(matches!(
        q.insert(tx(1, 10, 10), 0),
        Err(PoolError::SenderFull { .. })
    ));
    q.insert(tx(2, 0, 10), 0).unwrap();
    q.insert(tx(2, 1, 10), 0).unwrap();
    assert!(matches!(
        q.insert(tx(3, 0, 10), 0),
        Err(PoolError::PoolFull { .. })
    ));
    assert_eq!(q.len(), 12);
}

#[test]
fn bytes_limit() {
    let one = tx(1, 0, 10).encoded_len();
    let mut q = TxQueue::new(QueueLimits {
        bytes_max: one * 2,
        ..limits()
    });
    q.insert(tx(1, 0, 10), 0).unwrap();
    q.insert(tx(1, 1, 10), 0).unwrap();
    assert!(matches!(
        q.insert(tx(1, 2, 10), 0),
        Err(PoolError::PoolFull { .. })
    ));
}

#[test]
fn take_respects_block_limits() {
    let mut q = TxQueue::new(limits());
    for s in 1..=3 {
        for n in 0..3 {
            q.insert(tx(s, n, 10), 0).unwrap();
        }
    }
    assert_eq!(q.take_ready(4, u64::MAX).len(), 4);
    assert_eq!(q.take_ready(100, 21_000 * 5).len(), 5);
}

#[test]
fn commit_advances_and_rejection_drops_successors() {
    let mut q = TxQueue::new(limits());
    for n in 0..5 {
        q.insert(tx(1, n, 10), 0).unwrap();
    }
    q.remove_committed(&Address::repeat_byte(1), 1);
    assert_eq!(q.len(), 3);
    assert_eq!(q.next_nonce(&Address::repeat_byte(1)), Some(2));
    assert_eq!(
        q.insert(tx(1, 1, 99), 0),
        Err(PoolError::NonceTooLow { next: 2, got: 1 })
    );
    q.remove_rejected(&Address::repeat_byte(1), 3);
    assert_eq!(q.len(), 1);
    let bytes_one = tx(1, 2, 10).encoded_len();
    assert_eq!(q.bytes(), bytes_one);
    q.remove_committed(&Address::repeat_byte(1), 2);
    assert!(q.is_empty());
    assert_eq!(q.bytes(), 0);
    assert_eq!(q.next_nonce(&Address::repeat_byte(1)), None);
}
