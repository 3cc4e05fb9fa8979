//! One consensus round through a sans-IO core behind the `Protocol` trait: a proposal for the
//! next height goes in, the decision comes out (group `consensus_round`).
//!
//! Functions: `solo` (propose → commit at once, SOLO-R1: the trait round trip the driver
//! pays per block); `pbft4` (four in-memory PBFT cores, FIFO delivery: pre-prepare, prepares,
//! execution feedback, commit votes, until all four decide — the core's CPU per block); and
//! `pbft4_bls` (the same round plus what the node's driver adds: every prepare and commit
//! vote BLS-signed, and each node building its commit certificate from the votes it got —
//! one aggregate verification per node).

use bcos_benches::quick;
use bcos_consensus::pbft::{CommitBody, PbftMsg, PbftTimer};
use bcos_consensus::{
    Decision, ExecutedRoots, Input, Output, Pbft, PbftConfig, Proposal, Protocol, Solo,
};
use bcos_crypto::bls::{
    quorum_for, sign_vote, BlsPublicKey, BlsSecretKey, CertificateBuilder, VoteCache, VoteData,
    VotePhase,
};
use bcos_types::B256;
use criterion::{criterion_group, Criterion, Throughput};
use std::collections::VecDeque;
use std::hint::black_box;

/// Proposes `block_hash` for the core's next height and returns the decision it outputs.
fn round_trip<P: Protocol>(core: &mut P, block_hash: B256) -> Option<Decision> {
    let proposal = Proposal {
        height: core.next_height(),
        block_hash,
    };
    core.handle(Input::Propose(proposal))
        .into_iter()
        .find_map(|o| match o {
            Output::Commit(d) => Some(d),
            _ => None,
        })
}

const N: u32 = 4;

/// Four cores and their keys; `round` decides one height on all of them.
struct Four {
    cores: Vec<Pbft>,
    keys: Vec<BlsSecretKey>,
    pks: Vec<BlsPublicKey>,
    caches: Vec<VoteCache>,
}

fn roots(block_hash: B256, height: u64) -> ExecutedRoots {
    ExecutedRoots {
        height,
        block_hash,
        state_root: B256::with_last_byte(1),
        receipts_root: B256::with_last_byte(2),
    }
}

impl Four {
    fn new() -> Self {
        let keys: Vec<BlsSecretKey> = (0..N)
            .map(|i| BlsSecretKey::from_seed(&[i as u8 + 1; 32]))
            .collect();
        Four {
            cores: (0..N)
                .map(|me| Pbft::new(PbftConfig::new(N, me), 1).expect("valid config"))
                .collect(),
            pks: keys.iter().map(BlsSecretKey::public_key).collect(),
            keys,
            caches: (0..N).map(|_| VoteCache::with_capacity(4096)).collect(),
        }
    }

    fn vote(
        &self,
        signer: usize,
        height: u64,
        view: u64,
        body: CommitBody,
        phase: VotePhase,
    ) -> bcos_crypto::bls::BlsSignature {
        let d = VoteData {
            group_id: 1,
            height,
            view,
            block_hash: body.block_hash,
            state_root: body.state_root,
            receipts_root: body.receipts_root,
            phase,
        }
        .digest();
        sign_vote(&self.keys[signer], &d)
    }

    /// One height: the leader proposes, messages flow FIFO, every node executes the block
    /// on receipt. With `bls`, each vote sent is signed and each decision becomes a
    /// certificate. Returns the decisions (one per node).
    fn round(&mut self, bls: bool) -> Vec<Decision> {
        let height = self.cores[0].next_height();
        let leader = self.cores[0].leader() as usize;
        let block = B256::with_last_byte(height as u8);
        let mut queue: VecDeque<(usize, Input<PbftMsg, PbftTimer>)> = VecDeque::new();
        queue.push_back((
            leader,
            Input::Propose(Proposal {
                height,
                block_hash: block,
            }),
        ));
        queue.push_back((leader, Input::Executed(roots(block, height))));
        let mut decided = Vec::new();
        let mut commit_votes: Vec<Vec<(usize, bcos_crypto::bls::BlsSignature)>> =
            vec![Vec::new(); N as usize];
        while let Some((at, input)) = queue.pop_front() {
            let is_pre_prepare = matches!(
                &input,
                Input::Message {
                    msg: PbftMsg::PrePrepare(_),
                    ..
                }
            );
            for o in self.cores[at].handle(input) {
                match o {
                    Output::Broadcast(m) => {
                        if bls {
                            match &m {
                                PbftMsg::Prepare(p) => {
                                    let body = CommitBody {
                                        block_hash: p.block_hash,
                                        state_root: B256::ZERO,
                                        receipts_root: B256::ZERO,
                                    };
                                    black_box(self.vote(
                                        at,
                                        p.height,
                                        p.view,
                                        body,
                                        VotePhase::Prepare,
                                    ));
                                }
                                PbftMsg::Commit(c) => {
                                    let sig =
                                        self.vote(at, c.height, c.view, c.body, VotePhase::Commit);
                                    for v in commit_votes.iter_mut() {
                                        v.push((at, sig));
                                    }
                                }
                                _ => {}
                            }
                        }
                        for to in (0..N as usize).filter(|t| *t != at) {
                            queue.push_back((
                                to,
                                Input::Message {
                                    from: at as u32,
                                    msg: m.clone(),
                                },
                            ));
                        }
                    }
                    Output::Commit(d) => {
                        if bls {
                            let c = bcos_consensus::pbft::CommitCert::decode(&d.certificate)
                                .expect("core certificate");
                            let digest = VoteData {
                                group_id: 1,
                                height: c.height,
                                view: c.view,
                                block_hash: c.body.block_hash,
                                state_root: c.body.state_root,
                                receipts_root: c.body.receipts_root,
                                phase: VotePhase::Commit,
                            }
                            .digest();
                            let mut b =
                                CertificateBuilder::new(digest, &self.pks, quorum_for(N as usize))
                                    .expect("builder");
                            for (i, sig) in &commit_votes[at] {
                                let _ = b.add_vote(*i, *sig);
                            }
                            assert!(
                                b.try_build(&self.caches[at]).certificate.is_some(),
                                "certificate"
                            );
                        }
                        decided.push(d);
                    }
                    _ => {}
                }
            }
            if is_pre_prepare {
                queue.push_back((at, Input::Executed(roots(block, height))));
            }
        }
        decided
    }
}

fn consensus_round(c: &mut Criterion) {
    let mut g = c.benchmark_group("consensus_round");
    g.throughput(Throughput::Elements(1));
    let mut solo = Solo::new(1);
    let decided =
        round_trip(&mut solo, B256::repeat_byte(1)).expect("solo decides its own proposal");
    assert_eq!(decided.height, 1);
    g.bench_function("solo", |b| {
        b.iter(|| {
            let hash = B256::with_last_byte(solo.next_height() as u8);
            black_box(round_trip(&mut solo, hash).expect("solo decides its own proposal"))
        })
    });
    for (name, bls) in [("pbft4", false), ("pbft4_bls", true)] {
        let mut four = Four::new();
        assert_eq!(four.round(bls).len(), N as usize, "all four decide");
        g.bench_function(name, |b| {
            b.iter(|| {
                let d = four.round(bls);
                assert_eq!(d.len(), N as usize);
                black_box(d)
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = consensus_round }
bcos_benches::bench_main!(benches);
