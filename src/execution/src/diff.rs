//! Deriving a block's [`StateDiff`] from the in-block overlay (spec/execution.md §2.3,
//! EXEC-R9).
//!
//! Before each transaction's changes are committed to the overlay, the tracker remembers the
//! pre-block value of every account and slot the transaction wrote (the overlay still holds
//! it then, because it is the first write in the block). After the block, the diff holds the
//! final value of each remembered entry that differs from its pre-block value.

use crate::db::StateDb;
use alloy_primitives::map::{AddressMap, Entry, HashMap};
use alloy_primitives::Bytes;
use bcos_types::{Account, Address, StateDiff, B256, KECCAK_EMPTY, U256};
use revm::database::{AccountState, CacheDB, DbAccount};
use revm::state::{Account as EvmAccount, AccountInfo, EvmState};
use revm::DatabaseRef;
use std::collections::BTreeMap;

/// What the block did to one account.
#[derive(Debug)]
struct Touched {
    /// The account before the block (None: it did not exist).
    original: Option<Account>,
    /// Created or self-destructed in the block: its final storage is complete in the overlay.
    recreated: bool,
    /// Pre-block value of each slot written in the block.
    slots: HashMap<U256, U256>,
}

#[derive(Debug, Default)]
pub(crate) struct ChangeTracker {
    touched: AddressMap<Touched>,
}

fn to_account(info: &AccountInfo) -> Account {
    Account {
        nonce: info.nonce,
        balance: info.balance,
        code_hash: info.code_hash,
    }
}

/// The overlay's view of an account, with EIP-161: a touched account left empty is deleted.
fn final_account(db_account: &DbAccount) -> Option<Account> {
    let info = db_account.info()?;
    if info.is_empty() {
        return None;
    }
    Some(to_account(&info))
}

impl ChangeTracker {
    pub(crate) fn with_capacity(accounts: usize) -> Self {
        let mut touched = AddressMap::default();
        touched.reserve(accounts);
        ChangeTracker { touched }
    }

    /// Called with one transaction's changes before they are committed to `db`.
    pub(crate) fn record(
        &mut self,
        db: &CacheDB<StateDb<'_>>,
        state: &EvmState,
    ) -> Result<(), crate::error::DbError> {
        self.record_each(db, state.iter())
    }

    /// [`Self::record`] for changes given one account at a time.
    pub(crate) fn record_each<'s>(
        &mut self,
        db: &CacheDB<StateDb<'_>>,
        changes: impl Iterator<Item = (&'s Address, &'s EvmAccount)>,
    ) -> Result<(), crate::error::DbError> {
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let entry = match self.touched.entry(*address) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    // revm loaded the account through the overlay, so it is cached there;
                    // the fallback read is for safety only.
                    let original = match db.cache.accounts.get(address) {
                        Some(a) => a.info().map(|i| to_account(&i)),
                        None => db.db.basic_ref(*address)?.map(|i| to_account(&i)),
                    };
                    e.insert(Touched {
                        original,
                        recreated: false,
                        slots: HashMap::default(),
                    })
                }
            };
            if account.is_created() || account.is_selfdestructed() {
                entry.recreated = true;
            }
            if entry.recreated {
                continue;
            }
            for (slot, value) in account.changed_storage_slots() {
                // original_value is the value at the start of this transaction; only the first
                // write in the block sees the pre-block value, so keep the first one.
                entry.slots.entry(*slot).or_insert(value.original_value);
            }
        }
        Ok(())
    }

    /// The block's diff, read from the overlay after the last transaction.
    pub(crate) fn into_diff(self, db: &CacheDB<StateDb<'_>>) -> StateDiff {
        let mut part = DiffPart::default();
        for (address, t) in self.touched {
            part.add(db, address, t);
        }
        part.into_diff()
    }

    /// [`Self::into_diff`] on up to `threads` threads of the current rayon pool, for a block
    /// whose speculating threads are idle by now (crate::parallel). Each thread reads its
    /// share of the touched accounts from the overlay; the result does not depend on the
    /// split, since each account's entries depend only on that account.
    pub(crate) fn into_diff_on(self, db: &CacheDB<StateDb<'_>>, threads: usize) -> StateDiff {
        let per_thread = self.touched.len().div_ceil(threads.max(1));
        if threads <= 1 || per_thread < DIFF_ACCOUNTS_PER_THREAD_MIN {
            return self.into_diff(db);
        }
        let mut shares: Vec<Vec<(Address, Touched)>> = Vec::with_capacity(threads);
        let mut touched = self.touched.into_iter();
        for _ in 0..threads {
            shares.push(touched.by_ref().take(per_thread).collect());
        }
        let mut parts: Vec<DiffPart> = shares.iter().map(|_| DiffPart::default()).collect();
        // The calling thread reads the first share itself: handing every share to the pool
        // would leave it waiting, and, called from outside the pool, cost it a wake-up.
        rayon::in_place_scope(|scope| {
            let mut work = shares.into_iter().zip(parts.iter_mut());
            let own = work.next();
            for (share, part) in work {
                scope.spawn(move |_| part.add_all(db, share));
            }
            if let Some((share, part)) = own {
                part.add_all(db, share);
            }
        });
        let mut all = DiffPart::default();
        for part in parts {
            all.append(part);
        }
        all.into_diff()
    }
}

