//! Cross-chain settlement of high-frequency accounts (whitepaper §3.3.3; spec/settlement.md).
//!
//! A merchant paid by very many users is served by a proxy account on each user chain. Each
//! user chain turns what its proxy holds into numbered settlement records (the *producer*,
//! XS-R1..R3); relayers carry each record with a proof to the merchant's chain, whose
//! *verifier* credits it exactly once, in order, with nothing omitted (XS-R4..R10).
//!
//! This is a pure, sans-IO crate like `bcos-consensus`: plain-data state in, a decision out.
//! Signature checks stay outside behind [`CertificateCheck`] (BLS in the node, a mock in the
//! models), so the node's system contract, the relayer and `models/` run this very code.

#![cfg_attr(test, allow(clippy::unwrap_used))] // a test failing loudly is the point

pub mod check;
pub mod producer;
pub mod proof;
pub mod record;
pub mod verifier;

pub use check::{CertificateCheck, ChainId, WithMembers};
pub use producer::{ProducerState, SettleRefusal};
pub use proof::{SettlementProof, PROOF_BYTES_MAX};
pub use record::{
    settlement_topic, SettlementRecord, RECORD_LEN, SETTLEMENT_ADDRESS, SETTLEMENT_EVENT,
};
pub use verifier::{ChainProgress, Credit, Refusal, SeededBug, VerifierConfig, VerifierState};
