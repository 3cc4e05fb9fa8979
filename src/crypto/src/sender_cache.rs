//! `SenderCache`: a bounded, sharded, thread-safe map from transaction hash to recovered sender,
//! so that a transaction that arrives again (re-broadcast by a peer, re-submitted by a client,
//! seen first over RPC and then inside a proposed block) is never recovered twice.
//!
//! Soundness: the tx hash is keccak256 of the full signed encoding, signature included, so the
//! hash determines the sender; a cached entry can never be wrong for a hash, only missing.
//!
//! In-flight claims: recovery is slow (~40 µs), so the same new hash can reach two callers at
//! once (a forwarded transaction still in the ingress queue while the block that holds it is
//! checked). The first caller to miss claims the hash; a later one waits for the claim to be
//! resolved instead of recovering it a second time. Claims are released before a caller waits
//! for anyone else's, so two callers never wait on each other.
//!
//! Bounds: the capacity (entries) is split over the shards up front; each shard evicts its
//! oldest entry first (FIFO) once full, so the total never exceeds the capacity and memory is
//! about `capacity × 90 bytes`. FIFO rather than LRU keeps `get` to a lookup: a sender is
//! looked up a few times within seconds of arrival, then never again, so recency buys little.

use crate::sync::{Condvar, Mutex};
use alloy_primitives::map::{B256Map, B256Set};
use alloy_primitives::{Address, B256};
use std::collections::VecDeque;

/// Sizing of a [`SenderCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderCacheConfig {
    /// Most entries held in total. Default 1,000,000 (about 90 MB), a few blocks' worth of
    /// pool traffic at the 2-core recovery bound of ~48 k tx/s. 0 disables caching.
    pub capacity_entries: usize,
    /// Independent locks; more shards mean less contention between recovery threads.
    /// Default 64. Lowered to the capacity when the capacity is smaller.
    pub shard_count: usize,
}

impl Default for SenderCacheConfig {
    fn default() -> Self {
        SenderCacheConfig {
            capacity_entries: 1_000_000,
            shard_count: 64,
        }
    }
}

#[derive(Debug)]
struct Shard {
    map: B256Map<Address>,
    /// Insertion order; exactly the keys of `map`.
    order: VecDeque<B256>,
    /// Hashes some caller is recovering now (bounded by the callers' batches in flight).
    claimed: B256Set,
    capacity_entries: usize,
}

/// What [`SenderCache::lookup_or_claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit(Address),
    /// The caller now owns the claim and must [`SenderCache::resolve`] it.
    Claimed,
    /// Another caller is recovering it; see [`SenderCache::wait_for`].
    InFlight,
}

/// A bounded hash → sender map; see the module docs.
#[derive(Debug)]
pub struct SenderCache {
    shards: Box<[Mutex<Shard>]>,
    capacity_entries: usize,
    /// Taken by every resolution before it signals, and by waiters around their check.
    resolved: Mutex<()>,
    resolved_signal: Condvar,
}

impl SenderCache {
    pub fn new(config: SenderCacheConfig) -> Self {
        let capacity = config.capacity_entries;
        let shard_count = config.shard_count.clamp(1, capacity.max(1));
        let (base, extra) = (capacity / shard_count, capacity % shard_count);
        let shards = (0..shard_count)
            .map(|i| {
                // The first `extra` shards take one more, so the shard capacities sum exactly.
                let cap = base + usize::from(i < extra);
                Mutex::new(Shard {
                    map: B256Map::default(),
                    order: VecDeque::new(),
                    claimed: B256Set::default(),
                    capacity_entries: cap,
                })
            })
            .collect();
        SenderCache {
            shards,
            capacity_entries: capacity,
            resolved: Mutex::new(()),
            resolved_signal: Condvar::new(),
        }
    }

    pub fn with_capacity(capacity_entries: usize) -> Self {
        Self::new(SenderCacheConfig {
            capacity_entries,
            ..SenderCacheConfig::default()
        })
    }

