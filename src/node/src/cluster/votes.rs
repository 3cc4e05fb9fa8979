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

/// Distinct vote digests remembered at most (votes for more are dropped; honest traffic
/// needs a handful per height).
pub const DIGESTS_MAX: usize = 4_096;

pub struct VoteBook {
    group: GroupId,
    me: usize,
    key: BlsSecretKey,
    validators: Vec<BlsPublicKey>,
    cache: VoteCache,
    sigs: HashMap<VoteDigest, (Height, BTreeMap<usize, BlsSignature>)>,
}

impl VoteBook {
    pub fn new(
        group: GroupId,
        me: usize,
        key: BlsSecretKey,
        validators: Vec<BlsPublicKey>,
        cache_entries: usize,
    ) -> Self {
        VoteBook {
            group,
            me,
            key,
            validators,
            cache: VoteCache::with_capacity(cache_entries),
            sigs: HashMap::new(),
        }
    }

    pub fn quorum(&self) -> usize {
        quorum_for(self.validators.len())
    }

    pub fn validators(&self) -> &[BlsPublicKey] {
        &self.validators
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

    /// This node's signature on `digest` (signed once, remembered, known valid).
    pub fn sign(&mut self, height: Height, digest: VoteDigest) -> BlsSignature {
        if let Some(sig) = self.sigs.get(&digest).and_then(|(_, m)| m.get(&self.me)) {
            return *sig;
        }
        let sig = sign_vote(&self.key, &digest);
        self.cache
            .insert(VoteKey::new(&digest, self.me, &sig), VerifiedBy::Single);
        self.record(height, digest, self.me, sig);
        sig
    }

    /// Keeps a peer's signature unverified; it is checked when a certificate is built.
    /// The first signature per signer and digest wins (a second one is a culprit's).
    pub fn record(&mut self, height: Height, digest: VoteDigest, signer: usize, sig: BlsSignature) {
        if signer >= self.validators.len() {
            return;
        }
        if !self.sigs.contains_key(&digest) && self.sigs.len() >= DIGESTS_MAX {
            return;
        }
        self.sigs
            .entry(digest)
            .or_insert_with(|| (height, BTreeMap::new()))
            .1
            .entry(signer)
            .or_insert(sig);
    }

    /// A certificate over `digest` from the recorded votes, if a quorum of them is valid.
    /// Bad votes are dropped and returned as evidence.
    pub fn certificate(&mut self, digest: VoteDigest) -> (Option<CommitCertificate>, Vec<Culprit>) {
        let Some((_, votes)) = self.sigs.get_mut(&digest) else {
            return (None, Vec::new());
        };
        let quorum = quorum_for(self.validators.len());
        let Ok(mut builder) = CertificateBuilder::new(digest, &self.validators, quorum) else {
            return (None, Vec::new());
        };
        for (&i, sig) in votes.iter() {
            let _ = builder.add_vote(i, *sig);
        }
        let report = builder.try_build(&self.cache);
        for c in &report.culprits {
            votes.remove(&c.signer_index);
        }
        (report.certificate, report.culprits)
    }

    /// Checks a certificate someone else built for `expected` (one aggregate verification).
    pub fn verify(&self, cert: &CommitCertificate, expected: &VoteDigest) -> Result<(), CertError> {
        if cert.digest != *expected {
            return Err(CertError::AggregateInvalid);
        }
        verify_certificate(cert, &self.validators, self.quorum())
    }

    /// Forgets votes for heights below `height`.
    pub fn prune_below(&mut self, height: Height) {
        self.sigs.retain(|_, (h, _)| *h >= height);
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
    if certificate.len() < 8 {
        return Err(BlockCertError::Short);
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&certificate[..8]);
    let view = u64::from_be_bytes(v);
    let cert = CommitCertificate::decode(&certificate[8..])?;
    let body = CommitBody {
        block_hash,
        state_root: header.state_root,
        receipts_root: header.receipts_root,
    };
    let digest = book.commit_digest(header.number, view, body);
    book.verify(&cert, &digest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn books(n: usize) -> Vec<VoteBook> {
        let keys: Vec<BlsSecretKey> = (0..n)
            .map(|i| BlsSecretKey::from_seed(&[i as u8 + 1; 32]))
            .collect();
        let pks: Vec<BlsPublicKey> = keys.iter().map(|k| k.public_key()).collect();
        keys.into_iter()
            .enumerate()
            .map(|(i, k)| VoteBook::new(7, i, k, pks.clone(), 1024))
            .collect()
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
        let sigs: Vec<BlsSignature> = (1..3).map(|i| b[i].sign(5, d)).collect();
        b[0].sign(5, d);
        assert!(b[0].certificate(d).0.is_none() || b[0].quorum() <= 1);
        for (i, s) in sigs.into_iter().enumerate() {
            b[0].record(5, d, i + 1, s);
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
        let d = b[0].prepare_digest(1, 0, B256::repeat_byte(4));
        b[0].sign(1, d);
        let good1 = b[1].sign(1, d);
        let other = b[2].prepare_digest(1, 0, B256::repeat_byte(5));
        let wrong = b[2].sign(1, other);
        b[0].record(1, d, 1, good1);
        b[0].record(1, d, 2, wrong);
        let (cert, culprits) = b[0].certificate(d);
        assert!(cert.is_none());
        assert_eq!(
            culprits.iter().map(|c| c.signer_index).collect::<Vec<_>>(),
            vec![2]
        );
        let good3 = b[3].sign(1, d);
        b[0].record(1, d, 3, good3);
        let (cert, _) = b[0].certificate(d);
        let cert = cert.expect("quorum of good votes");
        assert_eq!(cert.signer_indices().collect::<Vec<_>>(), vec![0, 1, 3]);
        b[0].prune_below(2);
        assert!(b[0].certificate(d).0.is_none());
    }
}
