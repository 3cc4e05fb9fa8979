//! One consensus round through a sans-IO core behind the `Protocol` trait: a proposal for the
//! next height goes in, the decision comes out (group `consensus_round`).
//!
//! Today only the solo core exists (function `solo`: propose → commit at once, SOLO-R1), so
//! this measures the cost the driver pays per block for the trait round trip. The 4-node
//! in-memory PBFT round (pre-prepare, prepare and commit votes among four cores, BLS-signed)
//! arrives with the PBFT core as another function of this group, driven by the same
//! `round_trip` shape.

use bcos_benches::quick;
use bcos_consensus::{Decision, Input, Output, Proposal, Protocol, Solo};
use bcos_types::B256;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = consensus_round }
criterion_main!(benches);
