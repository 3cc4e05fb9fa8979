//! BLS vote signatures beside the PBFT core (spec/pbft.md R8, §5): the core counts votes
//! from authenticated channels; this book keeps each vote's signature so that a decision
//! (or a prepared lock) becomes a certificate anyone can check: one aggregate signature
//! plus a signer bitmap, verified once (a quorum's aggregate, ~1.2 ms) with a per-vote
//! fallback only when the aggregate fails (the `CertificateBuilder`), and a vote cache so
//! no vote is verified twice.

use bcos_consensus::pbft::CommitBody;
use bcos_crypto::bls::{
    quorum_for, sign_vote, verify_certificate, BlsPublicKey, BlsSecretKey, BlsSignature, CertError,
    CertificateBuilder, CommitCertificate, Culprit, VerifiedBy, VoteCache, VoteData, VoteDigest,
    VoteKey, VotePhase,
};
use bcos_types::{GroupId, Header, Height, B256};
use std::collections::{BTreeMap, HashMap};

/// One vote a signer may cast: at most one per (height, view, phase) (PBFT-R5, R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VoteSlot {
    pub height: Height,
    pub view: u64,
    /// false: prepare, true: commit.
    pub commit: bool,
}

impl VoteSlot {
    pub fn prepare(height: Height, view: u64) -> Self {
        VoteSlot {
            height,
            view,
            commit: false,
        }
    }

    pub fn commit(height: Height, view: u64) -> Self {
        VoteSlot {
            height,
            view,
            commit: true,
        }
    }
}

/// What became of a recorded vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Stored,
    /// The same vote again (a retransmission).
    Duplicate,
    /// Another digest in a slot the signer already voted in: equivocation; the first stays.
    Conflicting,
    /// The signer's share was full and this vote is older than all it holds: dropped.
    OverQuota,
    UnknownSigner,
}

/// Keeps each validator's vote signatures, each validator within its own share
/// (`votes_per_peer_max` slots), so a Byzantine validator flooding votes for made-up blocks
/// or views can only crowd out its own votes, never an honest one's or this node's.
pub struct VoteBook {
    group: GroupId,
    me: usize,
    key: BlsSecretKey,
    /// Every member's key, by member index (a vote is recorded against its signer's key
    /// whatever the set; only the set of its height counts it).
    validators: Vec<BlsPublicKey>,
    /// The validator set in force from each height (PBFT-R20): member indices, ascending.
    /// Before the first entry, every member. Certificates of height `h` are built and
    /// checked over the keys of `set_at(h)`, signers named by their position in it.
    sets: BTreeMap<Height, Vec<usize>>,
    /// Every member index: the set before the first entry.
    all: Vec<usize>,
    cache: VoteCache,
    per_peer_max: usize,
    sigs: HashMap<VoteDigest, (Height, BTreeMap<usize, BlsSignature>)>,
    /// Per signer: the digest it signed in each slot.
    slots: Vec<BTreeMap<VoteSlot, VoteDigest>>,
}

impl VoteBook {
    pub fn new(
        group: GroupId,
        me: usize,
        key: BlsSecretKey,
        validators: Vec<BlsPublicKey>,
        cache_entries: usize,
        per_peer_max: usize,
    ) -> Self {
        VoteBook {
            group,
            me,
            key,
            slots: vec![BTreeMap::new(); validators.len()],
            sets: BTreeMap::new(),
            all: (0..validators.len()).collect(),
            validators,
            cache: VoteCache::with_capacity(cache_entries),
            per_peer_max: per_peer_max.max(1),
            sigs: HashMap::new(),
        }
    }

    /// The quorum of the set in force at `height`.
    pub fn quorum_at(&self, height: Height) -> usize {
        quorum_for(self.keys_at(height).len())
    }

    pub fn validators(&self) -> &[BlsPublicKey] {
        &self.validators
    }

    /// PBFT-R20: `set` (member indices) is in force from `height` on, replacing any entry
    /// at or above it.
    pub fn set_validators_from(&mut self, height: Height, mut set: Vec<usize>) {
        set.sort_unstable();
        set.dedup();
        set.retain(|i| *i < self.validators.len());
        self.sets.split_off(&height);
        if self.set_at(height) != set.as_slice() {
            self.sets.insert(height, set);
        }
    }

    /// The member indices of the set in force at `height`.
    pub fn set_at(&self, height: Height) -> &[usize] {
        match self.sets.range(..=height).next_back() {
            Some((_, set)) => set,
            None => &self.all,
        }
    }

