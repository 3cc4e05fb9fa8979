//! The state cache (spec/durability.md §2.1): cached reads equal uncached ones after every
//! commit, a read racing a commit never leaves a stale value behind, and a reopened store
//! answers as before.

mod common;

use bcos_storage::{
    ChainStore, DiskStore, IoBackend, MemStore, StorageConfig, STATE_CACHE_ENTRY_BYTES,
    STATE_CACHE_SHARDS,
};
use bcos_types::{Account, StateDiff, U256};
use common::state_ops::*;
use common::*;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn cache_config(state_cache_bytes: usize) -> StorageConfig {
    StorageConfig {
        io_backend: IoBackend::Std,
        sync_state_writes: false,
        state_cache_bytes,
        ..StorageConfig::default()
    }
}

fn open_with(dir: &Path, state_cache_bytes: usize) -> DiskStore {
    DiskStore::open(dir, cache_config(state_cache_bytes)).expect("open")
}

/// The cache bound that holds `entries` entries per shard.
fn per_shard(entries: usize) -> usize {
    entries * STATE_CACHE_SHARDS * STATE_CACHE_ENTRY_BYTES
}

// ---- random commits against MemStore ----------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// After every commit, every key read (in a random order, twice: miss then hit) from
    /// the cached store equals MemStore; cache bounds from one entry per shard (constant
    /// eviction) to the default (none).
    #[test]
    fn cached_reads_match_memstore(
        bound in prop_oneof![Just(1usize), Just(2), Just(usize::MAX)],
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..10),
        order in Just(all_keys()).prop_shuffle(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = if bound == usize::MAX {
            StorageConfig::default().state_cache_bytes
        } else {
            per_shard(bound)
        };
        let disk = open_with(dir.path(), bytes);
        let mem = MemStore::new();
        let check = |disk: &DiskStore, mem: &MemStore| -> Result<(), TestCaseError> {
            for _ in 0..2 {
                for key in &order {
                    prop_assert_eq!(read(disk, *key), read(mem, *key), "{:?}", key);
                }
            }
            Ok(())
        };
        // Negative entries first, so the first commit overwrites cached "absent" values.
        check(&disk, &mem)?;
        for ops in &blocks {
            commit_both(&[&disk, &mem], diff_of(ops));
            check(&disk, &mem)?;
        }
        let stats = disk.state_cache_stats();
        prop_assert!(stats.hits > 0 && stats.misses > 0, "{:?}", stats);
        prop_assert!(stats.bytes <= stats.bytes_max, "{:?}", stats);
    }
}

#[test]
fn disabled_cache_reads_through_and_counts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = open_with(dir.path(), 0);
    let mem = MemStore::new();
    commit_both(
        &[&disk, &mem],
        diff_of(&[Op::Account(1, Some((1, 2))), Op::Slot(1, 1, 3)]),
    );
    for key in all_keys() {
        assert_eq!(read(&disk, key), read(&mem, key));
    }
    assert_eq!(disk.state_cache_stats(), Default::default());
}

// ---- the read-fill race -----------------------------------------------------------------

const HEIGHTS: u64 = 120;

/// Block `n`'s diff: keys change at different rates, an account comes and goes, and a
/// contract's storage is wiped every third block, so readers race writes, deletions and
/// wipes.
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
    let flicker = n.is_multiple_of(2).then(|| Account::with_balance(v));
    d.accounts.insert(address(4), flicker);
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

