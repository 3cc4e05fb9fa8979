//! Property tests of the certificate codec and bitmap checks (no BLS operations).

use super::*;
use alloy_primitives::B256;
use proptest::prelude::*;

fn arb_certificate() -> impl Strategy<Value = CommitCertificate> {
    (
        any::<[u8; 32]>(),
        proptest::collection::vec(any::<u8>(), 0..=MAX_VALIDATORS / 8),
        proptest::collection::vec(any::<u8>(), SIGNATURE_LEN),
    )
        .prop_map(|(digest, signers, agg)| {
            let mut aggregate = [0u8; SIGNATURE_LEN];
            aggregate.copy_from_slice(&agg);
            CommitCertificate {
                digest: VoteDigest(B256::from(digest)),
                signers,
                aggregate,
            }
        })
}

proptest! {
    #[test]
    fn certificate_encoding_round_trips(cert in arb_certificate()) {
        let bytes = cert.encode();
        prop_assert!(bytes.len() <= MAX_CERTIFICATE_LEN);
        prop_assert_eq!(CommitCertificate::decode(&bytes), Ok(cert));
    }

    #[test]
    fn truncated_or_extended_encodings_are_refused(cert in arb_certificate(), cut in any::<prop::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let bytes = cert.encode();
        let keep = cut.index(bytes.len());
        prop_assert!(matches!(CommitCertificate::decode(&bytes[..keep]), Err(CertError::Truncated { .. })), "truncated at {}", keep);
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert_eq!(CommitCertificate::decode(&longer), Err(CertError::TrailingBytes(extra.len())));
    }

    #[test]
    fn any_accepted_bytes_re_encode_identically(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(cert) = CommitCertificate::decode(&bytes) {
            prop_assert_eq!(cert.encode(), bytes);
        }
    }

    #[test]
    fn bitmap_accessors_agree(signers in proptest::collection::vec(any::<u8>(), 0..=MAX_VALIDATORS / 8)) {
        let cert = CommitCertificate { digest: VoteDigest(B256::ZERO), signers, aggregate: [0; SIGNATURE_LEN] };
        let indices: Vec<usize> = cert.signer_indices().collect();
        prop_assert_eq!(indices.len(), cert.signer_count());
        prop_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        for i in 0..cert.signers.len() * 8 + 8 {
            prop_assert_eq!(cert.has_signer(i), indices.contains(&i));
        }
    }

    #[test]
    fn shape_checks_match_the_bitmap(n in 1usize..=64, bits in any::<u64>(), quorum in 1usize..=64) {
        prop_assume!(quorum <= n);
        let mut signers = bits.to_le_bytes().to_vec();
        signers.truncate(bitmap_len(n));
        let cert = CommitCertificate { digest: VoteDigest(B256::ZERO), signers, aggregate: [0; SIGNATURE_LEN] };
        let in_set = (0..n).filter(|&i| cert.has_signer(i)).count();
        let outside = cert.signer_count() - in_set;
        let verdict = certificate::check_signers(&cert, n, quorum);
        if outside > 0 {
            prop_assert!(matches!(verdict, Err(CertError::SignerOutOfRange { .. })), "outside");
        } else if in_set < quorum {
            prop_assert_eq!(verdict, Err(CertError::TooFewSigners { signers: in_set, quorum }));
        } else {
            prop_assert_eq!(verdict.map(|s| s.len()), Ok(in_set));
        }
    }
}
