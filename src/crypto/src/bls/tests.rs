//! Tests of BLS votes, certificates and the vote cache. BLS operations cost ~1 ms each, so
//! each test uses a handful and the proptests use none.

use super::*;
use alloy_primitives::B256;

fn keys(n: usize) -> (Vec<BlsSecretKey>, Vec<BlsPublicKey>) {
    let sks: Vec<_> = (0..n)
        .map(|i| BlsSecretKey::from_seed(&[i as u8 + 1; 32]))
        .collect();
    let pks = sks.iter().map(BlsSecretKey::public_key).collect();
    (sks, pks)
}

fn vote_data(height: u64) -> VoteData {
    VoteData {
        group_id: 1,
        height,
        view: 0,
        block_hash: B256::repeat_byte(0xaa),
        state_root: B256::repeat_byte(0xbb),
        receipts_root: B256::repeat_byte(0xcc),
        phase: VotePhase::Commit,
    }
}

#[test]
fn sign_verify_round_trip_and_wrong_key_or_digest_fails() {
    let (sks, pks) = keys(2);
    let digest = vote_data(7).digest();
    let sig = sign_vote(&sks[0], &digest);
    assert!(verify_vote(&pks[0], &digest, &sig));
    assert!(!verify_vote(&pks[1], &digest, &sig), "wrong key");
    assert!(
        !verify_vote(&pks[0], &vote_data(8).digest(), &sig),
        "wrong digest"
    );
    let mut garbage = sig;
    garbage.0[5] ^= 1;
    assert!(
        !verify_vote(&pks[0], &digest, &garbage),
        "corrupted signature"
    );
}

#[test]
fn every_vote_field_and_the_phase_change_the_digest() {
    let base = vote_data(1);
    let variants = [
        VoteData {
            group_id: 2,
            ..base
        },
        VoteData { height: 2, ..base },
        VoteData { view: 1, ..base },
        VoteData {
            block_hash: B256::ZERO,
            ..base
        },
        VoteData {
            state_root: B256::ZERO,
            ..base
        },
        VoteData {
            receipts_root: B256::ZERO,
            ..base
        },
        VoteData {
            phase: VotePhase::Prepare,
            ..base
        },
    ];
    for v in variants {
        assert_ne!(v.digest(), base.digest(), "{v:?}");
    }
    assert_eq!(
        VotePhase::from_tag(VotePhase::Prepare.tag()),
        Some(VotePhase::Prepare)
    );
    assert_eq!(VotePhase::from_tag(0), None);
}

#[test]
fn keys_round_trip_through_bytes_and_hex_and_bad_keys_are_refused() {
    let sk = BlsSecretKey::from_seed(&[9; 32]);
    assert_eq!(
        BlsSecretKey::from_seed(&[9; 32]).to_bytes(),
        sk.to_bytes(),
        "KeyGen is deterministic"
    );
    let sk2 = BlsSecretKey::from_hex(&sk.to_hex()).unwrap();
    assert_eq!(sk2.public_key(), sk.public_key());
    assert_eq!(
        BlsSecretKey::from_bytes(&[0; 32]).map(|_| ()),
        Err(BlsKeyError::SecretKey)
    );
    assert!(matches!(
        BlsSecretKey::from_bytes(&[1; 31]),
        Err(BlsKeyError::Length { .. })
    ));

    let pk = sk.public_key();
    assert_eq!(BlsPublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
    assert_eq!(
        BlsPublicKey::from_hex(&format!("0x{}", pk.to_hex())).unwrap(),
        pk
    );
    assert!(
        BlsPublicKey::from_bytes(&[0x80; PUBLIC_KEY_LEN]).is_err(),
        "not a curve point"
    );
    let mut infinity = [0u8; PUBLIC_KEY_LEN];
    infinity[0] = 0xc0;
    assert!(
        BlsPublicKey::from_bytes(&infinity).is_err(),
        "infinity is not a key"
    );
    assert!(matches!(
        BlsPublicKey::from_hex("zz"),
        Err(BlsKeyError::Hex(_))
    ));
    assert!(
        !format!("{sk:?}").contains(&sk.to_hex()),
        "Debug must not leak the key"
    );

    let proof = sk.prove_possession();
    assert!(pk.verify_possession(&proof));
    assert!(!BlsSecretKey::from_seed(&[8; 32])
        .public_key()
        .verify_possession(&proof));
    let sig = BlsSignature::from_hex(&proof.to_hex()).unwrap();
    assert_eq!(sig, proof);
    // A proof of possession is not a vote on the same bytes, thanks to distinct DSTs.
    assert_ne!(VOTE_DST, POP_DST);
}

fn builder_with<'v>(
    pks: &'v [BlsPublicKey],
    digest: VoteDigest,
    quorum: usize,
    votes: &[(usize, BlsSignature)],
) -> CertificateBuilder<'v> {
    let mut b = CertificateBuilder::new(digest, pks, quorum).unwrap();
    for (i, s) in votes {
        assert_eq!(b.add_vote(*i, *s).unwrap(), VoteAdded::Added);
    }
    b
}

