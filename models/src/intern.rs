//! Interning: every distinct node state and message is stored once per model and named by
//! a `u32`, so a system state is a few small integer vectors (cheap to copy, hash and
//! compare) and a node step can be cached by (node id, input id). Stored values never move
//! or go away while the model lives, so reads take no lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

const CHUNK: usize = 4096;
/// Up to CHUNKS * CHUNK = 268 M values per table.
const CHUNKS: usize = 65_536;
const SHARDS: usize = 64;

/// A fast hasher for keys that are already integers or hashes (multiply-rotate, as FxHash).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    /// Avalanches the state (splitmix64's finaliser): hash tables use the top bits.
    fn finish(&self) -> u64 {
        let x = self.0;
        let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The content hash of a value (std's hasher; computed once per distinct value).
pub fn content_hash<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// One chunk of an [`Interner`]'s slots, allocated on first use.
type Chunk<T> = OnceLock<Box<[OnceLock<T>]>>;

/// A table of distinct values, each named by a `u32`.
pub struct Interner<T> {
    chunks: Box<[Chunk<T>]>,
    next: AtomicU32,
    index: Vec<Mutex<FastMap<u64, Vec<u32>>>>,
}

impl<T: Eq + Hash> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            next: AtomicU32::new(0),
            index: (0..SHARDS)
                .map(|_| Mutex::new(FastMap::default()))
                .collect(),
        }
    }
}

impl<T: Eq + Hash> Interner<T> {
    fn slot(&self, id: u32) -> &OnceLock<T> {
        let id = id as usize;
        let chunk =
            self.chunks[id / CHUNK].get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        &chunk[id % CHUNK]
    }

    /// The id of `value`, stored now if new. `hash` is its content hash.
    pub fn intern_hashed(&self, value: T, hash: u64) -> u32 {
        let shard = &self.index[(hash as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = map.entry(hash).or_default();
        if let Some(id) = bucket.iter().find(|id| *self.get(**id) == value) {
            return *id;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!((id as usize) < CHUNK * CHUNKS, "intern table full");
        // The slot is set before the id leaves this lock, so every reader of the id sees it.
        let _ = self.slot(id).set(value);
        bucket.push(id);
        id
    }

    pub fn intern(&self, value: T) -> u32 {
        let h = content_hash(&value);
        self.intern_hashed(value, h)
    }

    /// The value named `id` (an id this table handed out).
    pub fn get(&self, id: u32) -> &T {
        match self.slot(id).get() {
            Some(v) => v,
            None => panic!("interned id {id} read before it was stored"),
        }
    }

    /// Distinct values stored.
    pub fn len(&self) -> usize {
        self.next.load(Ordering::Relaxed) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_an_id() {
        let t: Interner<String> = Interner::default();
        let a = t.intern("a".to_string());
        let b = t.intern("b".to_string());
        assert_ne!(a, b);
        assert_eq!(t.intern("a".to_string()), a);
        assert_eq!(t.get(b), "b");
        assert_eq!(t.len(), 2);
    }
}
