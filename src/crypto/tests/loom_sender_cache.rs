//! Loom model of `SenderCache` under concurrent insert / get / eviction.
//!
//! Run with (see the crate docs):
//! `CARGO_TARGET_DIR=/var/cache/bcos-target-loom RUSTFLAGS="--cfg loom" cargo test --release -p bcos-crypto --test loom_sender_cache`
//!
//! Invariants checked in every explored interleaving:
//! - a `get` returns only a sender that was inserted for that hash;
//! - the number of entries never exceeds the capacity, and each shard's map and FIFO agree.
#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, B256};
use bcos_crypto::{SenderCache, SenderCacheConfig};
use loom::sync::Arc;
use loom::thread;

fn h(i: u8) -> B256 {
    B256::repeat_byte(i)
}
fn a(i: u8) -> Address {
    Address::repeat_byte(i)
}

/// One shard of capacity 2, three keys: every third insert evicts while others read.
#[test]
fn concurrent_insert_get_evict_one_shard() {
    loom::model(|| {
        let cache = Arc::new(SenderCache::new(SenderCacheConfig {
            capacity_entries: 2,
            shard_count: 1,
        }));
        let writer = {
            let c = cache.clone();
            thread::spawn(move || {
                c.insert(h(1), a(1));
                c.insert(h(2), a(2));
            })
        };
        let evicter = {
            let c = cache.clone();
            thread::spawn(move || {
                c.insert(h(3), a(3));
                assert!(c.len() <= 2);
                if let Some(s) = c.get(&h(1)) {
                    assert_eq!(s, a(1));
                }
            })
        };
        for i in [2u8, 3] {
            if let Some(s) = cache.get(&h(i)) {
                assert_eq!(s, a(i), "sender for the wrong hash");
            }
        }
        writer.join().unwrap();
        evicter.join().unwrap();
        assert!(cache.len() <= 2);
        cache.check_invariants().unwrap();
        // The last insert into the shard is always present.
        assert!(cache.get(&h(2)).is_some() || cache.get(&h(3)).is_some());
    });
}

/// Two shards (capacity 1 each), racing inserts of the same and different hashes.
#[test]
fn concurrent_same_hash_inserts_two_shards() {
    loom::model(|| {
        let cache = Arc::new(SenderCache::new(SenderCacheConfig {
            capacity_entries: 2,
            shard_count: 2,
        }));
        let handles: Vec<_> = [(1u8, 2u8), (1, 4)]
            .into_iter()
            .map(|(x, y)| {
                let c = cache.clone();
                thread::spawn(move || {
                    c.insert(h(x), a(x));
                    c.insert(h(y), a(y));
                    for k in [1u8, 2, 4] {
                        if let Some(s) = c.get(&h(k)) {
                            assert_eq!(s, a(k));
                        }
                    }
                    assert!(c.len() <= 2);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        cache.check_invariants().unwrap();
        assert!(cache.len() <= 2);
    });
}

/// Two callers miss the same hash: exactly one claims and recovers it, the other waits for
/// the claim and reads the entry; no interleaving loses the wake-up or recovers twice.
#[test]
fn racing_claims_recover_once_and_wake_the_waiter() {
    use bcos_crypto::Lookup;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::model(|| {
        let cache = Arc::new(SenderCache::new(SenderCacheConfig {
            capacity_entries: 4,
            shard_count: 1,
        }));
        let recoveries = Arc::new(AtomicUsize::new(0));
        let caller = |cache: Arc<SenderCache>, recoveries: Arc<AtomicUsize>| {
            move || {
                let found = match cache.lookup_or_claim(&h(7)) {
                    Lookup::InFlight => cache.wait_for(&h(7)),
                    other => other,
                };
                match found {
                    Lookup::Hit(s) => assert_eq!(s, a(7)),
                    Lookup::Claimed => {
                        recoveries.fetch_add(1, Ordering::SeqCst);
                        cache.resolve(h(7), Some(a(7)));
                    }
                    Lookup::InFlight => panic!("wait_for never answers InFlight"),
                }
            }
        };
        let other = thread::spawn(caller(cache.clone(), recoveries.clone()));
        caller(cache.clone(), recoveries.clone())();
        other.join().unwrap();
        assert_eq!(recoveries.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get(&h(7)), Some(a(7)));
        assert_eq!(cache.claimed_len(), 0);
        cache.check_invariants().unwrap();
    });
}
