//! The merchant-chain side (spec/settlement.md §4, XS-R4..R10): deciding whether a
//! submitted proof credits the merchant, and by how much.
//!
//! [`VerifierState::submit`] is a pure function of the state, the proof and the certificate
//! check: it returns the credit and the next state, or the refusal and no change. The node's
//! settlement contract stores the state and applies the credit in the same transaction
//! (XS-R10), so a refused submission changes nothing.

use crate::check::{CertificateCheck, ChainId};
use crate::proof::{ProofError, SettlementProof};
use crate::record::SettlementRecord;
use alloy_primitives::U256;
use std::collections::{BTreeMap, BTreeSet};

/// Deliberate defects for the model checker to find (`check -- settlement --bug ...`);
/// always `None` in the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeededBug {
    /// Credits any record that verifies, whatever its sequence number (breaks XS-R8, so
    /// XS-S1 exactly-once and XS-S3 conservation).
    NoSeqCheck,
    /// Skips the certificate check (breaks XS-R5, so XS-S4 and XS-S3).
    AcceptUnsigned,
    /// Skips the receipt's Merkle path (breaks XS-R6: a certified header with a forged
    /// receipt is credited; XS-S3).
    SkipInclusionProof,
}

impl SeededBug {
    /// Every seeded bug with its command-line name (`check settlement --bug`,
    /// `bcos-sim --settlement-bug`).
    pub const NAMED: [(&'static str, SeededBug); 3] = [
        ("no-seq-check", SeededBug::NoSeqCheck),
        ("accept-unsigned", SeededBug::AcceptUnsigned),
        ("skip-inclusion-proof", SeededBug::SkipInclusionProof),
    ];

    pub fn name(self) -> &'static str {
        match self {
            SeededBug::NoSeqCheck => "no-seq-check",
            SeededBug::AcceptUnsigned => "accept-unsigned",
            SeededBug::SkipInclusionProof => "skip-inclusion-proof",
        }
    }

    pub fn from_name(name: &str) -> Option<SeededBug> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The names, comma-separated, for error messages.
    pub fn names() -> String {
        Self::NAMED.map(|(n, _)| n).join(", ")
    }
}

/// The merchant chain's settlement parameters (its genesis configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VerifierConfig {
    /// XS-R4: the user chains whose records may be credited. Their validator sets are the
    /// [`CertificateCheck`]'s business.
    pub chains: BTreeSet<ChainId>,
    pub bug: Option<SeededBug>,
}

/// What has been credited from one user chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainProgress {
    /// Sequence number of the last credited record; 0 before the first.
    pub credited_seq: u64,
    /// Sum of the credited records' amounts (= the last one's cumulative).
    pub credited: U256,
}

/// The verifier's whole state: per user chain, what has been credited.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VerifierState {
    pub chains: BTreeMap<ChainId, ChainProgress>,
}

/// An accepted record: credit `record.amount` to the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credit {
    pub record: SettlementRecord,
}

/// Why a submission was refused; its text is the revert reason a client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// XS-R4.
    #[error("chain {0} is not a registered user chain")]
    UnknownChain(ChainId),
    /// XS-R5.
    #[error("the header's commit certificate does not verify for chain {chain}: {reason}")]
    Certificate { chain: ChainId, reason: String },
    /// XS-R7: the record must name the chain whose validators certified the block, and the
    /// block that holds it.
    #[error("the record names chain {record} but the proof is for chain {proof}")]
    WrongChain { record: ChainId, proof: ChainId },
    #[error("the record names block {record} but sits in block {header}")]
    WrongBlock { record: u64, header: u64 },
    /// XS-R8.
    #[error("record {seq} of chain {chain} was already credited (credited up to {credited_seq})")]
    Replay {
        chain: ChainId,
        seq: u64,
        credited_seq: u64,
    },
    /// XS-R8.
    #[error("record {seq} of chain {chain} skips ahead: the next to credit is {expected}")]
    Gap {
        chain: ChainId,
        seq: u64,
        expected: u64,
    },
    /// XS-R9.
    #[error(
        "record {seq} of chain {chain} is inconsistent: amount {amount} and cumulative \
         {cumulative} after {credited} credited"
    )]
    Inconsistent {
        chain: ChainId,
        seq: u64,
        amount: U256,
        cumulative: U256,
        credited: U256,
    },
}

impl VerifierState {
    /// What has been credited from `chain` (zero if nothing).
    pub fn progress(&self, chain: ChainId) -> ChainProgress {
        self.chains.get(&chain).copied().unwrap_or_default()
    }

    /// Decides one submission (XS-R4..R9). Cheap checks come first so a junk submission
    /// costs no pairing; the certificate is checked before anything is credited.
    pub fn submit(
        &self,
        config: &VerifierConfig,
        proof: &SettlementProof,
        check: &dyn CertificateCheck,
    ) -> Result<(Credit, VerifierState), Refusal> {
        let chain = proof.chain_id;
        // XS-R4
        if !config.chains.contains(&chain) {
            return Err(Refusal::UnknownChain(chain));
        }
        // XS-R6, XS-R7
        let record = if config.bug == Some(SeededBug::SkipInclusionProof) {
            proof.claimed_record()?
        } else {
            proof.included_record()?
        };
        if record.chain_id != chain {
            return Err(Refusal::WrongChain {
                record: record.chain_id,
                proof: chain,
            });
        }
        if record.block != proof.header.number {
            return Err(Refusal::WrongBlock {
                record: record.block,
                header: proof.header.number,
            });
        }
        // XS-R8
        let progress = self.progress(chain);
        if config.bug != Some(SeededBug::NoSeqCheck) {
            let expected = progress.credited_seq.saturating_add(1);
            if record.seq < expected {
                return Err(Refusal::Replay {
                    chain,
                    seq: record.seq,
                    credited_seq: progress.credited_seq,
                });
            }
            if record.seq > expected {
                return Err(Refusal::Gap {
                    chain,
                    seq: record.seq,
                    expected,
                });
            }
        }
        // XS-R9
        let inconsistent = || Refusal::Inconsistent {
            chain,
            seq: record.seq,
            amount: record.amount,
            cumulative: record.cumulative,
            credited: progress.credited,
        };
        let credited = progress
            .credited
            .checked_add(record.amount)
            .ok_or_else(inconsistent)?;
        let consistent = !record.amount.is_zero() && credited == record.cumulative;
        if !consistent && config.bug != Some(SeededBug::NoSeqCheck) {
            return Err(inconsistent());
        }
        // XS-R5: last, being the costly check (one pairing).
        if config.bug != Some(SeededBug::AcceptUnsigned) {
            check
                .check(chain, &proof.header, &proof.certificate)
                .map_err(|reason| Refusal::Certificate { chain, reason })?;
        }
        // XS-R10
        let mut next = self.clone();
        next.chains.insert(
            chain,
            ChainProgress {
                credited_seq: record.seq.max(progress.credited_seq),
                credited,
            },
        );
        Ok((Credit { record }, next))
    }
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