    /// The keys of the set at `height`, in set order.
    fn keys_at(&self, height: Height) -> Vec<BlsPublicKey> {
        self.set_at(height)
            .iter()
            .filter_map(|i| self.validators.get(*i).cloned())
            .collect()
    }

    /// The member indices behind a certificate's signers (positions in the set at `height`).
    pub fn signer_members(&self, height: Height, cert: &CommitCertificate) -> Vec<u32> {
        self.bitmap_members(height, &cert.signers)
    }

    /// The member indices a signer bitmap names at `height` (bit `i`: the set's `i`-th).
    pub fn bitmap_members(&self, height: Height, bitmap: &[u8]) -> Vec<u32> {
        let set = self.set_at(height);
        let mut out = Vec::new();
        for (byte_i, byte) in bitmap.iter().enumerate() {
            for bit in 0..8usize {
                if byte & (1 << bit) != 0 {
                    if let Some(m) = set.get(byte_i * 8 + bit) {
                        out.push(*m as u32);
                    }
                }
            }
        }
        out
    }

    fn data(&self, height: Height, view: u64, body: CommitBody, phase: VotePhase) -> VoteData {
        VoteData {
            group_id: self.group,
            height,
            view,
            block_hash: body.block_hash,
            state_root: body.state_root,
            receipts_root: body.receipts_root,
            phase,
        }
    }

    /// Prepare votes bind no roots: they are cast before execution finishes.
    pub fn prepare_digest(&self, height: Height, view: u64, block: B256) -> VoteDigest {
        let body = CommitBody {
            block_hash: block,
            state_root: B256::ZERO,
            receipts_root: B256::ZERO,
        };
        self.data(height, view, body, VotePhase::Prepare).digest()
    }

    pub fn commit_digest(&self, height: Height, view: u64, body: CommitBody) -> VoteDigest {
        self.data(height, view, body, VotePhase::Commit).digest()
    }

    /// This node's signature on `digest` (signed once, remembered, known valid). Its own
    /// votes are never refused for lack of room.
    pub fn sign(&mut self, slot: VoteSlot, digest: VoteDigest) -> BlsSignature {
        if let Some(sig) = self.sigs.get(&digest).and_then(|(_, m)| m.get(&self.me)) {
            return *sig;
        }
        let sig = sign_vote(&self.key, &digest);
        self.cache
            .insert(VoteKey::new(&digest, self.me, &sig), VerifiedBy::Single);
        self.store(slot, digest, self.me, sig);
        sig
    }

    /// Keeps a peer's signature unverified; it is checked when a certificate is built.
    /// The first vote per signer and slot wins (a second digest is an equivocation). A
    /// signer whose share is full loses its oldest vote to a newer one.
    pub fn record(
        &mut self,
        slot: VoteSlot,
        digest: VoteDigest,
        signer: usize,
        sig: BlsSignature,
    ) -> Recorded {
        let Some(mine) = self.slots.get(signer) else {
            return Recorded::UnknownSigner;
        };
        match mine.get(&slot) {
            Some(d) if *d == digest => return Recorded::Duplicate,
            Some(_) => return Recorded::Conflicting,
            None => {}
        }
        if signer != self.me && mine.len() >= self.per_peer_max {
            let Some((&oldest, _)) = mine.first_key_value() else {
                return Recorded::OverQuota;
            };
            if slot < oldest {
                return Recorded::OverQuota;
            }
            self.forget(signer, oldest);
        }
        self.store(slot, digest, signer, sig);
        Recorded::Stored
    }

    fn store(&mut self, slot: VoteSlot, digest: VoteDigest, signer: usize, sig: BlsSignature) {
        if let Some(mine) = self.slots.get_mut(signer) {
            mine.insert(slot, digest);
        }
        self.sigs
            .entry(digest)
            .or_insert_with(|| (slot.height, BTreeMap::new()))
            .1
            .entry(signer)
            .or_insert(sig);
    }

    fn forget(&mut self, signer: usize, slot: VoteSlot) {
        let Some(digest) = self.slots.get_mut(signer).and_then(|m| m.remove(&slot)) else {
            return;
        };
        if let Some((_, votes)) = self.sigs.get_mut(&digest) {
            votes.remove(&signer);
            if votes.is_empty() {
                self.sigs.remove(&digest);
            }
        }
    }

