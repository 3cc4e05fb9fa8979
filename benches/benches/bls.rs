//! BLS12-381 vote signatures with `blst` (min_pk: 48-byte public keys in G1, 96-byte
//! signatures in G2), the scheme PBFT votes and commit certificates will use. A vote is a
//! 48-byte message (height, view, block hash). Expected figures on the reference machine
//! (shared/reference/machine-limits.md row 3): sign 373 µs, verify ~1.1 ms, aggregate 64
//! signatures 85 µs, fast_aggregate_verify of 64 ~1.1 ms (flat in the count).

use bcos_benches::quick;
use blst::min_pk::{AggregateSignature, PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

/// Proof-of-possession ciphersuite (IETF BLS draft §4.2.3): aggregation of signatures on one
/// message is safe because each validator proves possession of its key at registration.
const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
const VOTE_BYTES: usize = 48;
const VALIDATORS: usize = 64;

fn secret_key(i: usize) -> SecretKey {
    let mut ikm = [0x42u8; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::key_gen(&ikm, &[]).expect("32 bytes of key material suffice")
}

fn vote(i: usize) -> [u8; VOTE_BYTES] {
    let mut m = [0u8; VOTE_BYTES];
    m[..8].copy_from_slice(&(i as u64).to_be_bytes());
    m[8] = 0x01;
    m
}

fn bls(c: &mut Criterion) {
    let sks: Vec<SecretKey> = (0..VALIDATORS).map(secret_key).collect();
    let pks: Vec<PublicKey> = sks.iter().map(|sk| sk.sk_to_pk()).collect();
    let msgs: Vec<[u8; VOTE_BYTES]> = (0..VALIDATORS).map(vote).collect();
    // Distinct messages for sign/verify so the loop does not run on one hot value.
    let sigs: Vec<Signature> = sks
        .iter()
        .zip(&msgs)
        .map(|(sk, m)| sk.sign(m, DST, &[]))
        .collect();
    // All validators voting for one block: the certificate case.
    let common = vote(7);
    let votes: Vec<Signature> = sks.iter().map(|sk| sk.sign(&common, DST, &[])).collect();
    let vote_refs: Vec<&Signature> = votes.iter().collect();
    let pk_refs: Vec<&PublicKey> = pks.iter().collect();
    let certificate = AggregateSignature::aggregate(&vote_refs, true)
        .expect("valid votes")
        .to_signature();
    assert_eq!(
        certificate.fast_aggregate_verify(true, &common, DST, &pk_refs),
        BLST_ERROR::BLST_SUCCESS
    );
    assert_eq!(
        sigs[0].verify(true, &msgs[0], DST, &[], &pks[0], false),
        BLST_ERROR::BLST_SUCCESS
    );

    let mut g = c.benchmark_group("bls");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("sign_vote", |b| {
        b.iter(|| {
            i = (i + 1) % VALIDATORS;
            black_box(sks[i].sign(&msgs[i], DST, &[]))
        })
    });
    // Signature subgroup check on (it came from the network); keys were validated at
    // registration, so no key validation per vote.
    g.bench_function("verify_vote", |b| {
        b.iter(|| {
            i = (i + 1) % VALIDATORS;
            let r = sigs[i].verify(true, &msgs[i], DST, &[], &pks[i], false);
            assert_eq!(r, BLST_ERROR::BLST_SUCCESS);
        })
    });
    // Votes are verified one by one as they arrive, so aggregation skips the subgroup checks.
    g.bench_function(BenchmarkId::new("aggregate", VALIDATORS), |b| {
        b.iter(|| black_box(AggregateSignature::aggregate(&vote_refs, false).expect("non-empty")))
    });
    g.bench_function(BenchmarkId::new("fast_aggregate_verify", VALIDATORS), |b| {
        b.iter(|| {
            let r = certificate.fast_aggregate_verify(true, &common, DST, &pk_refs);
            assert_eq!(r, BLST_ERROR::BLST_SUCCESS);
        })
    });
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = bls }
bcos_benches::bench_main!(benches);
