//! CachedStore (the state cache in front of any ChainStore, spec/durability.md §2.1): after
//! every commit through `CachedStore<MemStore>`, every account and slot reads as in a plain
//! MemStore given the same commits, with eviction, refused commits and cleared caches in
//! between; readers racing commits never keep a stale value.

mod common;

use bcos_storage::{CachedStore, ChainStore, MemStore, StorageError};
use bcos_types::{Account, StateDiff, B256, U256};
use common::state_ops::*;
use common::*;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The next block on `store`'s head, carrying `diff`.
fn next_commit(store: &dyn ChainStore, diff: StateDiff) -> Commit {
    let head = store.head();
    let mut c = make_commit(
        head.map_or(B256::ZERO, |h| h.1),
        head.map_or(0, |h| h.0 + 1),
        1,
        0,
    );
    c.diff = diff;
    c
}

/// What happens around one block.
#[derive(Debug, Clone)]
struct Step {
    ops: Vec<Op>,
    /// Keys (indexes into `all_keys`) read before the commit, so cached values are old.
    reads_before: Vec<usize>,
    /// A refused commit (a gap) goes through the wrapper first: DUR-C4 clears the cache.
    refused_first: bool,
    /// The cache is cleared after the commit, as a restart does.
    clear_after: bool,
}

