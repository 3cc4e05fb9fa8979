//! BLS12-381 vote signatures and commit certificates for parallel PBFT (spec/pbft.md: votes,
//! the commit certificate, the vote cache; whitepaper 3.3.1).
//!
//! - [`keys`]: secret/public keys (min_pk: 48-byte keys, 96-byte signatures), the vote DST.
//! - [`vote`]: the vote message (group, height, view, block hash, state root, receipts root,
//!   phase), its digest, single-vote sign/verify.
//! - [`certificate`]: the certificate (aggregate + signer bitmap), its canonical bytes,
//!   [`verify_certificate`] and the [`CertificateBuilder`].
//! - [`cache`]: [`VoteCache`], so a vote verified once is never verified again.
//!
//! Cost model (shared/reference/machine-limits.md row 3): one verification costs ~1.1 ms,
//! aggregating 64 signatures < 0.1 ms, and one fast aggregate verify of a quorum ~1.15 ms flat
//! in the count. So quorums are verified as one aggregate and single votes are checked only
//! when an aggregate fails.

mod builder;
pub mod cache;
pub mod certificate;
pub mod keys;
pub mod rogue;
pub mod vote;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod rogue_key_tests;
#[cfg(test)]
mod tests;

pub use cache::{VerifiedBy, VoteCache, VoteCacheConfig, VoteKey};
pub use certificate::{
    bitmap_len, quorum_for, verify_certificate, BuildReport, CertError, CertificateBuilder,
    CommitCertificate, Culprit, CulpritReason, VoteAdded, MAX_CERTIFICATE_LEN, MAX_VALIDATORS,
};
pub use keys::{
    BlsKeyError, BlsPublicKey, BlsSecretKey, BlsSignature, POP_DST, PUBLIC_KEY_LEN, SECRET_KEY_LEN,
    SIGNATURE_LEN, VOTE_DST,
};
pub use vote::{sign_vote, verify_vote, VoteData, VoteDigest, VotePhase, VOTE_ENCODING_LEN};
