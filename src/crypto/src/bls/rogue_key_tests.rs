//! PBFT-K1: a rogue key forges a certificate under fast aggregate verification, and the
//! proof-of-possession check is what keeps it out of the validator set.

use super::rogue::rogue_public_key;
use super::*;
use alloy_primitives::B256;

fn digest() -> VoteDigest {
    VoteData {
        group_id: 1,
        height: 7,
        view: 0,
        block_hash: B256::repeat_byte(0x0f),
        state_root: B256::repeat_byte(0x1f),
        receipts_root: B256::repeat_byte(0x2f),
        phase: VotePhase::Commit,
    }
    .digest()
}

#[test]
fn a_rogue_key_alone_forges_a_quorum_certificate_that_fast_aggregate_verify_accepts() {
    let honest: Vec<_> = (0..3u8)
        .map(|i| BlsSecretKey::from_seed(&[i + 1; 32]).public_key())
        .collect();
    let attacker = BlsSecretKey::from_seed(&[0x66; 32]);
    // validator 3 registers own·G - pk0 - pk1
    let rogue = rogue_public_key(&attacker, &honest[..2]).unwrap();
    let validators = vec![
        honest[0].clone(),
        honest[1].clone(),
        honest[2].clone(),
        rogue.clone(),
    ];
    let digest = digest();
    // Validators 0 and 1 never signed anything; the attacker signs alone with its own key.
    let forged = CommitCertificate {
        digest,
        signers: vec![0b1011],
        aggregate: sign_vote(&attacker, &digest).to_bytes(),
    };
    assert_eq!(
        verify_certificate(&forged, &validators, quorum_for(4)),
        Ok(()),
        "without proofs of possession the forged quorum of {{0, 1, 3}} verifies"
    );

    // The attacker's only proofs: one for the key it owns, one made with that key over the
    // rogue key's bytes. Neither proves possession of the rogue key.
    let own_proof = attacker.prove_possession();
    let signed_rogue_bytes = attacker.sign_raw(&rogue.to_bytes(), POP_DST);
    for proof in [own_proof, signed_rogue_bytes] {
        assert!(!rogue.verify_possession(&proof));
        assert_eq!(
            BlsPublicKey::from_hex_with_possession(&rogue.to_hex(), &proof.to_hex()),
            Err(BlsKeyError::Possession)
        );
    }
}

#[test]
fn keys_with_their_own_proofs_load_and_swapped_or_malformed_proofs_do_not() {
    let a = BlsSecretKey::from_seed(&[1; 32]);
    let b = BlsSecretKey::from_seed(&[2; 32]);
    let (pa, pb) = (a.prove_possession(), b.prove_possession());
    assert_eq!(
        BlsPublicKey::from_hex_with_possession(&a.public_key().to_hex(), &pa.to_hex()),
        Ok(a.public_key())
    );
    assert_eq!(
        BlsPublicKey::from_hex_with_possession(&a.public_key().to_hex(), &pb.to_hex()),
        Err(BlsKeyError::Possession)
    );
    // a vote signature over the key bytes is not a proof (different DST)
    let vote_dst_sig = a.sign_raw(&a.public_key().to_bytes(), VOTE_DST);
    assert_eq!(
        BlsPublicKey::from_hex_with_possession(&a.public_key().to_hex(), &vote_dst_sig.to_hex()),
        Err(BlsKeyError::Possession)
    );
    assert!(matches!(
        BlsPublicKey::from_hex_with_possession(&a.public_key().to_hex(), ""),
        Err(BlsKeyError::Length { .. })
    ));
    assert!(matches!(
        BlsPublicKey::from_hex_with_possession(&a.public_key().to_hex(), &"ff".repeat(96)),
        Err(BlsKeyError::Possession)
    ));
}