fn step() -> impl Strategy<Value = Step> {
    let keys = all_keys().len();
    (
        proptest::collection::vec(op(), 0..12),
        proptest::collection::vec(0..keys, 0..16),
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(ops, reads_before, refused_first, clear_after)| Step {
            ops,
            reads_before,
            refused_first,
            clear_after,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random commits through `CachedStore<MemStore>` and into a plain MemStore: after each,
    /// every key read (in a random order, twice: miss then hit) is equal, as are the head,
    /// the block and the transaction count; cache bounds from one entry per shard
    /// (constant eviction) to one that never evicts here.
    #[test]
    fn cached_store_reads_match_memstore(
        entries in prop_oneof![Just(1usize), Just(2), Just(1024)],
        steps in proptest::collection::vec(step(), 1..12),
        order in Just(all_keys()).prop_shuffle(),
    ) {
        let cached = CachedStore::with_entries_per_shard(MemStore::new(), entries);
        let plain = MemStore::new();
        let keys = all_keys();
        let check = |cached: &CachedStore<MemStore>, plain: &MemStore| -> Result<(), TestCaseError> {
            for _ in 0..2 {
                for key in &order {
                    prop_assert_eq!(read(cached, *key), read(plain, *key), "{:?}", key);
                }
            }
            prop_assert_eq!(cached.head(), plain.head());
            prop_assert_eq!(cached.total_tx_count(), plain.total_tx_count());
            if let Some((h, _)) = plain.head() {
                prop_assert_eq!(
                    cached.committed_block(h).expect("read").map(|b| b.block.hash),
                    plain.committed_block(h).expect("read").map(|b| b.block.hash)
                );
            }
            Ok(())
        };
        // Negative entries first, so the first commit overwrites cached "absent" values.
        check(&cached, &plain)?;
        for s in &steps {
            for &i in &s.reads_before {
                prop_assert_eq!(read(&cached, keys[i]), read(&plain, keys[i]));
            }
            let c = next_commit(&plain, diff_of(&s.ops));
            if s.refused_first {
                let mut gap = make_commit(B256::repeat_byte(7), c.block.number() + 1, 0, 3);
                gap.diff = diff_of(&s.ops);
                let refused = cached.commit_block(gap.as_commit());
                prop_assert!(
                    matches!(refused, Err(StorageError::NotNext { .. })),
                    "{:?}",
                    refused
                );
                prop_assert_eq!(cached.cache_stats().entries, 0);
            }
            cached.commit_block(c.as_commit()).expect("commit");
            plain.commit_block(c.as_commit()).expect("commit");
            if s.clear_after {
                cached.clear_cache();
            }
            check(&cached, &plain)?;
        }
        let stats = cached.state_cache_stats().expect("a cache");
        prop_assert!(stats.hits > 0 && stats.misses > 0, "{:?}", stats);
        prop_assert!(stats.bytes <= stats.bytes_max, "{:?}", stats);
    }
}

#[test]
fn a_cache_too_small_for_one_entry_per_shard_reads_through() {
    let cached = CachedStore::new(MemStore::new(), 1);
    let plain = MemStore::new();
    let c = next_commit(
        &plain,
        diff_of(&[Op::Account(1, Some((1, 2))), Op::Slot(1, 1, 3)]),
    );
    cached.commit_block(c.as_commit()).expect("commit");
    plain.commit_block(c.as_commit()).expect("commit");
    for key in all_keys() {
        assert_eq!(read(&cached, key), read(&plain, key));
    }
    assert_eq!(cached.state_cache_stats(), Some(Default::default()));
}

// ---- readers racing commits -------------------------------------------------------------

const HEIGHTS: u64 = 120;

/// Block `n`'s diff: keys change at different rates, an account comes and goes, and a
/// contract's storage is wiped every third block.
fn race_diff(n: u64) -> StateDiff {
    let mut d = StateDiff::default();
    let v = U256::from(n);
    for i in 0..4u8 {
        if n.is_multiple_of(u64::from(i) + 1) {
            d.accounts
                .insert(address(i), Some(Account::with_balance(v)));
            d.storage
                .entry(address(5))
                .or_default()
                .insert(U256::from(i), v);
        }
    }
    d.accounts.insert(
        address(4),
        n.is_multiple_of(2).then(|| Account::with_balance(v)),
    );
    let wiped = address(6);
    if n.is_multiple_of(3) {
        d.wiped_storage.insert(wiped);
        d.storage.entry(wiped).or_default().insert(U256::ZERO, v);
    } else {
        let slots = d.storage.entry(wiped).or_default();
        slots.insert(U256::from(n % 4), v);
        slots.insert(U256::from((n + 2) % 4), U256::ZERO);
    }
    d
}

fn race_keys() -> Vec<Key> {
    let mut keys: Vec<Key> = (0..5).map(|i| Key::Account(address(i))).collect();
    for a in [5, 6] {
        keys.extend((0..4u64).map(|s| Key::Slot(address(a), U256::from(s))));
    }
    keys
}

/// Readers on several threads while blocks commit through the wrapper: a value read is the
/// committed value at some height between the last commit that had returned when the read
/// began and the block being committed when it ended (the wrapper's window between the
/// inner head publish and its write-through stays inside that range), and after the last
/// commit every key reads as the final state (no stale fill survived).
fn read_fill_race(entries: usize) {
    let keys = race_keys();
    let model = MemStore::new();
    let mut expected: Vec<HashMap<Key, Val>> = Vec::new();
    for n in 0..=HEIGHTS {
        let c = next_commit(&model, race_diff(n));
        model.commit_block(c.as_commit()).expect("commit");
        expected.push(keys.iter().map(|k| (*k, read(&model, *k))).collect());
    }

    let cached = CachedStore::with_entries_per_shard(MemStore::new(), entries);
    let c = next_commit(&cached, race_diff(0));
    cached.commit_block(c.as_commit()).expect("commit");
    let returned = AtomicU64::new(0);
    let started = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for t in 0..3usize {
            let (keys, expected) = (&keys, &expected);
            let (cached, returned, started, done) = (&cached, &returned, &started, &done);
            scope.spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) || reads < 1000 {
                    let key = keys[(reads as usize * (t + 1) + t) % keys.len()];
                    let low = returned.load(Ordering::SeqCst);
                    let got = read(cached, key);
                    let high = started.load(Ordering::SeqCst);
                    let ok = (low..=high).any(|h| expected[h as usize][&key] == got);
                    assert!(ok, "{key:?} read {got:?} between heights {low} and {high}");
                    reads += 1;
                }
            });
        }
        for n in 1..=HEIGHTS {
            started.store(n, Ordering::SeqCst);
            let c = next_commit(&cached, race_diff(n));
            cached.commit_block(c.as_commit()).expect("commit");
            returned.store(n, Ordering::SeqCst);
        }
        done.store(true, Ordering::SeqCst);
    });
    for key in &keys {
        assert_eq!(read(&cached, *key), expected[HEIGHTS as usize][key]);
    }
    let stats = cached.cache_stats();
    assert!(stats.hits > 0 && stats.misses > 0, "{stats:?}");
}

#[test]
fn readers_racing_commits_keep_no_stale_value_small_cache() {
    read_fill_race(1);
}

#[test]
fn readers_racing_commits_keep_no_stale_value_large_cache() {
    read_fill_race(1024);
}
