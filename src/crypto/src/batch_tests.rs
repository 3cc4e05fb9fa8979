//! Tests of `BatchRecoverer`: order, equality with one-by-one recovery, and the cache.

use crate::testing::{key, of_type, with_signature};
use crate::{recover_sender, BatchConfig, BatchRecoverer, RecoverStats, SenderCache};
use alloy_primitives::{Signature, U256};
use bcos_types::{Tx, TxError};
use proptest::prelude::*;
use std::sync::Arc;

fn recoverer(parallel_min_txs: usize, cache_entries: usize) -> BatchRecoverer {
    let cache = Arc::new(SenderCache::with_capacity(cache_entries));
    BatchRecoverer::new(
        BatchConfig {
            thread_count: 2,
            parallel_min_txs,
        },
        cache,
    )
    .unwrap()
}

/// How a generated transaction is damaged.
#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    FlipR,
    HighS,
    ZeroS,
    FlipParity,
    /// A copy of the previous transaction in the batch (a duplicate hash).
    Repeat,
}

fn build(specs: &[(u8, u8, u64, Damage)]) -> Vec<Arc<Tx>> {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let mut out: Vec<Arc<Tx>> = Vec::new();
    for &(ty, k, nonce, damage) in specs {
        if let (Damage::Repeat, Some(prev)) = (damage, out.last()) {
            out.push(prev.clone());
            continue;
        }
        let env = of_type(ty, nonce, 1, vec![], &key(k));
        let sig = *env.signature();
        let env = match damage {
            Damage::None | Damage::Repeat => env,
            Damage::FlipR => with_signature(
                &env,
                Signature::new(sig.r() ^ U256::from(4u8), sig.s(), sig.v()),
            ),
            Damage::HighS => with_signature(&env, Signature::new(sig.r(), n - sig.s(), !sig.v())),
            Damage::ZeroS => with_signature(&env, Signature::new(sig.r(), U256::ZERO, sig.v())),
            Damage::FlipParity => with_signature(&env, Signature::new(sig.r(), sig.s(), !sig.v())),
        };
        out.push(Arc::new(Tx::from_envelope(env)));
    }
    out
}

fn sequential(txs: &[Arc<Tx>]) -> Vec<Result<alloy_primitives::Address, TxError>> {
    txs.iter().map(|tx| recover_sender(tx)).collect()
}

fn senders(
    results: Vec<Result<bcos_types::RecoveredTx, TxError>>,
    txs: &[Arc<Tx>],
) -> Vec<Result<alloy_primitives::Address, TxError>> {
    results
        .into_iter()
        .zip(txs)
        .map(|(r, tx)| {
            r.map(|rt| {
                assert_eq!(rt.hash(), tx.hash(), "result out of order");
                rt.sender
            })
        })
        .collect()
}

#[test]
fn batch_equals_one_by_one_and_keeps_order() {
    let specs: Vec<_> = (0..40u64)
        .map(|i| {
            let damage = match i % 7 {
                3 => Damage::HighS,
                5 => Damage::FlipR,
                6 => Damage::ZeroS,
                _ => Damage::None,
            };
            ((i % 3) as u8, (i % 5) as u8 + 1, i, damage)
        })
        .collect();
    let txs = build(&specs);
    let expected = sequential(&txs);
    assert!(expected.iter().any(|r| r.is_err()) && expected.iter().any(|r| r.is_ok()));
    for parallel_min_txs in [0, 4, 1000] {
        let r = recoverer(parallel_min_txs, 1000);
        assert_eq!(senders(r.recover_batch(txs.clone()), &txs), expected);
        let one: Vec<_> = txs
            .iter()
            .map(|tx| r.recover_one(tx.clone()).map(|t| t.sender))
            .collect();
        assert_eq!(one, expected);
    }
    assert!(recoverer(0, 0).recover_batch(vec![]).is_empty());
}

#[test]
fn cache_prevents_a_second_recovery() {
    let txs = build(&[
        (0, 1, 0, Damage::None),
        (1, 2, 1, Damage::None),
        (2, 3, 2, Damage::None),
    ]);
    let r = recoverer(0, 100);
    let first = r.recover_batch(txs.clone());
    assert_eq!(r.recoveries_total(), 3);
    assert_eq!(r.recover_batch(txs.clone()), first);
    assert_eq!(
        r.recoveries_total(),
        3,
        "second batch served from the cache"
    );
    assert_eq!(r.cache_hits_total(), 3);
    for tx in &txs {
        r.recover_one(tx.clone()).unwrap();
    }
    assert_eq!(r.recoveries_total(), 3, "recover_one uses the same cache");
    assert_eq!(r.cache().len(), 3);
}

