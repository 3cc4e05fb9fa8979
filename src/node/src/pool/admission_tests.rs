//! Admission against committed state, including a block that lands between the state reads
//! and the queue update.

use super::test_support::{commit_diff, funded, pool, rules, transfer};
use super::*;
use crate::config::PoolConfig;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::Signature;
use bcos_storage::MemStore;
use bcos_types::{StateDiff, Tx, TxKind};

const SENDER: Address = Address::repeat_byte(0xaa);

/// A transaction with a fake signature: admission takes the sender as recovered.
fn tx(nonce: u64) -> RecoveredTx {
    let unsigned = transfer(nonce);
    let env: TxEnvelope = unsigned
        .into_signed(Signature::new(U256::from(1), U256::from(2), false))
        .into();
    RecoveredTx::new(Arc::new(Tx::from_envelope(env)), SENDER)
}

/// Commits block `number` setting the sender's nonce.
fn commit(store: &MemStore, number: u64, nonce: u64) {
    let mut diff = StateDiff::default();
    diff.accounts.insert(SENDER, Some(funded(nonce)));
    commit_diff(store, number, &diff);
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

/// A transaction from `sender` moving `value`, with a fake signature (sent to the sender
/// itself, so different senders' transactions have different hashes).
fn tx_from(sender: Address, nonce: u64, value: U256) -> RecoveredTx {
    let unsigned = TxEip1559 {
        chain_id: 20200,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(sender),
        value,
        ..Default::default()
    };
    let env: TxEnvelope = unsigned
        .into_signed(Signature::new(U256::from(1), U256::from(2), false))
        .into();
    RecoveredTx::new(Arc::new(Tx::from_envelope(env)), sender)
}

/// Regression (issue 10, item 10): with a wrapping `max_cost`, a value of
/// 2^256 - gas × fee made the cost 0 and an account with no balance passed the check.
#[test]
fn a_cost_that_overflows_is_refused_not_wrapped() {
    let store = Arc::new(MemStore::new());
    commit(&store, 0, 0);
    let p = pool(store);
    let empty = Address::repeat_byte(0x01);
    let gas_cost = U256::from(21_000u64 * 10);
    let wraps_to_zero = U256::ZERO.wrapping_sub(gas_cost);
    let tx = tx_from(empty, 0, wraps_to_zero);
    assert_eq!(p.rules().check(&tx), Err(PoolError::CostOverflow));
    let out = p.admit_batch(vec![Ok(tx)]);
    assert_eq!(out[0], Err(PoolError::CostOverflow));
    assert!(p.is_empty());
}

/// Regression (issue 10, item 10), end to end through admission: forty funded keys send
/// only gapped nonces until the pool refuses them; an honest sender still gets in, and the
/// proposable count the consensus driver reads ignores the gapped ones.
#[test]
fn forty_keys_of_gapped_transactions_leave_room_for_honest_ones() {
    let store = Arc::new(MemStore::new());
    let attackers: Vec<Address> = (0..40u8).map(|i| Address::repeat_byte(0x40 + i)).collect();
    let mut diff = StateDiff::default();
    for a in attackers.iter().chain([&SENDER]) {
        diff.accounts.insert(*a, Some(funded(0)));
    }
    commit_diff(&store, 0, &diff);
    let config = PoolConfig {
        txs_max: 400,
        per_sender_max: 10,
        // The default ratio: a tenth of the pool for gapped transactions.
        gapped_txs_max: 40,
        ..PoolConfig::default()
    };
    let p = Pool::new(
        &config,
        rules(),
        store,
        Doorbell::new(),
        Arc::new(Metrics::default()),
    );
    let flood: Vec<_> = attackers
        .iter()
        .flat_map(|a| (1..=10).map(move |n| Ok(tx_from(*a, n, U256::ZERO))))
        .collect();
    let admitted = p.admit_batch(flood).iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, config.gapped_txs_max);
    assert_eq!(p.ready_len(), 0);
    assert!(
        !p.has_ready(),
        "gapped transactions are not work a leader can do"
    );

    let honest: Vec<_> = (0..5).map(|n| Ok(tx(n))).collect();
    assert!(p.admit_batch(honest).iter().all(Result::is_ok));
    assert_eq!(p.ready_len(), 5);
    assert_eq!(p.take_ready(100, u64::MAX).len(), 5);
}

/// The ingress queue is bounded in bytes as well as in count: peers' forwarded
/// transactions queue without waiting for a verdict, and a count of 100,000 transactions of
/// up to 128 KiB each would allow 12 GiB.
#[test]
fn the_ingress_queue_is_bounded_in_bytes() {
    let store = Arc::new(MemStore::new());
    commit(&store, 0, 0);
    let p = Arc::new(pool(store));
    let recoverer = bcos_crypto::BatchRecoverer::new(
        bcos_crypto::BatchConfig {
            thread_count: 1,
            ..Default::default()
        },
        Arc::new(bcos_crypto::SenderCache::with_capacity(16)),
    )
    .unwrap();
    let one = tx(0).encoded_len();
    // One transaction per batch, and room for two queued.
    let ingress = Ingress::start(p.clone(), Arc::new(recoverer), 1_000, 2 * one, 1);
    // While the test holds the queue lock, the ingress thread stops inside its first
    // batch, so the queue fills from the offers below and nothing drains it.
    let held = p.queue.lock();
    let outcomes: Vec<_> = (0..5).map(|n| ingress.offer(tx(n).tx)).collect();
    drop(held);
    let accepted = outcomes.iter().filter(|r| r.is_ok()).count();
    assert!(
        accepted <= 3,
        "one in the stuck batch and two queued at most: {outcomes:?}"
    );
    assert!(outcomes.iter().all(|r| match r {
        Ok(()) => true,
        Err(PoolError::BusyBytes { limit, .. }) => *limit == 2 * one,
        Err(_) => false,
    }));
    ingress.close();
}
