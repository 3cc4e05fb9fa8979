//! In-place memtable updates (spec/durability.md DUR-4): a rewritten account or slot keeps
//! one memtable entry, and RocksDB answers exactly as MemStore through any mix of growing,
//! shrinking, deleted and re-created accounts, slot writes and storage wipes, before and
//! after a reopen (the WAL replayed into a fresh memtable). The state cache is off, so every
//! read below goes to RocksDB.

mod common;

use bcos_storage::rocks::{CF_ACCOUNTS, CF_STORAGE};
use bcos_storage::{DiskStore, IoBackend, MemStore, StateReader, StorageConfig};
use bcos_types::{Account, Address, StateDiff, U256};
use common::commit_both;
use common::state_ops::{self, Op as StateOp};
use proptest::prelude::*;
use std::path::Path;

const ACTIVE_ENTRIES: &str = "rocksdb.num-entries-active-mem-table";

fn open_uncached(dir: &Path) -> DiskStore {
    let config = StorageConfig {
        io_backend: IoBackend::Std,
        sync_state_writes: false,
        state_cache_bytes: 0,
        ..StorageConfig::default()
    };
    DiskStore::open(dir, config).expect("open")
}

fn address(i: u8) -> Address {
    Address::repeat_byte(0x40 + i)
}

/// Balances from 0 to 2^255 and nonces from 0 to 2^63: encodings of 4 to 45 bytes, so a
/// rewrite may fit the old entry (in place) or not (a new entry).
fn account(nonce_bits: u32, balance_bits: u32, low: u64) -> Account {
    let balance = (U256::from(1u8) << balance_bits as usize) - U256::from(1u8) + U256::from(low);
    Account {
        nonce: (1u64 << nonce_bits.min(63)) - 1 + low % 4,
        ..Account::with_balance(balance)
    }
}

#[test]
fn a_rewritten_account_keeps_one_memtable_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = open_uncached(dir.path());
    let mem = MemStore::new();
    const BLOCKS: u64 = 200;
    let before = disk
        .rocksdb_property(CF_ACCOUNTS, ACTIVE_ENTRIES)
        .expect("property");
    for n in 0..BLOCKS {
        // Same encoded length every block: a 9-byte balance, a 1-byte nonce.
        let balance = (U256::from(1u8) << 64) + U256::from(n);
        let acct = Account {
            nonce: 5,
            ..Account::with_balance(balance)
        };
        let mut d = StateDiff::default();
        d.accounts.insert(address(0), Some(acct));
        commit_both(&[&disk, &mem], d);
        assert_eq!(
            disk.account(&address(0)).expect("read"),
            mem.account(&address(0)).expect("read"),
            "block {n}"
        );
    }
    let after = disk
        .rocksdb_property(CF_ACCOUNTS, ACTIVE_ENTRIES)
        .expect("property");
    // Without DUR-4 every block adds an entry (200); with it the first put stays.
    assert_eq!(after - before, 1, "entries before {before}, after {after}");
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u32, u32, u64),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4u8, 0..64u32, 0..256u32, any::<u64>()).prop_map(|(a, n, b, l)| Op::Put(a, n, b, l)),
        1 => (0..4u8).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rocksdb_reads_match_memstore_through_rewrites(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 1..6), 1..40),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mem = MemStore::new();
        let check = |disk: &DiskStore, mem: &MemStore| -> Result<(), TestCaseError> {
            for a in 0..4 {
                let a = address(a);
                prop_assert_eq!(disk.account(&a).expect("read"), mem.account(&a).expect("read"));
            }
            Ok(())
        };
        {
            let disk = open_uncached(dir.path());
            for ops in &blocks {
                let mut d = StateDiff::default();
                for op in ops {
                    match *op {
                        Op::Put(a, n, b, l) => d.accounts.insert(address(a), Some(account(n, b, l))),
                        Op::Delete(a) => d.accounts.insert(address(a), None),
                    };
                }
                commit_both(&[&disk, &mem], d);
                check(&disk, &mem)?;
            }
        }
        let reopened = open_uncached(dir.path());
        check(&reopened, &mem)?;
    }
}

#[test]
fn a_rewritten_slot_keeps_one_memtable_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = open_uncached(dir.path());
    let mem = MemStore::new();
    let slot = U256::from(7u8);
    for n in 0..200u64 {
        // A 9-byte value every block (an ERC20 balance moving within one byte width).
        let mut d = StateDiff::default();
        d.storage
            .entry(address(1))
            .or_default()
            .insert(slot, (U256::from(1u8) << 64) + U256::from(n));
        commit_both(&[&disk, &mem], d);
        assert_eq!(
            disk.storage(&address(1), &slot).expect("read"),
            mem.storage(&address(1), &slot).expect("read"),
            "block {n}"
        );
    }
    let entries = disk
        .rocksdb_property(CF_STORAGE, ACTIVE_ENTRIES)
        .expect("property");
    assert_eq!(entries, 1, "storage memtable entries after 200 rewrites");
}

/// The case DUR-4's flush exists for: a slot written, its account's storage wiped, the
/// slot written again with a value of the same length. Updated in place under the wipe's
/// range deletion, the last write would read as zero.
#[test]
fn a_slot_written_after_a_wipe_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mem = MemStore::new();
    let blocks = [
        vec![StateOp::Slot(0, 1, 3), StateOp::Slot(0, 2, 2)],
        vec![StateOp::Wipe(0)],
        vec![StateOp::Slot(0, 1, 2)],
        vec![StateOp::Wipe(0), StateOp::Slot(0, 2, 1)],
        vec![StateOp::Slot(0, 2, 3)],
    ];
    let check = |disk: &DiskStore, mem: &MemStore, at: &str| {
        for key in state_ops::all_keys() {
            assert_eq!(
                state_ops::read(disk, key),
                state_ops::read(mem, key),
                "{at}: {key:?}"
            );
        }
    };
    {
        let disk = open_uncached(dir.path());
        for (n, ops) in blocks.iter().enumerate() {
            commit_both(&[&disk, &mem], state_ops::diff_of(ops));
            check(&disk, &mem, &format!("block {n}"));
        }
    }
    check(&open_uncached(dir.path()), &mem, "reopened");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Accounts, slots and wipes at random, read from RocksDB after every block and after a
    /// reopen.
    #[test]
    fn rocksdb_reads_match_memstore_through_wipes(
        blocks in proptest::collection::vec(proptest::collection::vec(state_ops::op(), 1..8), 1..24),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mem = MemStore::new();
        let check = |disk: &DiskStore, mem: &MemStore| -> Result<(), TestCaseError> {
            for key in state_ops::all_keys() {
                prop_assert_eq!(state_ops::read(disk, key), state_ops::read(mem, key), "{:?}", key);
            }
            Ok(())
        };
        {
            let disk = open_uncached(dir.path());
            for ops in &blocks {
                commit_both(&[&disk, &mem], state_ops::diff_of(ops));
                check(&disk, &mem)?;
            }
        }
        check(&open_uncached(dir.path()), &mem)?;
    }
}