#[test]
fn duplicates_within_a_batch_are_recovered_once() {
    let base = build(&[(2, 4, 9, Damage::None), (0, 4, 10, Damage::HighS)]);
    let txs: Vec<_> = (0..10).map(|i| base[i % 2].clone()).collect();
    for parallel_min_txs in [0, 1000] {
        let r = recoverer(parallel_min_txs, 100);
        let out = senders(r.recover_batch(txs.clone()), &txs);
        assert_eq!(out, sequential(&txs));
        assert_eq!(r.recoveries_total(), 2);
        // Invalid signatures are not cached: a resubmitted bad tx is checked again.
        assert_eq!(r.cache().len(), 1);
    }
}

#[test]
fn zero_capacity_cache_still_recovers_correctly() {
    let txs = build(&[(1, 1, 0, Damage::None), (1, 1, 0, Damage::Repeat)]);
    let r = recoverer(0, 0);
    assert_eq!(
        senders(r.recover_batch(txs.clone()), &txs),
        sequential(&txs)
    );
    assert_eq!(
        senders(r.recover_batch(txs.clone()), &txs),
        sequential(&txs)
    );
    assert_eq!(
        r.recoveries_total(),
        2,
        "one per batch: duplicates deduplicated, nothing cached"
    );
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => Just(Damage::None),
        1 => Just(Damage::FlipR),
        1 => Just(Damage::HighS),
        1 => Just(Damage::ZeroS),
        1 => Just(Damage::FlipParity),
        1 => Just(Damage::Repeat),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn batch_recovery_equals_sequential(
        specs in proptest::collection::vec((0u8..3, 1u8..6, 0u64..4, damage()), 0..24),
        parallel_min_txs in 0usize..8,
        cache_entries in prop_oneof![Just(0usize), Just(3), Just(1000)],
        warm in any::<prop::sample::Index>(),
    ) {
        let txs = build(&specs);
        let expected = sequential(&txs);
        let r = recoverer(parallel_min_txs, cache_entries);
        // Warm the cache with a prefix, so batches mix hits, misses and duplicates.
        let prefix = if txs.is_empty() { 0 } else { warm.index(txs.len()) };
        r.recover_batch(txs[..prefix].to_vec());
        prop_assert_eq!(senders(r.recover_batch(txs.clone()), &txs), expected);
        r.cache().check_invariants().map_err(TestCaseError::fail)?;
    }
}

#[test]
fn default_pool_uses_every_core() {
    let r = BatchRecoverer::new(BatchConfig::default(), Arc::new(SenderCache::default())).unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    assert_eq!(r.thread_count(), cores);
    assert_eq!(r.cache().capacity_entries(), 1_000_000);
}

/// Callers racing on the same new hashes (the ingress batch and the block that holds the same
/// transactions) recover each hash once between them: the later caller waits for the claim.
#[test]
fn concurrent_batches_recover_each_hash_once() {
    let specs: Vec<_> = (0..120u64)
        .map(|i| ((i % 3) as u8, (i % 5 + 1) as u8, i, Damage::None))
        .collect();
    let txs = build(&specs);
    for parallel_min_txs in [0usize, 1_000] {
        let r = Arc::new(recoverer(parallel_min_txs, 10_000));
        let stats: Vec<RecoverStats> = std::thread::scope(|s| {
            let callers: Vec<_> = (0..4)
                .map(|k| {
                    let (r, mut mine) = (r.clone(), txs.clone());
                    // Each caller sees the batch in another order, so claims interleave.
                    mine.rotate_left(k * 30);
                    s.spawn(move || {
                        let (out, stats) = r.recover_batch_counted(mine.clone());
                        assert_eq!(senders(out, &mine), sequential(&mine));
                        stats
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(r.recoveries_total(), txs.len() as u64);
        assert_eq!(stats.iter().map(|s| s.recovered).sum::<usize>(), txs.len());
        assert_eq!(
            stats.iter().map(|s| s.cache_hits).sum::<usize>(),
            3 * txs.len(),
            "every other sighting is a hit: {stats:?}"
        );
        assert_eq!(r.cache().claimed_len(), 0);
        r.cache().check_invariants().unwrap();
    }
}

/// A signature that fails to recover is not cached: a waiter that finds the claim released
/// without an entry recovers it itself and gets the same error.
#[test]
fn a_failed_claim_is_retried_by_the_next_caller() {
    let txs = build(&[(2, 1, 0, Damage::ZeroS)]);
    let r = recoverer(0, 100);
    assert_eq!(
        r.cache().lookup_or_claim(&txs[0].hash()),
        crate::Lookup::Claimed
    );
    std::thread::scope(|s| {
        let waiter = s.spawn(|| r.recover_batch_counted(txs.clone()));
        r.cache().resolve(txs[0].hash(), None);
        let (out, stats) = waiter.join().unwrap();
        assert_eq!(out[0].as_ref().err(), Some(&TxError::InvalidSignature));
        assert_eq!(stats.recovered, 1);
    });
    assert_eq!(r.cache().claimed_len(), 0);
}