/// Readers on several threads while blocks commit: a value read is the committed value at
/// some height between the head when the read began (so never older than a commit that had
/// returned) and the block being committed when it ended (so never newer than committed
/// state). A stale fill would show up as an older value on every later read.
fn read_fill_race(state_cache_bytes: usize) {
    let keys = race_keys();
    // expected[h][k]: the value of key k once block h is committed.
    let mem = MemStore::new();
    let mut expected: Vec<HashMap<Key, Val>> = Vec::new();
    for n in 0..=HEIGHTS {
        commit_both(&[&mem], race_diff(n));
        expected.push(keys.iter().map(|k| (*k, read(&mem, *k))).collect());
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let disk = open_with(dir.path(), state_cache_bytes);
    commit_both(&[&disk], race_diff(0));
    let returned = AtomicU64::new(0);
    let started = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for t in 0..3usize {
            let (keys, expected) = (&keys, &expected);
            let (disk, returned, started, done) = (&disk, &returned, &started, &done);
            scope.spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) || reads < 1000 {
                    let key = keys[(reads as usize * (t + 1) + t) % keys.len()];
                    let low = returned.load(Ordering::SeqCst);
                    let got = read(disk, key);
                    let high = started.load(Ordering::SeqCst);
                    let ok = (low..=high).any(|h| expected[h as usize][&key] == got);
                    assert!(
                        ok,
                        "{key:?} read {got:?} between heights {low} and {high}; expected {:?}",
                        expected[low as usize][&key]
                    );
                    reads += 1;
                }
            });
        }
        for n in 1..=HEIGHTS {
            started.store(n, Ordering::SeqCst);
            commit_both(&[&disk], race_diff(n));
            returned.store(n, Ordering::SeqCst);
        }
        done.store(true, Ordering::SeqCst);
    });
    // After the last commit every key, cached or not, is the final state.
    for key in &keys {
        assert_eq!(read(&disk, *key), expected[HEIGHTS as usize][key]);
    }
    let stats = disk.state_cache_stats();
    assert!(stats.hits > 0 && stats.misses > 0, "{stats:?}");
}

#[test]
fn readers_racing_commits_never_see_stale_values_small_cache() {
    // One entry per shard: constant eviction, so most reads miss and fill.
    read_fill_race(per_shard(1));
}

#[test]
fn readers_racing_commits_never_see_stale_values_default_cache() {
    read_fill_race(StorageConfig::default().state_cache_bytes);
}

// ---- restart ----------------------------------------------------------------------------

#[test]
fn reopened_store_answers_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mem = MemStore::new();
    let blocks: Vec<Vec<Op>> = vec![
        vec![
            Op::Account(0, Some((1, 1))),
            Op::Slot(0, 1, 1),
            Op::Slot(1, 2, 3),
        ],
        vec![Op::Account(0, None), Op::Wipe(1), Op::Slot(1, 3, 1)],
        vec![
            Op::Account(2, Some((0, 3))),
            Op::Slot(0, 1, 0),
            Op::Slot(2, 0, 2),
        ],
    ];
    {
        let disk = open_with(dir.path(), per_shard(4));
        for ops in &blocks {
            commit_both(&[&disk, &mem], diff_of(ops));
            for key in all_keys() {
                assert_eq!(read(&disk, key), read(&mem, key));
            }
        }
        assert!(disk.state_cache_stats().entries > 0);
    }
    // A record appended but never committed is truncated at open (DUR-R5/R6); the cache
    // starts empty either way (DUR-R7).
    let tail = make_commit(mem.head().expect("head").1, 3, 0, 9);
    std::fs::OpenOptions::new()
        .append(true)
        .open(segment_path(dir.path(), 0))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&tail.block.block.encode_bytes())
        })
        .expect("append garbage");
    for bytes in [per_shard(4), 0] {
        let disk = open_with(dir.path(), bytes);
        assert_eq!(disk.state_cache_stats().entries, 0);
        for key in all_keys() {
            assert_eq!(read(&disk, key), read(&mem, key), "{key:?}");
        }
    }
    let disk = open_with(dir.path(), per_shard(4));
    for key in all_keys() {
        let _ = read(&disk, key);
    }
    commit_both(
        &[&disk, &mem],
        diff_of(&[Op::Wipe(0), Op::Account(2, None)]),
    );
    for key in all_keys() {
        assert_eq!(read(&disk, key), read(&mem, key), "{key:?}");
    }
}
