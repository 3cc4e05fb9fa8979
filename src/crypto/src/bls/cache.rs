//! `VoteCache`: votes already verified, so none is verified twice (spec/pbft.md, the vote
//! cache). A vote reaches a node more than once (direct, re-broadcast, inside a view change's
//! prepared certificate), and each verification costs about 1.1 ms.
//!
//! Key: (digest, signer index, keccak256 of the signature bytes). BLS signatures are
//! deterministic, so for honest signers the hash adds nothing, but keying on it means a bad
//! signature from a signer can never hide behind that signer's good one.
//!
//! Provenance: an entry remembers whether the vote passed on its own or only inside a valid
//! aggregate. Two colluding signers can submit signatures that are each invalid but sum to a
//! valid aggregate; such a vote is sound inside that aggregate yet not on its own. So
//! everything trusts both kinds, except the certificate builder's fallback (which runs only
//! after an aggregate failed) and its skip-the-pairing shortcut, which trust only
//! [`VerifiedBy::Single`].
//!
//! Bounds: FIFO eviction at [`VoteCacheConfig::capacity_entries`]; about 150 bytes an entry.

use super::keys::{BlsPublicKey, BlsSignature};
use super::vote::{verify_vote, VoteDigest};
use alloy_primitives::{keccak256, B256};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sizing of a [`VoteCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteCacheConfig {
    /// Most entries held. Default 100,000 (about 15 MB): with 2 phases × 1024 validators that
    /// is about 50 heights of votes, far beyond the few heights PBFT keeps open.
    pub capacity_entries: usize,
}

impl Default for VoteCacheConfig {
    fn default() -> Self {
        VoteCacheConfig {
            capacity_entries: 100_000,
        }
    }
}

/// Identifies one vote exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoteKey {
    pub digest: VoteDigest,
    pub signer_index: usize,
    pub signature_hash: B256,
}

impl VoteKey {
    pub fn new(digest: &VoteDigest, signer_index: usize, sig: &BlsSignature) -> Self {
        VoteKey {
            digest: *digest,
            signer_index,
            signature_hash: keccak256(sig.0),
        }
    }
}

/// How a cached vote was found valid; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VerifiedBy {
    /// Part of an aggregate that verified.
    Aggregate,
    /// Verified on its own (the stronger fact).
    Single,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<VoteKey, VerifiedBy>,
    /// Insertion order; exactly the keys of `map`.
    order: VecDeque<VoteKey>,
}

/// A bounded, thread-safe set of verified votes plus a count of pairing checks performed.
#[derive(Debug)]
pub struct VoteCache {
    inner: Mutex<Inner>,
    capacity_entries: usize,
    verifications: AtomicU64,
}

impl Default for VoteCache {
    fn default() -> Self {
        Self::new(VoteCacheConfig::default())
    }
}

impl VoteCache {
    pub fn new(config: VoteCacheConfig) -> Self {
        VoteCache {
            inner: Mutex::new(Inner::default()),
            capacity_entries: config.capacity_entries,
            verifications: AtomicU64::new(0),
        }
    }

    pub fn with_capacity(capacity_entries: usize) -> Self {
        Self::new(VoteCacheConfig { capacity_entries })
    }

    pub fn capacity_entries(&self) -> usize {
        self.capacity_entries
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How the vote was verified, if it is cached.
    pub fn lookup(&self, key: &VoteKey) -> Option<VerifiedBy> {
        self.inner.lock().map.get(key).copied()
    }

    pub fn contains(&self, key: &VoteKey) -> bool {
        self.lookup(key).is_some()
    }

    /// Records a verified vote. A `Single` entry is never downgraded to `Aggregate`.
    pub fn insert(&self, key: VoteKey, how: VerifiedBy) {
        if self.capacity_entries == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some(existing) = inner.map.get_mut(&key) {
            *existing = (*existing).max(how);
            return;
        }
        while inner.map.len() >= self.capacity_entries {
            match inner.order.pop_front() {
                Some(oldest) => {
                    inner.map.remove(&oldest);
                }
                None => break,
            }
        }
        inner.map.insert(key, how);
        inner.order.push_back(key);
    }

    /// Verifies one vote unless it is already cached (either provenance); caches it if valid.
    /// Invalid votes are not cached: they are evidence, and the caller drops them.
    pub fn verify_vote(
        &self,
        signer_index: usize,
        pk: &BlsPublicKey,
        digest: &VoteDigest,
        sig: &BlsSignature,
    ) -> bool {
        let key = VoteKey::new(digest, signer_index, sig);
        if self.contains(&key) {
            return true;
        }
        self.verify_single_uncached(key, pk, sig)
    }

    /// Verifies on its own regardless of any `Aggregate` entry and records a pass as `Single`.
    pub(crate) fn verify_single_uncached(
        &self,
        key: VoteKey,
        pk: &BlsPublicKey,
        sig: &BlsSignature,
    ) -> bool {
        self.count_verification();
        let ok = verify_vote(pk, &key.digest, sig);
        if ok {
            self.insert(key, VerifiedBy::Single);
        }
        ok
    }

    /// Pairing checks performed through this cache (single votes and aggregates); a test hook
    /// and a metric.
    pub fn verifications_performed(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    pub(crate) fn count_verification(&self) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
    }
}
