//! The state cache: a bounded in-memory copy of account and storage-slot reads in front of
//! RocksDB, kept exact across commits (spec/durability.md §2.1, DUR-C1 ... DUR-C4).
//!
//! Reads go through [`StateCache::account`] / [`StateCache::storage`]; a miss hands back a
//! [`Ticket`], the caller reads RocksDB and offers the value with `fill_*`. A commit calls
//! [`StateCache::apply`] after its WriteBatch landed (DUR-C1).
//!
//! **The read-fill race** (DUR-C2). A reader misses, reads the *old* value from RocksDB, a
//! commit writes the new value and updates the cache, and the reader then inserts the old
//! value, which would stay stale until evicted. Every shard carries a `version` that a
//! commit bumps, under the shard lock, in the same critical section in which it writes the
//! commit's entries of that shard. A ticket records the version the miss saw; a fill is
//! dropped unless the shard's version is still that one. So a fill lands either before the
//! commit's critical section for that shard (and the commit then overwrites the key, or the
//! key was not in the diff so the value read is still current) or not at all.
//!
//! **Wipes** (DUR-C3). A wiped address may have slots in every shard. Instead of scanning,
//! each shard records `address -> version of the wipe`; a slot entry counts only if it was
//! written at or after its address's last wipe. When a shard has recorded more than
//! [`WIPES_PER_SHARD_MAX`] wipes it drops the slots they invalidated and forgets them, so the
//! record stays bounded and the scan is amortised over that many wipes.
//!
//! **Eviction: CLOCK** (second chance), per shard. A hit only sets a bit in the entry, under
//! the shard lock the lookup holds anyway: no list to relink, unlike LRU. The clock is a
//! queue of keys; the oldest entry is evicted unless its bit is set, in which case the bit
//! is cleared and the key requeued. New entries start unreferenced, so a one-off scan (an
//! `eth_call` walking many slots) is evicted before the entries that are read again, such as
//! the accounts of active senders that pool admission reads for every transaction.
//! [`SHARDS`] shards with one lock each keep parallel execution and admission threads apart.

use alloy_primitives::map::{DefaultHashBuilder, HashMap};
use bcos_types::{Account, Address, StateDiff, U256};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::mem::size_of;

/// Number of independently locked shards.
pub const SHARDS: usize = 64;
/// Wipes a shard remembers before it drops the slots they invalidated (DUR-C3).
pub const WIPES_PER_SHARD_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Account(Address),
    Slot(Address, U256),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// `None`: there is no account (a negative entry).
    Account(Option<Account>),
    /// Zero: the slot is unset (a negative entry).
    Slot(U256),
}

#[derive(Debug)]
struct Cached {
    value: Value,
    /// The shard's version when the entry was written (DUR-C3 compares it with wipes).
    version: u64,
    /// CLOCK's reference bit.
    referenced: bool,
}

/// What one entry is accounted as: the hash table's slot for it at the table's sparsest
/// (hashbrown keeps the load between 7/16 and 7/8, one control byte per slot), plus its key
/// in the clock queue at the queue's sparsest (half full after growth). An upper estimate:
/// the real cost is lower whenever the table and queue are fuller than right after growing.
pub const STATE_CACHE_ENTRY_BYTES: usize =
    (size_of::<(Key, Cached)>() + 1) * 16 / 7 + 2 * size_of::<Key>();

/// Counters for metrics, summed over the shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to RocksDB.
    pub misses: u64,
    /// Entries held (including slots invalidated by a wipe and not yet dropped).
    pub entries: u64,
    /// `entries × STATE_CACHE_ENTRY_BYTES`.
    pub bytes: u64,
    /// The configured bound, rounded down to whole entries per shard; 0 when disabled.
    pub bytes_max: u64,
}

/// Handed out by a miss; a fill must present it (DUR-C2).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Ticket {
    shard: usize,
    version: u64,
}

pub enum Lookup<V> {
    Hit(V),
    Miss(Ticket),
}

struct Shard {
    map: HashMap<Key, Cached>,
    /// Every key of `map` exactly once, oldest first.
    clock: VecDeque<Key>,
    entries_max: usize,
    /// Bumped by every commit, wipe or clear, under this shard's lock (DUR-C2).
    version: u64,
    /// Address -> the version at which its storage was last wiped (DUR-C3).
    wipes: HashMap<Address, u64>,
    hits: u64,
    misses: u64,
}

impl Shard {
    fn new(entries_max: usize) -> Self {
        Shard {
            map: HashMap::default(),
            clock: VecDeque::new(),
            entries_max,
            version: 0,
            wipes: HashMap::default(),
            hits: 0,
            misses: 0,
        }
    }

    /// DUR-C3: a slot written before its address's last wipe is no longer state.
    fn is_current(wipes: &HashMap<Address, u64>, key: &Key, entry: &Cached) -> bool {
        match key {
            Key::Account(_) => true,
            Key::Slot(address, _) => wipes.get(address).is_none_or(|w| entry.version >= *w),
        }
    }

    fn lookup<V>(&mut self, key: &Key, extract: fn(&Value) -> Option<V>) -> Option<V> {
        if let Some(entry) = self.map.get_mut(key) {
            if Self::is_current(&self.wipes, key, entry) {
                if let Some(v) = extract(&entry.value) {
                    entry.referenced = true;
                    self.hits += 1;
                    return Some(v);
                }
            }
        }
        self.misses += 1;
        None
    }