    /// Vote digests held (for tests and metrics).
    pub fn digests_held(&self) -> usize {
        self.sigs.len()
    }

    /// A certificate over `digest` from the recorded votes, if a quorum of them is valid.
    /// Bad votes are dropped and returned as evidence.
    /// Only the votes of the set in force at the digest's height count (PBFT-R20); culprits
    /// are named by member index.
    pub fn certificate(&mut self, digest: VoteDigest) -> (Option<CommitCertificate>, Vec<Culprit>) {
        let Some(height) = self.sigs.get(&digest).map(|(h, _)| *h) else {
            return (None, Vec::new());
        };
        let set = self.set_at(height).to_vec();
        let keys = self.keys_at(height);
        let Some((_, votes)) = self.sigs.get_mut(&digest) else {
            return (None, Vec::new());
        };
        let quorum = quorum_for(keys.len());
        let Ok(mut builder) = CertificateBuilder::new(digest, &keys, quorum) else {
            return (None, Vec::new());
        };
        for (&member, sig) in votes.iter() {
            if let Ok(position) = set.binary_search(&member) {
                let _ = builder.add_vote(position, *sig);
            }
        }
        let mut report = builder.try_build(&self.cache);
        for c in &mut report.culprits {
            c.signer_index = set.get(c.signer_index).copied().unwrap_or(usize::MAX);
            votes.remove(&c.signer_index);
        }
        // A culprit's slot stays taken: it may not replace a bad signature with another.
        (report.certificate, report.culprits)
    }

    /// Checks a certificate someone else built for `expected` at `height` (one aggregate
    /// verification, over the set in force there).
    pub fn verify(
        &self,
        height: Height,
        cert: &CommitCertificate,
        expected: &VoteDigest,
    ) -> Result<(), CertError> {
        if cert.digest != *expected {
            return Err(CertError::AggregateInvalid);
        }
        let keys = self.keys_at(height);
        verify_certificate(cert, &keys, quorum_for(keys.len()))
    }

    /// Forgets votes for heights below `height`.
    pub fn prune_below(&mut self, height: Height) {
        self.sigs.retain(|_, (h, _)| *h >= height);
        // The entry in force at `height` stays (it may start below it).
        if let Some((&from, _)) = self.sets.range(..=height).next_back() {
            self.sets = self.sets.split_off(&from);
        }
        for mine in &mut self.slots {
            mine.retain(|slot, _| slot.height >= height);
        }
    }

    pub fn verifications_performed(&self) -> u64 {
        self.cache.verifications_performed()
    }
}

/// A block's stored certificate: `view u64 BE ‖ CommitCertificate::encode()`. The view is
/// the one part of the signed vote a block header does not hold.
pub fn encode_block_certificate(view: u64, cert: &CommitCertificate) -> Vec<u8> {
    let mut out = view.to_be_bytes().to_vec();
    out.extend(cert.encode());
    out
}