/// Below this many touched accounts per thread, the diff is read on one thread: a share
/// must outweigh handing it to another thread.
const DIFF_ACCOUNTS_PER_THREAD_MIN: usize = 256;

/// The diff's entries for some of the touched accounts, unsorted: the maps are built once,
/// from sorted runs, instead of by one insertion per account in hash order.
#[derive(Default)]
struct DiffPart {
    accounts: Vec<(Address, Option<Account>)>,
    wiped_storage: Vec<Address>,
    storage: Vec<(Address, BTreeMap<U256, U256>)>,
    codes: Vec<(B256, Bytes)>,
}

impl DiffPart {
    fn add_all(&mut self, db: &CacheDB<StateDb<'_>>, share: Vec<(Address, Touched)>) {
        for (address, t) in share {
            self.add(db, address, t);
        }
    }

    /// What `address`, touched as `t`, adds to the diff.
    fn add(&mut self, db: &CacheDB<StateDb<'_>>, address: Address, t: Touched) {
        let db_account = db.cache.accounts.get(&address);
        let fin = db_account.and_then(final_account);
        if fin != t.original {
            if let Some(acct) = &fin {
                let code_changed = t
                    .original
                    .as_ref()
                    .is_none_or(|o| o.code_hash != acct.code_hash);
                if code_changed && acct.code_hash != KECCAK_EMPTY {
                    if let Some(code) = db.cache.contracts.get(&acct.code_hash) {
                        self.codes.push((acct.code_hash, code.original_bytes()));
                    }
                }
            }
            self.accounts.push((address, fin.clone()));
        }
        let Some(db_account) = db_account else {
            return;
        };
        if fin.is_none() {
            // Deleted: only a self-destruct can delete an account with storage.
            if t.recreated && t.original.is_some() {
                self.wiped_storage.push(address);
            }
            return;
        }
        let slots: BTreeMap<U256, U256> = if t.recreated {
            if t.original.is_some() {
                self.wiped_storage.push(address);
            }
            debug_assert!(matches!(
                db_account.account_state,
                AccountState::StorageCleared | AccountState::NotExisting
            ));
            // After a wipe the overlay holds the account's whole storage.
            db_account
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect()
        } else {
            t.slots
                .into_iter()
                .filter_map(|(slot, original)| {
                    let now = db_account.storage.get(&slot).copied().unwrap_or(original);
                    (now != original).then_some((slot, now))
                })
                .collect()
        };
        if !slots.is_empty() {
            self.storage.push((address, slots));
        }
    }

    fn append(&mut self, mut other: DiffPart) {
        self.accounts.append(&mut other.accounts);
        self.wiped_storage.append(&mut other.wiped_storage);
        self.storage.append(&mut other.storage);
        self.codes.append(&mut other.codes);
    }

    /// `BTreeMap`'s `FromIterator` sorts its input and builds the tree in one pass. An
    /// address occurs once (one entry per touched account); a code hash may occur twice
    /// (two accounts given the same code), naming the same bytes.
    fn into_diff(self) -> StateDiff {
        StateDiff {
            accounts: self.accounts.into_iter().collect(),
            wiped_storage: self.wiped_storage.into_iter().collect(),
            storage: self.storage.into_iter().collect(),
            codes: self.codes.into_iter().collect(),
        }
    }
}