    /// Writes `key` at the current version, then evicts down to the bound.
    fn put(&mut self, key: Key, value: Value) {
        let version = self.version;
        match self.map.get_mut(&key) {
            Some(entry) => {
                entry.value = value;
                entry.version = version;
            }
            None => {
                self.map.insert(
                    key,
                    Cached {
                        value,
                        version,
                        referenced: false,
                    },
                );
                self.clock.push_back(key);
            }
        }
        self.evict();
    }

    fn evict(&mut self) {
        while self.map.len() > self.entries_max {
            let Some(key) = self.clock.pop_front() else {
                return;
            };
            match self.map.get_mut(&key) {
                Some(entry) if entry.referenced => {
                    entry.referenced = false;
                    self.clock.push_back(key);
                }
                Some(_) => {
                    self.map.remove(&key);
                }
                None => {}
            }
        }
    }

    fn wipe(&mut self, address: Address) {
        self.wipes.insert(address, self.version);
    }

    /// Drops the slots the recorded wipes invalidated and forgets the wipes (DUR-C3).
    fn purge_wiped(&mut self) {
        let wipes = std::mem::take(&mut self.wipes);
        self.map
            .retain(|key, entry| Self::is_current(&wipes, key, entry));
        let map = &self.map;
        self.clock.retain(|key| map.contains_key(key));
    }

    fn clear(&mut self) {
        self.version += 1;
        self.map.clear();
        self.clock.clear();
        self.wipes.clear();
    }
}

/// The cache; see the module docs.
pub struct StateCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: DefaultHashBuilder,
}

impl StateCache {
    /// None when `bytes_max` does not hold at least one entry per shard (0 disables).
    pub fn new(bytes_max: usize) -> Option<StateCache> {
        let entries_max = bytes_max / SHARDS / STATE_CACHE_ENTRY_BYTES;
        if entries_max == 0 {
            return None;
        }
        Some(StateCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::new(entries_max)))
                .collect(),
            hasher: DefaultHashBuilder::default(),
        })
    }

    fn shard_of(&self, key: &Key) -> usize {
        // The high bits: the shard's own table indexes by the low ones of its own hash.
        (self.hasher.hash_one(key) >> 58) as usize % SHARDS
    }

    fn lookup<V>(&self, key: Key, extract: fn(&Value) -> Option<V>) -> Lookup<V> {
        let shard = self.shard_of(&key);
        let mut s = self.shards[shard].lock();
        match s.lookup(&key, extract) {
            Some(v) => Lookup::Hit(v),
            None => Lookup::Miss(Ticket {
                shard,
                version: s.version,
            }),
        }
    }

    /// DUR-C2: the fill is dropped if any commit touched the shard since the miss.
    fn fill(&self, key: Key, ticket: Ticket, value: Value) {
        let mut s = self.shards[ticket.shard].lock();
        if s.version == ticket.version {
            s.put(key, value);
        }
    }

    pub fn account(&self, address: &Address) -> Lookup<Option<Account>> {
        self.lookup(Key::Account(*address), |v| match v {
            Value::Account(a) => Some(a.clone()),
            Value::Slot(_) => None,
        })
    }

    pub fn fill_account(&self, address: &Address, ticket: Ticket, value: Option<Account>) {
        self.fill(Key::Account(*address), ticket, Value::Account(value));
    }

    pub fn storage(&self, address: &Address, slot: &U256) -> Lookup<U256> {
        self.lookup(Key::Slot(*address, *slot), |v| match v {
            Value::Slot(s) => Some(*s),
            Value::Account(_) => None,
        })
    }

    pub fn fill_storage(&self, address: &Address, slot: &U256, ticket: Ticket, value: U256) {
        self.fill(Key::Slot(*address, *slot), ticket, Value::Slot(value));
    }

    /// DUR-C1: write a committed block's diff through, after its WriteBatch landed. Each
    /// shard is locked once: version bumped, the diff's wipes recorded, its entries of the
    /// shard written (wipes first, as in the batch, so the diff's slots survive its wipes).
    pub fn apply(&self, diff: &StateDiff) {
        let mut by_shard: Vec<Vec<(Key, Value)>> = vec![Vec::new(); SHARDS];
        for (address, account) in &diff.accounts {
            let key = Key::Account(*address);
            by_shard[self.shard_of(&key)].push((key, Value::Account(account.clone())));
        }
        for (address, slots) in &diff.storage {
            for (slot, value) in slots {
                let key = Key::Slot(*address, *slot);
                by_shard[self.shard_of(&key)].push((key, Value::Slot(*value)));
            }
        }
        for (shard, writes) in self.shards.iter().zip(by_shard) {
            if writes.is_empty() && diff.wiped_storage.is_empty() {
                continue;
            }
            let mut s = shard.lock();
            s.version += 1;
            for address in &diff.wiped_storage {
                s.wipe(*address);
            }
            for (key, value) in writes {
                s.put(key, value);
            }
            if s.wipes.len() > WIPES_PER_SHARD_MAX {
                s.purge_wiped();
            }
        }
    }

    /// Forgets everything, and drops fills of reads begun before (DUR-C4).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            shard.lock().clear();
        }
    }

    pub fn stats(&self) -> StateCacheStats {
        let mut out = StateCacheStats::default();
        for shard in self.shards.iter() {
            let s = shard.lock();
            out.hits += s.hits;
            out.misses += s.misses;
            out.entries += s.map.len() as u64;
            out.bytes_max += (s.entries_max * STATE_CACHE_ENTRY_BYTES) as u64;
        }
        out.bytes = out.entries * STATE_CACHE_ENTRY_BYTES as u64;
        out
    }
}

#[cfg(test)]
mod tests;