/// Why a synced block's certificate was refused.
#[derive(Debug, thiserror::Error)]
pub enum BlockCertError {
    #[error("certificate shorter than its view field")]
    Short,
    #[error("the certificate signs another block, view or vote domain")]
    OtherBlock,
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// Verifies that `certificate` proves a quorum commit-voted exactly this header's block
/// and roots in group `book.group`.
pub fn verify_block_certificate(
    book: &VoteBook,
    header: &Header,
    block_hash: B256,
    certificate: &[u8],
) -> Result<(), BlockCertError> {
    verify_header_certificate(
        book.group,
        &book.keys_at(header.number),
        header,
        block_hash,
        certificate,
    )
}

/// The same check for a chain this node only knows by its vote domain and validator keys
/// (the merchant chain checking a user chain's header, spec/settlement.md XS-R5).
pub fn verify_header_certificate(
    vote_domain: u32,
    validators: &[BlsPublicKey],
    header: &Header,
    block_hash: B256,
    certificate: &[u8],
) -> Result<(), BlockCertError> {
    if certificate.len() < 8 {
        return Err(BlockCertError::Short);
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&certificate[..8]);
    let view = u64::from_be_bytes(v);
    let cert = CommitCertificate::decode(&certificate[8..])?;
    let expected = VoteData {
        group_id: vote_domain,
        height: header.number,
        view,
        block_hash,
        state_root: header.state_root,
        receipts_root: header.receipts_root,
        phase: VotePhase::Commit,
    }
    .digest();
    if cert.digest != expected {
        return Err(BlockCertError::OtherBlock);
    }
    verify_certificate(&cert, validators, quorum_for(validators.len()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_PEER: usize = 64;

    fn books(n: usize) -> Vec<VoteBook> {
        let keys: Vec<BlsSecretKey> = (0..n)
            .map(|i| BlsSecretKey::from_seed(&[i as u8 + 1; 32]))
            .collect();
        let pks: Vec<BlsPublicKey> = keys.iter().map(|k| k.public_key()).collect();
        keys.into_iter()
            .enumerate()
            .map(|(i, k)| VoteBook::new(7, i, k, pks.clone(), 1024, PER_PEER))
            .collect()
    }

    /// PBFT-R20: a height's certificate counts the votes of the set in force there, names
    /// signers by their place in that set, and verifies against that set alone.
    #[test]
    fn certificates_follow_the_set_of_their_height() {
        let mut b = books(5);
        for book in &mut b {
            book.set_validators_from(10, vec![0, 2, 3, 4]);
        }
        assert_eq!(b[0].set_at(9), vec![0, 1, 2, 3, 4]);
        assert_eq!(b[0].set_at(11), vec![0, 2, 3, 4]);
        let header = Header {
            number: 10,
            ..Default::default()
        };
        let hash = B256::repeat_byte(1);
        let body = CommitBody {
            block_hash: hash,
            state_root: header.state_root,
            receipts_root: header.receipts_root,
        };
        let d = b[0].commit_digest(10, 0, body);
        let slot = VoteSlot::commit(10, 0);
        b[0].sign(slot, d);
        for i in [1, 2] {
            let sig = b[i].sign(slot, d);
            b[0].record(slot, d, i, sig);
        }
        assert!(
            b[0].certificate(d).0.is_none(),
            "member 1 is outside the set: two valid votes of four"
        );
        let sig = b[4].sign(slot, d);
        b[0].record(slot, d, 4, sig);
        let cert = b[0]
            .certificate(d)
            .0
            .expect("0, 2 and 4 are a quorum of four");
        assert_eq!(b[0].signer_members(10, &cert), vec![0, 2, 4]);
        let bytes = encode_block_certificate(0, &cert);
        verify_block_certificate(&b[3], &header, hash, &bytes).expect("valid at 10");
        let mut other = books(5);
        assert!(
            verify_block_certificate(&other[3], &header, hash, &bytes).is_err(),
            "a book that never saw the change checks it against all five"
        );
        other[3].set_validators_from(10, vec![0, 2, 3, 4]);
        other[3].prune_below(12);
        verify_block_certificate(&other[3], &header, hash, &bytes).expect("entry kept");
    }

    #[test]
    fn quorum_of_votes_certifies_a_header_and_nothing_else() {
        let mut b = books(4);
        let header = Header {
            number: 5,
            state_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            ..Default::default()
        };
        let hash = B256::repeat_byte(1);
        let body = CommitBody {
            block_hash: hash,
            state_root: header.state_root,
            receipts_root: header.receipts_root,
        };
        let d = b[0].commit_digest(5, 2, body);
        let slot = VoteSlot::commit(5, 2);
        let sigs: Vec<BlsSignature> = (1..3).map(|i| b[i].sign(slot, d)).collect();
        b[0].sign(slot, d);
        assert!(b[0].certificate(d).0.is_none() || b[0].quorum_at(5) <= 1);
        for (i, s) in sigs.into_iter().enumerate() {
            b[0].record(slot, d, i + 1, s);
        }
        let (cert, culprits) = b[0].certificate(d);
        let cert = cert.expect("three valid votes make a certificate");
        assert!(culprits.is_empty());
        let bytes = encode_block_certificate(2, &cert);
        verify_block_certificate(&b[3], &header, hash, &bytes).expect("valid");
        let other = Header {
            state_root: B256::repeat_byte(9),
            ..header.clone()
        };
        assert!(verify_block_certificate(&b[3], &other, hash, &bytes).is_err());
        assert!(verify_block_certificate(&b[3], &header, B256::repeat_byte(8), &bytes).is_err());
        let mut wrong_view = bytes.clone();
        wrong_view[7] ^= 1;
        assert!(verify_block_certificate(&b[3], &header, hash, &wrong_view).is_err());
        assert!(verify_block_certificate(&b[3], &header, hash, &bytes[..5]).is_err());
    }

    #[test]
    fn a_bad_signature_is_a_culprit_and_the_rest_still_certify() {
        let mut b = books(4);
        let slot = VoteSlot::prepare(1, 0);
        let d = b[0].prepare_digest(1, 0, B256::repeat_byte(4));
        b[0].sign(slot, d);
        let good1 = b[1].sign(slot, d);
        let other = b[2].prepare_digest(1, 0, B256::repeat_byte(5));
        let wrong = b[2].sign(slot, other);
        b[0].record(slot, d, 1, good1);
        b[0].record(slot, d, 2, wrong);
        let (cert, culprits) = b[0].certificate(d);
        assert!(cert.is_none());
        assert_eq!(
            culprits.iter().map(|c| c.signer_index).collect::<Vec<_>>(),
            vec![2]
        );
        let good3 = b[3].sign(slot, d);
        b[0].record(slot, d, 3, good3);
        let (cert, _) = b[0].certificate(d);
        let cert = cert.expect("quorum of good votes");
        assert_eq!(cert.signer_indices().collect::<Vec<_>>(), vec![0, 1, 3]);
        b[0].prune_below(2);
        assert!(b[0].certificate(d).0.is_none());
    }

    /// Issue 10 item 1: one validator floods prepares for thousands of made-up blocks and
    /// views. The old book (4,096 digests for all peers together, first come first kept)
    /// then dropped every honest vote, this node's own included, and no certificate could
    /// form; with a share per signer the flood only displaces the flooder's own votes.
    #[test]
    fn a_flooding_validator_cannot_crowd_out_honest_votes() {
        let mut b = books(4);
        let junk_digest = b[3].prepare_digest(9, 999, B256::ZERO);
        let junk_sig = b[3].sign(VoteSlot::prepare(9, 999), junk_digest);
        for i in 0..10_000u64 {
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&i.to_be_bytes());
            let d = b[0].prepare_digest(1, i % 64, B256::from(hash));
            b[0].record(VoteSlot::prepare(1, i), d, 3, junk_sig);
        }
        assert!(
            b[0].digests_held() <= PER_PEER + 1,
            "{}",
            b[0].digests_held()
        );
        // Honest commit votes for the real block still certify it.
        let body = CommitBody {
            block_hash: B256::repeat_byte(7),
            state_root: B256::repeat_byte(8),
            receipts_root: B256::repeat_byte(9),
        };
        let slot = VoteSlot::commit(1, 0);
        let d = b[0].commit_digest(1, 0, body);
        b[0].sign(slot, d);
        for i in 1..3 {
            let sig = b[i].sign(slot, d);
            assert_eq!(b[0].record(slot, d, i, sig), Recorded::Stored);
        }
        let (cert, culprits) = b[0].certificate(d);
        assert!(culprits.is_empty());
        assert_eq!(
            cert.expect("honest votes certify despite the flood")
                .signer_indices()
                .collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn one_vote_per_signer_and_slot() {
        let mut b = books(4);
        let slot = VoteSlot::prepare(2, 0);
        let d1 = b[0].prepare_digest(2, 0, B256::repeat_byte(1));
        let d2 = b[0].prepare_digest(2, 0, B256::repeat_byte(2));
        let s1 = b[1].sign(slot, d1);
        let s2 = b[1].sign(slot, d2);
        assert_eq!(b[0].record(slot, d1, 1, s1), Recorded::Stored);
        assert_eq!(b[0].record(slot, d1, 1, s1), Recorded::Duplicate);
        assert_eq!(b[0].record(slot, d2, 1, s2), Recorded::Conflicting);
        assert_eq!(b[0].record(slot, d1, 9, s1), Recorded::UnknownSigner);
        // A full share drops an older vote rather than a newer one.
        let mut b = books(4);
        for v in 1..=PER_PEER as u64 {
            let d = b[0].prepare_digest(3, v, B256::ZERO);
            assert_eq!(
                b[0].record(VoteSlot::prepare(3, v), d, 2, s1),
                Recorded::Stored
            );
        }
        let old = b[0].prepare_digest(3, 0, B256::ZERO);
        assert_eq!(
            b[0].record(VoteSlot::prepare(3, 0), old, 2, s1),
            Recorded::OverQuota
        );
        let new = b[0].prepare_digest(3, 100, B256::ZERO);
        assert_eq!(
            b[0].record(VoteSlot::prepare(3, 100), new, 2, s1),
            Recorded::Stored
        );
        assert_eq!(b[0].digests_held(), PER_PEER);
    }
}
