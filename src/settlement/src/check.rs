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

    /// The same check against the members `members` of `chain` (indices into the list this
    /// checker holds for it), where the merchant chain's governance registered that the
    /// user chain's set changed (XS-R5, spec/governance.md GOV-R10). A checker that holds
    /// no member list refuses.
    fn check_members(
        &self,
        chain: ChainId,
        members: &[u32],
        header: &Header,
        certificate: &[u8],
    ) -> Result<(), String> {
        let _ = (members, header, certificate);
        Err(format!(
            "chain {chain}: this checker cannot use a registered validator set"
        ))
    }
}

/// A check where governance registered `members` as the set of the header's height.
pub struct WithMembers<'a> {
    pub inner: &'a dyn CertificateCheck,
    pub members: Option<Vec<u32>>,
}

impl CertificateCheck for WithMembers<'_> {
    fn check(&self, chain: ChainId, header: &Header, certificate: &[u8]) -> Result<(), String> {
        match &self.members {
            Some(m) => self.inner.check_members(chain, m, header, certificate),
            None => self.inner.check(chain, header, certificate),
        }
    }
}
