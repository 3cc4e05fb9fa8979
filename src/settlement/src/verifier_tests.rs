use super::*;
use crate::proof::tests::{proof_of, record};
use bcos_types::Header;

/// Accepts exactly the certificate `b"cert"` for registered chains.
struct MockCheck;

impl CertificateCheck for MockCheck {
    fn check(&self, _chain: ChainId, _header: &Header, certificate: &[u8]) -> Result<(), String> {
        if certificate == b"cert" {
            Ok(())
        } else {
            Err("mock signature does not verify".into())
        }
    }
}

fn config(bug: Option<SeededBug>) -> VerifierConfig {
    VerifierConfig {
        chains: [20_201].into(),
        bug,
    }
}

fn credit(state: &VerifierState, p: &SettlementProof) -> Result<VerifierState, Refusal> {
    state.submit(&config(None), p, &MockCheck).map(|(_, s)| s)
}

#[test]
fn records_are_credited_once_in_order() {
    let s0 = VerifierState::default();
    let s1 = credit(&s0, &proof_of(record(1, 5, 5))).unwrap();
    assert_eq!(
        s1.progress(20_201),
        ChainProgress {
            credited_seq: 1,
            credited: U256::from(5u64)
        }
    );
    assert!(matches!(
        credit(&s1, &proof_of(record(1, 5, 5))),
        Err(Refusal::Replay { seq: 1, .. })
    ));
    assert!(matches!(
        credit(&s1, &proof_of(record(3, 1, 8))),
        Err(Refusal::Gap { expected: 2, .. })
    ));
    let s2 = credit(&s1, &proof_of(record(2, 3, 8))).unwrap();
    assert_eq!(s2.progress(20_201).credited, U256::from(8u64));
}

#[test]
fn a_bad_certificate_unknown_chain_or_forged_amount_changes_nothing() {
    let s0 = VerifierState::default();
    let mut unsigned = proof_of(record(1, 5, 5));
    unsigned.certificate = b"forged".to_vec().into();
    assert!(matches!(
        credit(&s0, &unsigned),
        Err(Refusal::Certificate { .. })
    ));
    let mut other = proof_of(record(1, 5, 5));
    other.chain_id = 1;
    assert_eq!(credit(&s0, &other), Err(Refusal::UnknownChain(1)));
    assert!(matches!(
        credit(&s0, &proof_of(record(1, 5, 6))),
        Err(Refusal::Inconsistent { .. })
    ));
    let mut forged = proof_of(record(1, 5, 5));
    forged.receipt.logs[0] = record(1, 50, 50).to_log();
    assert_eq!(
        credit(&s0, &forged),
        Err(Refusal::Proof(ProofError::NotInReceipts))
    );
}

#[test]
fn a_record_must_name_its_own_chain_and_block() {
    let s0 = VerifierState::default();
    let mut r = record(1, 5, 5);
    r.chain_id = 7;
    let mut p = proof_of(r);
    p.chain_id = 20_201;
    assert!(matches!(
        credit(&s0, &p),
        Err(Refusal::WrongChain { record: 7, .. })
    ));
    let mut p = proof_of(record(1, 5, 5));
    p.header.number += 1;
    // The header changed, so its receipts root still matches but the block does not.
    assert!(matches!(credit(&s0, &p), Err(Refusal::WrongBlock { .. })));
}

#[test]
fn each_seeded_bug_lets_a_bad_submission_through() {
    let s0 = VerifierState::default();
    let s1 = credit(&s0, &proof_of(record(1, 5, 5))).unwrap();
    let replay = proof_of(record(1, 5, 5));
    assert!(s1
        .submit(&config(Some(SeededBug::NoSeqCheck)), &replay, &MockCheck)
        .is_ok());
    let mut unsigned = proof_of(record(1, 5, 5));
    unsigned.certificate = b"forged".to_vec().into();
    assert!(s0
        .submit(
            &config(Some(SeededBug::AcceptUnsigned)),
            &unsigned,
            &MockCheck
        )
        .is_ok());
    let mut forged = proof_of(record(1, 5, 5));
    forged.receipt.logs[0] = record(1, 50, 50).to_log();
    assert!(s0
        .submit(
            &config(Some(SeededBug::SkipInclusionProof)),
            &forged,
            &MockCheck
        )
        .is_ok());
}

#[test]
fn seeded_bugs_round_trip_through_their_names() {
    for (name, bug) in SeededBug::NAMED {
        assert_eq!(bug.name(), name);
        assert_eq!(SeededBug::from_name(name), Some(bug));
    }
    assert_eq!(SeededBug::from_name("nope"), None);
}
