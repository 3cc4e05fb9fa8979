//! What the verifier asks of the outside world: does this certificate prove that the user
//! chain's validator set, as registered on the merchant chain, committed this header?

use bcos_types::Header;

/// A user chain is named by its EIP-155 chain id, which is unique per group (spec/groups.md).
pub type ChainId = u64;

/// Checks a commit certificate (XS-R5). The node implements it with BLS aggregate
/// verification over the registered validator keys and vote domain of `chain`; the models
/// implement it with mock signatures. It must refuse a chain that is not registered.
pub trait CertificateCheck {
    /// `Ok` only if `certificate` proves a quorum of `chain`'s registered validators
    /// commit-voted exactly `header` (its hash and roots); otherwise the reason.
    fn check(&self, chain: ChainId, header: &Header, certificate: &[u8]) -> Result<(), String>;
}
