//! The commit certificate (spec/pbft.md: one BLS aggregate signature plus a signer bitmap,
//! stored with the block): its canonical bytes and its verification.
//!
//! Verifying a certificate is one pairing check whatever the signer count (fast aggregate
//! verify over the signers' pre-validated keys, about 1.15 ms for 4 or 64 signers,
//! shared/reference/machine-limits.md row 3). Building one lives in `builder.rs`.

use super::keys::{BlsPublicKey, BlsSignature, SIGNATURE_LEN, VOTE_DST};
use super::vote::VoteDigest;
use alloy_primitives::B256;
use blst::min_pk::AggregatePublicKey;
use blst::BLST_ERROR;

pub use super::builder::{BuildReport, CertificateBuilder, Culprit, CulpritReason, VoteAdded};

/// Largest validator set a certificate can name (the bitmap is at most 128 bytes).
pub const MAX_VALIDATORS: usize = 1024;

/// Bytes of a signer bitmap for `validator_count` validators.
pub fn bitmap_len(validator_count: usize) -> usize {
    validator_count.div_ceil(8)
}

/// The PBFT quorum 2f+1 for n = 3f+1 (more generally n - floor((n-1)/3)); 0 for n = 0.
pub fn quorum_for(validator_count: usize) -> usize {
    validator_count - validator_count.saturating_sub(1) / 3
}

/// Why a certificate (or its bytes) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certificate bytes truncated: need {needed}, have {available}")]
    Truncated { needed: usize, available: usize },
    #[error("{0} trailing bytes after the certificate")]
    TrailingBytes(usize),
    #[error("validator set of {0} exceeds the limit of {MAX_VALIDATORS}")]
    TooManyValidators(usize),
    #[error("signer bitmap has {actual} bytes, the validator set needs {expected}")]
    BitmapLength { expected: usize, actual: usize },
    #[error("signer {index} is not in the validator set of {validator_count}")]
    SignerOutOfRange {
        index: usize,
        validator_count: usize,
    },
    #[error("{signers} signers, quorum is {quorum}")]
    TooFewSigners { signers: usize, quorum: usize },
    #[error("quorum {quorum} is impossible for {validator_count} validators")]
    BadQuorum {
        quorum: usize,
        validator_count: usize,
    },
    #[error("aggregate signature is not a valid point encoding")]
    AggregateEncoding,
    #[error("aggregate signature does not verify")]
    AggregateInvalid,
}

/// A commit certificate: `signers` bit i (byte i/8, bit i%8 from the least significant) set
/// means validator i's vote on `digest` is in `aggregate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCertificate {
    pub digest: VoteDigest,
    pub signers: Vec<u8>,
    pub aggregate: [u8; SIGNATURE_LEN],
}

/// Longest valid encoding: digest, length, full bitmap, aggregate.
pub const MAX_CERTIFICATE_LEN: usize = 32 + 2 + MAX_VALIDATORS / 8 + SIGNATURE_LEN;

impl CommitCertificate {
    /// Whether validator `index` signed.
    pub fn has_signer(&self, index: usize) -> bool {
        self.signers
            .get(index / 8)
            .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
    }

    /// Indices of the signers, ascending.
    pub fn signer_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.signers.iter().enumerate().flat_map(|(byte_at, byte)| {
            (0..8)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| byte_at * 8 + bit)
        })
    }

    pub fn signer_count(&self) -> usize {
        self.signers.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Canonical bytes: `digest (32) ‖ bitmap length u16 BE ‖ bitmap ‖ aggregate (96)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 2 + self.signers.len() + SIGNATURE_LEN);
        out.extend_from_slice(self.digest.as_bytes());
        // The length is checked on decode and by `verify_certificate`; a longer bitmap cannot
        // come from `decode` or the builder.
        out.extend_from_slice(&(self.signers.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.signers);
        out.extend_from_slice(&self.aggregate);
        out
    }

    /// Parses exactly one certificate; truncated input, trailing bytes and bitmaps over
    /// [`MAX_VALIDATORS`] bits are refused. The aggregate point is checked on verification.
    pub fn decode(bytes: &[u8]) -> Result<Self, CertError> {
        let mut rest = bytes;
        let mut take = |n: usize| -> Result<&[u8], CertError> {
            if rest.len() < n {
                return Err(CertError::Truncated {
                    needed: n,
                    available: rest.len(),
                });
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let digest = VoteDigest(B256::from_slice(take(32)?));
        let len_bytes = take(2)?;
        let bitmap_bytes = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if bitmap_bytes > bitmap_len(MAX_VALIDATORS) {
            return Err(CertError::TooManyValidators(bitmap_bytes * 8));
        }
        let signers = take(bitmap_bytes)?.to_vec();
        let mut aggregate = [0u8; SIGNATURE_LEN];
        aggregate.copy_from_slice(take(SIGNATURE_LEN)?);
        if !rest.is_empty() {
            return Err(CertError::TrailingBytes(rest.len()));
        }
        Ok(CommitCertificate {
            digest,
            signers,
            aggregate,
        })
    }
}

/// Checks the signer set against a bitmap shape, returning the signer indices.
pub(crate) fn check_signers(
    cert: &CommitCertificate,
    validator_count: usize,
    quorum: usize,
) -> Result<Vec<usize>, CertError> {
    if validator_count > MAX_VALIDATORS {
        return Err(CertError::TooManyValidators(validator_count));
    }
    if quorum == 0 || quorum > validator_count {
        return Err(CertError::BadQuorum {
            quorum,
            validator_count,
        });
    }
    let expected = bitmap_len(validator_count);
    if cert.signers.len() != expected {
        return Err(CertError::BitmapLength {
            expected,
            actual: cert.signers.len(),
        });
    }
    let signers: Vec<usize> = cert.signer_indices().collect();
    if let Some(&index) = signers.iter().find(|&&i| i >= validator_count) {
        return Err(CertError::SignerOutOfRange {
            index,
            validator_count,
        });
    }
    if signers.len() < quorum {
        return Err(CertError::TooFewSigners {
            signers: signers.len(),
            quorum,
        });
    }
    Ok(signers)
}

/// Verifies a certificate against the validator set it claims (index i = `validators[i]`):
/// bitmap length and range, at least `quorum` signers, then one aggregate verification with
/// the signers' aggregated public key (the aggregate's subgroup check included).
pub fn verify_certificate(
    cert: &CommitCertificate,
    validators: &[BlsPublicKey],
    quorum: usize,
) -> Result<(), CertError> {
    let signers = check_signers(cert, validators.len(), quorum)?;
    let sig = BlsSignature(cert.aggregate)
        .parse_unchecked()
        .ok_or(CertError::AggregateEncoding)?;
    let pks: Vec<_> = signers.iter().map(|&i| validators[i].point()).collect();
    let agg_pk = AggregatePublicKey::aggregate(&pks, false)
        .map_err(|_| CertError::AggregateInvalid)?
        .to_public_key();
    match sig.fast_aggregate_verify_pre_aggregated(true, cert.digest.as_bytes(), VOTE_DST, &agg_pk)
    {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(CertError::AggregateInvalid),
    }
}
