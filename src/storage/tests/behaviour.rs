//! One behaviour suite, run against MemStore, DiskStore (both io backends) and a MemStore
//! behind CachedStore (one entry per shard): they must accept, reject and answer
//! identically.

mod common;

use bcos_storage::{CachedStore, ChainStore, DiskStore, IoBackend, MemStore, StorageError};
use bcos_types::{Account, Address, Bytes, StateDiff, B256, U256};
use common::*;

fn commits_read_back<S: ChainStore>(store: &S) {
    assert_chain(store, &[]);
    let commits = chain(6, 3);
    commit_all(store, &commits);
    assert_chain(store, &commits);
    // Empty blocks count no transactions.
    let empty = make_commit(commits[5].block.hash, 6, 0, 1);
    store.commit_block(empty.as_commit()).expect("commit");
    assert_eq!(store.total_tx_count(), 18);
    assert_eq!(store.receipts(6).expect("read"), Some(vec![]));
}

fn not_next_is_rejected<S: ChainStore>(store: &S) {
    let commits = chain(3, 1);
    // Only genesis goes into an empty store.
    assert!(matches!(
        store.commit_block(commits[1].as_commit()),
        Err(StorageError::NotNext { number: 1, .. })
    ));
    commit_all(store, &commits[..2]);
    // Same number again, a gap, and the right number on the wrong parent.
    assert!(matches!(
        store.commit_block(commits[1].as_commit()),
        Err(StorageError::NotNext { .. })
    ));
    let gap = make_commit(commits[1].block.hash, 3, 0, 0);
    assert!(matches!(
        store.commit_block(gap.as_commit()),
        Err(StorageError::NotNext { number: 3, .. })
    ));
    let fork = make_commit(B256::repeat_byte(9), 2, 0, 0);
    assert!(matches!(
        store.commit_block(fork.as_commit()),
        Err(StorageError::NotNext { number: 2, .. })
    ));
    // Receipts must match the transactions.
    let mut short = commits[2].clone();
    short.receipts.clear();
    assert!(matches!(
        store.commit_block(short.as_commit()),
        Err(StorageError::InvalidCommit { .. })
    ));
    // Nothing of the rejected commits is visible, and the right block still goes in.
    assert_chain(store, &commits[..2]);
    store.commit_block(commits[2].as_commit()).expect("commit");
    assert_chain(store, &commits);
}

fn state_diff_semantics<S: ChainStore>(store: &S) {
    let a = Address::repeat_byte(1);
    let b = Address::repeat_byte(2);
    let c = Address::repeat_byte(3);
    let code_hash = B256::repeat_byte(0xcc);
    let code = Bytes::from(vec![0x60, 0x00, 0x60, 0x00]);
    let slot = |n: u64| U256::from(n);

    let mut g = make_commit(B256::ZERO, 0, 0, 0);
    g.diff = StateDiff::default();
    g.diff.accounts.insert(
        a,
        Some(Account {
            nonce: 1,
            balance: U256::from(100),
            code_hash,
        }),
    );
    g.diff
        .accounts
        .insert(b, Some(Account::with_balance(U256::from(5))));
    g.diff.codes.insert(code_hash, code.clone());
    for n in 1..=4 {
        g.diff
            .storage
            .entry(a)
            .or_default()
            .insert(slot(n), U256::from(n * 10));
        g.diff
            .storage
            .entry(b)
            .or_default()
            .insert(slot(n), U256::MAX - U256::from(n));
    }
    g.diff
        .storage
        .entry(c)
        .or_default()
        .insert(slot(1), U256::from(1));
    store.commit_block(g.as_commit()).expect("genesis");
    assert_eq!(
        store.account(&a).expect("read"),
        Some(Account {
            nonce: 1,
            balance: U256::from(100),
            code_hash
        })
    );
    assert_eq!(store.code(&code_hash).expect("read"), Some(code));
    assert_eq!(store.code(&B256::repeat_byte(0xdd)).expect("read"), None);
    assert_eq!(store.storage(&a, &slot(3)).expect("read"), U256::from(30));
    assert_eq!(
        store.storage(&b, &slot(2)).expect("read"),
        U256::MAX - U256::from(2)
    );
    assert_eq!(store.storage(&a, &slot(99)).expect("read"), U256::ZERO);

    // Block 1: wipe a's storage and set one new slot; zero deletes one of b's slots;
    // delete account b (its storage stays: only a wipe clears storage).
    let mut d = make_commit(g.block.hash, 1, 0, 0);
    d.diff = StateDiff::default();
    d.diff.wiped_storage.insert(a);
    d.diff
        .storage
        .entry(a)
        .or_default()
        .insert(slot(2), U256::from(7));
    d.diff
        .storage
        .entry(b)
        .or_default()
        .insert(slot(1), U256::ZERO);
    d.diff.accounts.insert(b, None);
    store.commit_block(d.as_commit()).expect("block 1");
    assert_eq!(store.storage(&a, &slot(1)).expect("read"), U256::ZERO);
    assert_eq!(store.storage(&a, &slot(2)).expect("read"), U256::from(7));
    assert_eq!(store.storage(&a, &slot(3)).expect("read"), U256::ZERO);
    assert_eq!(store.storage(&a, &slot(4)).expect("read"), U256::ZERO);
    assert_eq!(store.storage(&b, &slot(1)).expect("read"), U256::ZERO);
    assert_eq!(
        store.storage(&b, &slot(2)).expect("read"),
        U256::MAX - U256::from(2)
    );
    assert_eq!(store.account(&b).expect("read"), None);
    // A wipe of one address leaves its neighbours alone.
    assert_eq!(store.storage(&c, &slot(1)).expect("read"), U256::from(1));
    assert_eq!(store.account(&a).expect("read").map(|x| x.nonce), Some(1));

    // Block 2: a slot written back after its deletion reads again.
    let mut e = make_commit(d.block.hash, 2, 0, 0);
    e.diff = StateDiff::default();
    e.diff
        .storage
        .entry(b)
        .or_default()
        .insert(slot(1), U256::from(1));
    store.commit_block(e.as_commit()).expect("block 2");
    assert_eq!(store.storage(&b, &slot(1)).expect("read"), U256::from(1));
}

fn disk(backend: IoBackend) -> (tempfile::TempDir, DiskStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DiskStore::open(dir.path(), config(backend)).expect("open");
    (dir, store)
}

macro_rules! suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn commits_read_back() {
                let (_d, s) = $make;
                super::commits_read_back(&s);
            }
            #[test]
            fn not_next_is_rejected() {
                let (_d, s) = $make;
                super::not_next_is_rejected(&s);
            }
            #[test]
            fn state_diff_semantics() {
                let (_d, s) = $make;
                super::state_diff_semantics(&s);
            }
        }
    };
}

suite!(mem, ((), MemStore::new()));
suite!(
    mem_cached,
    ((), CachedStore::with_entries_per_shard(MemStore::new(), 1))
);
suite!(disk_std, disk(IoBackend::Std));
suite!(disk_auto, disk(IoBackend::Auto));

#[test]
fn disk_reads_past_the_recent_block_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = bcos_storage::StorageConfig {
        recent_blocks_cached: 2,
        io_backend: IoBackend::Std,
        ..Default::default()
    };
    let store = DiskStore::open(dir.path(), cfg).expect("open");
    let commits = chain(8, 2);
    commit_all(&store, &commits);
    assert_chain(&store, &commits);
}
