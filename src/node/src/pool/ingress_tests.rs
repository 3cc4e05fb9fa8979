//! `Ingress::submit_many`: a batch gets the verdicts its transactions would get one by one,
//! in order, within the queue's bounds.

use super::test_support::{commit_diff, funded, pool, transfer};
use super::*;
use bcos_crypto::keys::address_of;
use bcos_crypto::sign::sign_tx;
use bcos_storage::MemStore;
use bcos_types::{StateDiff, Tx};
use secp256k1::SecretKey;
use std::future::Future;
use std::task::{Context, Waker};

fn key() -> SecretKey {
    SecretKey::from_byte_array([7u8; 32]).expect("a valid secret key")
}

fn signed(nonce: u64) -> Arc<Tx> {
    Arc::new(Tx::from_envelope(sign_tx(transfer(nonce), &key())))
}

/// A pool over a store whose genesis gives the key's account `nonce` and funds.
fn pool_with_nonce(nonce: u64) -> Arc<Pool> {
    let store = Arc::new(MemStore::new());
    let mut diff = StateDiff::default();
    diff.accounts
        .insert(address_of(&key()), Some(funded(nonce)));
    commit_diff(&store, 0, &diff);
    Arc::new(pool(store))
}

fn ingress(pool: &Arc<Pool>, bytes_max: usize, batch_max: usize) -> Arc<Ingress> {
    let recoverer = bcos_crypto::BatchRecoverer::new(
        bcos_crypto::BatchConfig {
            thread_count: 1,
            ..Default::default()
        },
        Arc::new(bcos_crypto::SenderCache::with_capacity(64)),
    )
    .expect("a recoverer");
    Ingress::start(
        pool.clone(),
        Arc::new(recoverer),
        1_000,
        bytes_max,
        batch_max,
    )
}

#[tokio::test]
async fn a_batch_gets_each_transactions_own_verdict_in_order() {
    let pool = pool_with_nonce(1);
    let ingress = ingress(&pool, 1 << 20, 64);
    let batch = vec![signed(1), signed(2), signed(1), signed(0), signed(3)];
    let verdicts = ingress.submit_many(batch.clone()).await;
    assert_eq!(verdicts.len(), batch.len());
    assert_eq!(verdicts[0], Ok(batch[0].hash()));
    assert_eq!(verdicts[1], Ok(batch[1].hash()));
    assert_eq!(verdicts[2], Err(PoolError::AlreadyKnown));
    assert!(
        matches!(verdicts[3], Err(PoolError::NonceTooLow { .. })),
        "{:?}",
        verdicts[3]
    );
    assert_eq!(verdicts[4], Ok(batch[4].hash()));
    // Queued in order: nonces 1, 2, 3 are all ready, none waits for a gap.
    assert_eq!(pool.ready_len(), 3);
    ingress.close();
}

/// Each transaction of a batch counts against the queue's byte bound as if submitted
/// alone: those without room are refused as busy, the others still get their verdicts.
#[tokio::test]
async fn a_batch_past_the_queue_bound_is_refused_per_transaction() {
    let pool = pool_with_nonce(0);
    let one = signed(0).encoded_len();
    // One transaction per batch, and room for two queued.
    let ingress = ingress(&pool, 2 * one, 1);
    let batch: Vec<_> = (0..5).map(signed).collect();
    // While the test holds the queue lock the ingress thread stops inside its first batch,
    // so the queue fills from this batch and nothing drains it. One poll queues the batch.
    let held = pool.queue.lock();
    let mut submitted = std::pin::pin!(ingress.submit_many(batch.clone()));
    let first_poll = submitted
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(first_poll.is_pending(), "no verdict while the pool is held");
    drop(held);
    let verdicts = submitted.await;
    let accepted = verdicts.iter().filter(|v| v.is_ok()).count();
    assert!(
        (1..=3).contains(&accepted),
        "one in the stuck batch, two queued at most: {verdicts:?}"
    );
    for (tx, verdict) in batch.iter().zip(&verdicts) {
        match verdict {
            Ok(hash) => assert_eq!(*hash, tx.hash()),
            Err(PoolError::BusyBytes { limit, .. }) => assert_eq!(*limit, 2 * one),
            Err(e) => panic!("unexpected verdict {e:?}"),
        }
    }
    ingress.close();
}

#[tokio::test]
async fn a_batch_after_close_is_refused_whole() {
    let pool = pool_with_nonce(0);
    let ingress = ingress(&pool, 1 << 20, 64);
    ingress.close();
    let verdicts = ingress.submit_many(vec![signed(0), signed(1)]).await;
    assert_eq!(
        verdicts,
        vec![Err(PoolError::ShuttingDown), Err(PoolError::ShuttingDown)]
    );
    assert!(ingress.submit_many(Vec::new()).await.is_empty());
}
