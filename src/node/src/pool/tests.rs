//! Queue behaviour: nonce ordering, gaps, limits, replacement, commit and rejection.

use super::error::PoolError;
use super::queue::{Inserted, QueueLimits, TxQueue};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::Signature;
use bcos_types::{Address, RecoveredTx, Tx, TxKind, U256};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn limits() -> QueueLimits {
    QueueLimits {
        txs_max: 100,
        bytes_max: 1 << 20,
        per_sender_max: 10,
        nonce_gap_max: 20,
        price_bump_percent: 10,
        gapped_per_sender_max: 10,
        gapped_txs_max: 100,
        gapped_lifetime: Duration::from_secs(60),
    }
}

/// The queue under test with a fixed clock: `insert` at `T0` unless a test says otherwise.
struct Q {
    q: TxQueue,
    t0: Instant,
}

impl Q {
    fn new(limits: QueueLimits) -> Self {
        Q {
            q: TxQueue::new(limits),
            t0: Instant::now(),
        }
    }
    fn insert(&mut self, tx: RecoveredTx, state_nonce: u64) -> Result<Inserted, PoolError> {
        let r = self.q.insert(tx, state_nonce, self.t0);
        self.q.check_invariants();
        r
    }
}

impl std::ops::Deref for Q {
    type Target = TxQueue;
    fn deref(&self) -> &TxQueue {
        &self.q
    }
}