    fn shard(&self, hash: &B256) -> &Mutex<Shard> {
        // Tx hashes are uniformly random, so any 8 bytes pick a shard evenly. The tail bytes
        // are used because the map's own hasher starts from the head.
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&hash[24..]);
        let idx = (u64::from_le_bytes(tail) % self.shards.len() as u64) as usize;
        &self.shards[idx]
    }

    /// The sender recorded for `hash`, if it is still cached.
    pub fn get(&self, hash: &B256) -> Option<Address> {
        self.shard(hash).lock().map.get(hash).copied()
    }

    /// The cached sender, or else a claim on recovering it, or word that someone holds one.
    pub fn lookup_or_claim(&self, hash: &B256) -> Lookup {
        let mut shard = self.shard(hash).lock();
        if let Some(sender) = shard.map.get(hash) {
            return Lookup::Hit(*sender);
        }
        if shard.claimed.insert(*hash) {
            Lookup::Claimed
        } else {
            Lookup::InFlight
        }
    }

    /// Ends a claim taken with [`Self::lookup_or_claim`]: records the sender (None: the
    /// signature did not recover, nothing is cached) and wakes the waiters.
    pub fn resolve(&self, hash: B256, sender: Option<Address>) {
        {
            let mut shard = self.shard(&hash).lock();
            shard.claimed.remove(&hash);
            if let Some(sender) = sender {
                insert_locked(&mut shard, hash, sender);
            }
        }
        self.signal_resolved();
    }

    fn signal_resolved(&self) {
        drop(self.resolved.lock());
        self.resolved_signal.notify_all();
    }

    /// Waits until nobody holds a claim on `hash`, then looks it up or claims it: a
    /// [`Lookup::Claimed`] answer means the holder failed (or the entry was evicted at once)
    /// and the caller must recover it itself. Never returns [`Lookup::InFlight`].
    pub fn wait_for(&self, hash: &B256) -> Lookup {
        let mut resolved = self.resolved.lock();
        loop {
            // Checked under `resolved`, which every resolution takes before it notifies, so a
            // resolution between this check and the wait cannot be missed.
            match self.lookup_or_claim(hash) {
                Lookup::InFlight => resolved = self.resolved_signal.wait(resolved),
                found => return found,
            }
        }
    }

    /// Hashes claimed now (a test hook: zero once every caller is done).
    pub fn claimed_len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().claimed.len()).sum()
    }

    /// Records `sender` for `hash`, evicting the shard's oldest entry when it is full.
    /// A hash already present keeps its entry (the sender is a function of the hash).
    pub fn insert(&self, hash: B256, sender: Address) {
        insert_locked(&mut self.shard(&hash).lock(), hash, sender);
    }

    /// Entries held now (a sum over shards, each read under its own lock).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity_entries(&self) -> usize {
        self.capacity_entries
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Checks the per-shard invariants (map and order agree, each shard within its bound);
    /// for tests, including the loom model.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut total_cap = 0;
        for (i, s) in self.shards.iter().enumerate() {
            let s = s.lock();
            total_cap += s.capacity_entries;
            if s.map.len() > s.capacity_entries {
                return Err(format!(
                    "shard {i} holds {} > {}",
                    s.map.len(),
                    s.capacity_entries
                ));
            }
            if s.order.len() != s.map.len() || s.order.iter().any(|h| !s.map.contains_key(h)) {
                return Err(format!("shard {i}: order and map disagree"));
            }
        }
        if total_cap != self.capacity_entries {
            return Err(format!(
                "shard capacities sum to {total_cap}, not {}",
                self.capacity_entries
            ));
        }
        Ok(())
    }
}

fn insert_locked(shard: &mut Shard, hash: B256, sender: Address) {
    if shard.capacity_entries == 0 || shard.map.contains_key(&hash) {
        return;
    }
    while shard.map.len() >= shard.capacity_entries {
        match shard.order.pop_front() {
            Some(old) => {
                shard.map.remove(&old);
            }
            None => break,
        }
    }
    shard.map.insert(hash, sender);
    shard.order.push_back(hash);
}

impl Default for SenderCache {
    fn default() -> Self {
        Self::new(SenderCacheConfig::default())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn h(i: u64) -> B256 {
        alloy_primitives::keccak256(i.to_be_bytes())
    }
    fn a(i: u64) -> Address {
        Address::from_slice(&h(i)[..20])
    }

    #[test]
    fn get_returns_what_was_inserted() {
        let c = SenderCache::with_capacity(100);
        assert_eq!(c.get(&h(1)), None);
        c.insert(h(1), a(1));
        assert_eq!(c.get(&h(1)), Some(a(1)));
        c.insert(h(1), a(2));
        assert_eq!(c.get(&h(1)), Some(a(1)), "first entry for a hash stays");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn never_exceeds_capacity_and_evicts_oldest_per_shard() {
        for (cap, shards) in [(1, 64), (7, 3), (100, 8), (1000, 64)] {
            let c = SenderCache::new(SenderCacheConfig {
                capacity_entries: cap,
                shard_count: shards,
            });
            for i in 0..(cap as u64 * 5) {
                c.insert(h(i), a(i));
                assert!(c.len() <= cap);
            }
            c.check_invariants().unwrap();
            assert_eq!(
                c.len(),
                cap,
                "every shard fills up after 5x capacity inserts"
            );
            // The newest insert always survives.
            let last = cap as u64 * 5 - 1;
            assert_eq!(c.get(&h(last)), Some(a(last)));
        }
        let one = SenderCache::new(SenderCacheConfig {
            capacity_entries: 2,
            shard_count: 1,
        });
        one.insert(h(1), a(1));
        one.insert(h(2), a(2));
        one.insert(h(3), a(3));
        assert_eq!(
            (one.get(&h(1)), one.get(&h(2)), one.get(&h(3))),
            (None, Some(a(2)), Some(a(3)))
        );
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let c = SenderCache::with_capacity(0);
        c.insert(h(1), a(1));
        assert_eq!(c.get(&h(1)), None);
        assert!(c.is_empty());
        c.check_invariants().unwrap();
    }

    #[test]
    fn concurrent_use_keeps_invariants() {
        let c = std::sync::Arc::new(SenderCache::new(SenderCacheConfig {
            capacity_entries: 50,
            shard_count: 4,
        }));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        let k = (i * 4 + t) % 300;
                        c.insert(h(k), a(k));
                        if let Some(s) = c.get(&h((k * 7) % 300)) {
                            assert_eq!(s, a((k * 7) % 300));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        c.check_invariants().unwrap();
        assert!(c.len() <= 50);
    }
}