#[test]
fn certificate_from_three_of_four_verifies_at_quorum_three_only() {
    let (sks, pks) = keys(4);
    let digest = vote_data(1).digest();
    let votes: Vec<_> = (0..3).map(|i| (i, sign_vote(&sks[i], &digest))).collect();
    let cache = VoteCache::default();
    let mut b = builder_with(&pks, digest, 3, &votes[..2]);
    assert!(
        b.try_build(&cache).certificate.is_none(),
        "2 votes are below quorum"
    );
    assert_eq!(cache.verifications_performed(), 0, "no work below quorum");
    assert_eq!(b.add_vote(2, votes[2].1).unwrap(), VoteAdded::Added);
    assert_eq!(b.add_vote(2, votes[2].1).unwrap(), VoteAdded::Duplicate);
    assert_eq!(b.add_vote(2, votes[0].1).unwrap(), VoteAdded::Conflicting);
    assert!(b.add_vote(4, votes[0].1).is_err(), "index outside the set");

    let report = b.try_build(&cache);
    assert!(report.culprits.is_empty());
    let cert = report.certificate.unwrap();
    assert_eq!(
        cache.verifications_performed(),
        1,
        "one aggregate check for the quorum"
    );
    assert_eq!(cert.signer_indices().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(quorum_for(4), 3);
    assert_eq!(verify_certificate(&cert, &pks, 3), Ok(()));
    assert_eq!(
        verify_certificate(&cert, &pks, 4),
        Err(CertError::TooFewSigners {
            signers: 3,
            quorum: 4
        })
    );
    let decoded = CommitCertificate::decode(&cert.encode()).unwrap();
    assert_eq!(verify_certificate(&decoded, &pks, 3), Ok(()));
}

#[test]
fn one_bad_vote_is_found_by_the_fallback_and_left_out() {
    let (sks, pks) = keys(4);
    let digest = vote_data(1).digest();
    let mut votes: Vec<_> = (0..4).map(|i| (i, sign_vote(&sks[i], &digest))).collect();
    // Signer 3 signs another digest: a well-formed point that does not verify.
    votes[3].1 = sign_vote(&sks[3], &vote_data(2).digest());
    let cache = VoteCache::default();
    let mut b = builder_with(&pks, digest, 3, &votes);
    let report = b.try_build(&cache);
    assert_eq!(report.culprits.len(), 1);
    let culprit = &report.culprits[0];
    assert_eq!(
        (culprit.signer_index, culprit.reason),
        (3, CulpritReason::InvalidSignature)
    );
    assert_eq!((culprit.digest, culprit.signature), (digest, votes[3].1));
    let cert = report.certificate.unwrap();
    assert_eq!(cert.signer_indices().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(verify_certificate(&cert, &pks, 3), Ok(()));
    assert_eq!(
        cache.verifications_performed(),
        1 + 4,
        "aggregate, then each vote once"
    );
    assert_eq!(b.pending_count(), 3, "the culprit was dropped");

    // Signer 3 now sends its real vote: every other vote is known good on its own, so the
    // rebuild costs one aggregate check and nothing else.
    assert_eq!(
        b.add_vote(3, sign_vote(&sks[3], &digest)).unwrap(),
        VoteAdded::Added
    );
    let report = b.try_build(&cache);
    assert!(report.culprits.is_empty());
    assert_eq!(report.certificate.unwrap().signer_count(), 4);
    assert_eq!(cache.verifications_performed(), 6);
}

#[test]
fn a_malformed_vote_is_a_culprit_without_any_pairing() {
    let (sks, pks) = keys(4);
    let digest = vote_data(1).digest();
    let mut votes: Vec<_> = (0..4).map(|i| (i, sign_vote(&sks[i], &digest))).collect();
    votes[0].1 = BlsSignature([0x80; SIGNATURE_LEN]);
    let cache = VoteCache::default();
    let report = builder_with(&pks, digest, 3, &votes).try_build(&cache);
    assert_eq!(report.culprits.len(), 1);
    assert_eq!(report.culprits[0].reason, CulpritReason::MalformedSignature);
    assert_eq!(
        report
            .certificate
            .unwrap()
            .signer_indices()
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(cache.verifications_performed(), 1);
}

#[test]
fn the_cache_prevents_reverification() {
    let (sks, pks) = keys(4);
    let digest = vote_data(3).digest();
    let sig = sign_vote(&sks[0], &digest);
    let cache = VoteCache::default();
    assert!(cache.verify_vote(0, &pks[0], &digest, &sig));
    assert_eq!(cache.verifications_performed(), 1);
    assert!(cache.verify_vote(0, &pks[0], &digest, &sig));
    assert_eq!(
        cache.verifications_performed(),
        1,
        "second verify is a lookup"
    );
    let bad = sign_vote(&sks[1], &digest);
    assert!(
        !cache.verify_vote(0, &pks[0], &digest, &bad),
        "signer 0 with 1's signature"
    );
    assert!(
        !cache.verify_vote(0, &pks[0], &digest, &bad),
        "invalid votes are not cached"
    );
    assert_eq!(cache.verifications_performed(), 3);

    // Votes inside a verified aggregate count as verified too.
    let votes: Vec<_> = (1..4).map(|i| (i, sign_vote(&sks[i], &digest))).collect();
    let report = builder_with(&pks, digest, 3, &votes).try_build(&cache);
    assert!(report.certificate.is_some());
    assert_eq!(cache.verifications_performed(), 4);
    for (i, s) in &votes {
        assert!(cache.verify_vote(*i, &pks[*i], &digest, s));
    }
    assert_eq!(cache.verifications_performed(), 4);

    // A quorum of votes each verified on its own needs no pairing at all.
    let singles = vec![(0, sig), votes[0], votes[1]];
    for (i, s) in &singles[1..] {
        assert!(cache.verify_single_uncached(VoteKey::new(&digest, *i, s), &pks[*i], s));
    }
    assert_eq!(cache.verifications_performed(), 6);
    let cert = builder_with(&pks, digest, 3, &singles)
        .try_build(&cache)
        .certificate
        .unwrap();
    assert_eq!(cache.verifications_performed(), 6);
    assert_eq!(verify_certificate(&cert, &pks, 3), Ok(()));
}

#[test]
fn votes_valid_only_as_a_colluding_pair_are_rechecked_in_the_fallback() {
    let (sks, pks) = keys(4);
    let digest = vote_data(4).digest();
    let s: Vec<_> = (0..4).map(|i| sign_vote(&sks[i], &digest)).collect();
    // Signers 0 and 1 swap signatures: each vote is invalid, their sum is valid.
    let cache = VoteCache::default();
    let paired = [(0, s[1]), (1, s[0]), (2, s[2])];
    let cert = builder_with(&pks, digest, 3, &paired)
        .try_build(&cache)
        .certificate
        .unwrap();
    assert_eq!(
        verify_certificate(&cert, &pks, 3),
        Ok(()),
        "the pair's sum is genuinely valid"
    );

    // Without its partner, signer 0's vote breaks the aggregate; the fallback must re-check
    // it despite the cache entry from the aggregate above.
    let report =
        builder_with(&pks, digest, 3, &[(0, s[1]), (2, s[2]), (3, s[3])]).try_build(&cache);
    assert_eq!(
        report
            .culprits
            .iter()
            .map(|c| c.signer_index)
            .collect::<Vec<_>>(),
        vec![0]
    );
    assert!(
        report.certificate.is_none(),
        "two good votes are below quorum"
    );
    assert_eq!(cache.verifications_performed(), 1 + 1 + 3);
}

#[test]
fn tampered_or_misshapen_certificates_are_rejected() {
    let (sks, pks) = keys(4);
    let digest = vote_data(5).digest();
    let votes: Vec<_> = (0..3).map(|i| (i, sign_vote(&sks[i], &digest))).collect();
    let cert = builder_with(&pks, digest, 3, &votes)
        .try_build(&VoteCache::default())
        .certificate
        .unwrap();

    let mut flipped = cert.clone();
    flipped.aggregate[40] ^= 0x01;
    assert!(matches!(
        verify_certificate(&flipped, &pks, 3),
        Err(CertError::AggregateInvalid | CertError::AggregateEncoding)
    ));

    let mut outsider = cert.clone();
    outsider.signers[0] |= 1 << 5;
    assert_eq!(
        verify_certificate(&outsider, &pks, 3),
        Err(CertError::SignerOutOfRange {
            index: 5,
            validator_count: 4
        })
    );

    let mut too_few = cert.clone();
    too_few.signers[0] &= !1;
    assert_eq!(
        verify_certificate(&too_few, &pks, 3),
        Err(CertError::TooFewSigners {
            signers: 2,
            quorum: 3
        })
    );

    let mut claims_absent = cert.clone();
    claims_absent.signers[0] = 0b1011; // 0, 1, 3 — but 3 did not sign.
    assert_eq!(
        verify_certificate(&claims_absent, &pks, 3),
        Err(CertError::AggregateInvalid)
    );

    let mut long_bitmap = cert.clone();
    long_bitmap.signers.push(0);
    assert_eq!(
        verify_certificate(&long_bitmap, &pks, 3),
        Err(CertError::BitmapLength {
            expected: 1,
            actual: 2
        })
    );

    let mut other_digest = cert.clone();
    other_digest.digest = vote_data(6).digest();
    assert_eq!(
        verify_certificate(&other_digest, &pks, 3),
        Err(CertError::AggregateInvalid)
    );

    let (_, other_set) = keys(5);
    assert_eq!(
        verify_certificate(&cert, &other_set[1..], 3),
        Err(CertError::AggregateInvalid)
    );
    assert!(matches!(
        verify_certificate(&cert, &pks, 0),
        Err(CertError::BadQuorum { .. })
    ));
    assert!(matches!(
        verify_certificate(&cert, &pks, 5),
        Err(CertError::BadQuorum { .. })
    ));
}

#[test]
fn the_cache_is_bounded_and_never_downgrades() {
    let cache = VoteCache::with_capacity(2);
    let key = |i: usize| {
        VoteKey::new(
            &VoteDigest(B256::ZERO),
            i,
            &BlsSignature([i as u8; SIGNATURE_LEN]),
        )
    };
    cache.insert(key(0), VerifiedBy::Single);
    cache.insert(key(0), VerifiedBy::Aggregate);
    assert_eq!(cache.lookup(&key(0)), Some(VerifiedBy::Single));
    cache.insert(key(1), VerifiedBy::Aggregate);
    cache.insert(key(1), VerifiedBy::Single);
    assert_eq!(cache.lookup(&key(1)), Some(VerifiedBy::Single));
    cache.insert(key(2), VerifiedBy::Aggregate);
    assert_eq!(cache.len(), 2);
    assert!(!cache.contains(&key(0)), "oldest evicted first");
    assert!(cache.contains(&key(2)));
    let off = VoteCache::with_capacity(0);
    off.insert(key(0), VerifiedBy::Single);
    assert!(off.is_empty());
    assert_eq!(VoteCache::default().capacity_entries(), 100_000);
}