impl std::ops::DerefMut for Q {
    fn deref_mut(&mut self) -> &mut TxQueue {
        &mut self.q
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
    let mut q = Q::new(limits());
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
    let mut q = Q::new(limits());
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
    let mut q = Q::new(limits());
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
    let mut q = Q::new(QueueLimits {
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
    let mut q = Q::new(QueueLimits {
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
    let mut q = Q::new(limits());
    for s in 1..=3 {
        for n in 0..3 {
            q.insert(tx(s, n, 10), 0).unwrap();
        }
    }
    assert_eq!(q.take_ready(4, u64::MAX).len(), 4);
    assert_eq!(q.take_ready(100, 21_000 * 5).len(), 5);
}

/// SEAL-R6: the block after one still committing takes each sender's run past what that
/// block holds, skips a sender the block refused, and never reaches past the ready run.
#[test]
fn take_after_a_pending_block_skips_what_it_holds() {
    let mut q = Q::new(limits());
    for s in 1..=3u8 {
        for n in 0..3 {
            q.insert(tx(s, n, 10), 0).unwrap();
        }
    }
    q.insert(tx(4, 5, 10), 5).unwrap();
    let taken: std::collections::HashMap<Address, u64> = [
        (Address::repeat_byte(1), 2),        // nonces 0 and 1 pending
        (Address::repeat_byte(2), u64::MAX), // refused in the pending block
        (Address::repeat_byte(4), 9),        // past its whole run
    ]
    .into();
    let next: Vec<(u8, u64)> = q
        .take_ready_after(100, u64::MAX, &taken)
        .iter()
        .map(|t| (t.sender.0[0], t.nonce()))
        .collect();
    assert_eq!(next, vec![(1, 2), (3, 0), (3, 1), (3, 2)]);
    // Limits count only what is taken.
    assert_eq!(q.take_ready_after(2, u64::MAX, &taken).len(), 2);
    // Nothing pending: the same as `take_ready`.
    assert_eq!(
        q.take_ready_after(100, u64::MAX, &Default::default()).len(),
        q.take_ready(100, u64::MAX).len()
    );
}

/// Senders are proposed in the order their queues opened (not in a hash map's order, which
/// changes with the process's hash seed and made a seeded simulation unreplayable); a sender
/// whose queue emptied and reopened goes to the back.
#[test]
fn senders_are_taken_in_arrival_order() {
    let mut q = Q::new(limits());
    for s in [9u8, 3, 7, 1, 5] {
        q.insert(tx(s, 0, 10), 0).unwrap();
        q.insert(tx(s, 1, 10), 0).unwrap();
    }
    let order = |q: &Q| -> Vec<u8> {
        q.take_ready(100, u64::MAX)
            .iter()
            .map(|t| t.sender.0[0])
            .collect()
    };
    assert_eq!(order(&q), vec![9, 9, 3, 3, 7, 7, 1, 1, 5, 5]);
    q.remove_committed(&Address::repeat_byte(3), 1);
    q.check_invariants();
    q.insert(tx(3, 2, 10), 2).unwrap();
    q.check_invariants();
    assert_eq!(order(&q), vec![9, 9, 7, 7, 1, 1, 5, 5, 3]);
    assert_eq!(
        q.take_ready(3, u64::MAX)
            .iter()
            .map(|t| t.sender.0[0])
            .collect::<Vec<_>>(),
        vec![9, 9, 7]
    );
}

#[test]
fn commit_advances_and_rejection_drops_successors() {
    let mut q = Q::new(limits());
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

#[test]
fn filling_a_gap_makes_its_successors_ready() {
    let mut q = Q::new(limits());
    assert!(!q.insert(tx(1, 2, 10), 0).unwrap().ready);
    assert!(!q.insert(tx(1, 1, 10), 0).unwrap().ready);
    assert_eq!((q.ready_len(), q.gapped_len()), (0, 2));
    assert!(q.insert(tx(1, 0, 10), 0).unwrap().ready);
    assert_eq!((q.ready_len(), q.gapped_len()), (3, 0));
    assert_eq!(q.pending_nonce(&Address::repeat_byte(1)), Some(3));
    q.remove_rejected(&Address::repeat_byte(1), 1);
    q.check_invariants();
    assert_eq!((q.ready_len(), q.gapped_len()), (1, 0));
}

/// Regression (issue 10, item 10): gapped transactions used to share every slot with ready
/// ones and never left, so a few fresh keys could fill the pool for good with transactions
/// no leader can propose. Forty attacker keys each send gapped nonces until refused; an
/// honest sender's next nonce must still get in.
#[test]
fn gapped_transactions_cannot_crowd_out_ready_ones() {
    let mut q = Q::new(QueueLimits {
        txs_max: 400,
        per_sender_max: 10,
        gapped_per_sender_max: 5,
        gapped_txs_max: 40,
        ..limits()
    });
    let mut accepted = 0;
    for attacker in 100..140u8 {
        for nonce in 1..=10 {
            match q.insert(tx(attacker, nonce, 10), 0) {
                Ok(i) => {
                    assert!(!i.ready);
                    accepted += 1;
                }
                Err(
                    PoolError::GappedSenderFull { .. }
                    | PoolError::GappedPoolFull { .. }
                    | PoolError::PoolFull { .. },
                ) => {}
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
    }
    assert_eq!(accepted, 40, "only gapped_txs_max gapped transactions fit");
    assert_eq!(q.gapped_len(), 40);
    assert!(matches!(
        q.insert(tx(1, 3, 10), 0),
        Err(PoolError::GappedPoolFull {
            count: 40,
            limit: 40
        })
    ));
    for nonce in 0..10 {
        assert!(q.insert(tx(1, nonce, 10), 0).unwrap().ready);
    }
    assert_eq!(q.ready_len(), 10);
    assert_eq!(q.take_ready(100, u64::MAX).len(), 10);
}

#[test]
fn gapped_transactions_expire_ready_ones_do_not() {
    let mut q = Q::new(limits());
    let t0 = q.t0;
    let lifetime = limits().gapped_lifetime;
    q.insert(tx(1, 0, 10), 0).unwrap();
    q.insert(tx(1, 2, 10), 0).unwrap();
    q.q.insert(tx(2, 5, 10), 0, t0 + Duration::from_secs(30))
        .unwrap();
    assert_eq!(q.gapped_len(), 2);
    assert_eq!(q.expire_gapped(t0 + lifetime - Duration::from_millis(1)), 0);
    assert_eq!(q.expire_gapped(t0 + lifetime), 1);
    q.check_invariants();
    assert_eq!((q.len(), q.gapped_len()), (2, 1));
    assert_eq!(q.expire_gapped(t0 + lifetime + Duration::from_secs(30)), 1);
    q.check_invariants();
    assert_eq!(
        q.next_nonce(&Address::repeat_byte(2)),
        None,
        "emptied sender forgotten"
    );
    // The ready transaction stays however old it is.
    assert_eq!(q.expire_gapped(t0 + lifetime * 100), 0);
    assert_eq!(q.ready_len(), 1);
}

#[test]
fn sweeps_run_at_most_once_per_interval() {
    let mut q = Q::new(QueueLimits {
        gapped_lifetime: Duration::ZERO,
        ..limits()
    });
    let t0 = q.t0;
    q.insert(tx(1, 3, 10), 0).unwrap();
    assert_eq!(q.expire_gapped_if_due(t0), 1);
    q.insert(tx(1, 3, 10), 0).unwrap();
    assert_eq!(q.expire_gapped_if_due(t0 + Duration::from_millis(10)), 0);
    let next = t0 + super::queue::GAPPED_SWEEP_INTERVAL;
    assert_eq!(q.expire_gapped_if_due(next), 1);
}

/// Regression: the replacement bump was `old_fee * (100 + bump) / 100` in u128, which wraps
/// for a large fee cap and let a barely higher fee replace a pooled transaction.
#[test]
fn replacement_bump_does_not_overflow() {
    let mut q = Q::new(limits());
    let half = u128::MAX / 2;
    q.insert(tx(1, 0, half), 0).unwrap();
    assert_eq!(
        q.insert(tx(1, 0, half + 1), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    // A 10 % bump on a fee cap near the top of u128 is more than any u128 fee.
    q.insert(tx(2, 0, u128::MAX - 10), 0).unwrap();
    assert_eq!(
        q.insert(tx(2, 0, u128::MAX), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    // A configured bump near u64::MAX must not wrap `100 + bump` either.
    let mut q = Q::new(QueueLimits {
        price_bump_percent: u64::MAX,
        ..limits()
    });
    q.insert(tx(1, 0, 2), 0).unwrap();
    assert_eq!(
        q.insert(tx(1, 0, 1_000), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
}

#[test]
fn max_nonce_is_refused() {
    let mut q = Q::new(QueueLimits {
        nonce_gap_max: u64::MAX,
        ..limits()
    });
    assert_eq!(q.insert(tx(1, u64::MAX, 10), 0), Err(PoolError::NonceMax));
    assert!(
        q.insert(tx(1, u64::MAX - 1, 10), u64::MAX - 1)
            .unwrap()
            .ready
    );
    q.remove_committed(&Address::repeat_byte(1), u64::MAX - 1);
    assert!(q.is_empty());
}

proptest::proptest! {
    /// Any sequence of inserts, commits, rejections and expiries keeps the ready/gapped
    /// bookkeeping equal to a recount from scratch.
    #[test]
    fn bookkeeping_survives_any_sequence(
        ops in proptest::collection::vec((0u8..4, 1u8..4, 0u64..12, 0u64..90), 1..80)
    ) {
        let mut q = Q::new(QueueLimits { gapped_per_sender_max: 4, gapped_txs_max: 7, ..limits() });
        let t0 = q.t0;
        for (op, sender, nonce, secs) in ops {
            let s = Address::repeat_byte(sender);
            match op {
                0 | 1 => {
                    let _ = q.q.insert(tx(sender, nonce, 10 + secs as u128), 0, t0 + Duration::from_secs(secs));
                }
                2 if secs % 2 == 0 => {
                    q.remove_committed(&s, nonce);
                }
                2 => q.remove_rejected(&s, nonce),
                _ => {
                    q.expire_gapped(t0 + Duration::from_secs(secs));
                }
            }
            q.check_invariants();
            proptest::prop_assert!(q.gapped_len() <= 7);
        }
    }
}
