//! The model checker's step rate (group `model_step`): a whole bounded check of the real
//! PBFT core (n = 4, all honest, duplicating and reordering network, view 0, depth 5) and of
//! the real Raft core (n = 3, 3 heights, duplication, reordering and restarts, depth 6), one
//! checker thread, fresh tables each time. Throughput is in states generated per second, the
//! figure models/README.md reports (there per minute, with 2 threads), so a slowdown of the
//! harness or of a core's step shows here.

use bcos_benches::quick;
use bcos_consensus::{PbftConfig, RaftConfig};
use bcos_models::protocols::{describe, pbft, raft};
use bcos_models::{run, Faults, ModelCfg, Restarts, RunOptions};
use criterion::{criterion_group, Criterion, Throughput};
use std::hint::black_box;

fn opts(depth: usize) -> RunOptions {
    RunOptions {
        threads: 1,
        depth_max: Some(depth),
        ..RunOptions::default()
    }
}

/// States one bounded PBFT check generates (deterministic with one thread).
fn pbft_states() -> usize {
    let cfg = ModelCfg {
        n: 4,
        byzantine: None,
        max_height: 1,
        bound: Some(0),
    };
    let m = pbft::model(
        PbftConfig::new(4, 0),
        cfg,
        Faults {
            restarts: Restarts::None,
            ..Faults::safety()
        },
    );
    run(m, &opts(5), describe).states
}

/// States one bounded Raft check generates.
fn raft_states() -> usize {
    let cfg = ModelCfg {
        n: 3,
        byzantine: None,
        max_height: 3,
        bound: Some(3),
    };
    let m = raft::model(RaftConfig::new(3, 0), cfg, Faults::safety());
    run(m, &opts(6), raft::describe).states
}

fn model_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("model_step");
    for (name, f) in [
        ("pbft4_view0_depth5", pbft_states as fn() -> usize),
        ("raft3_depth6", raft_states),
    ] {
        let n = f();
        assert!(n > 1_000, "{name}: {n} states");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| b.iter(|| black_box(f())));
    }
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = model_step }
bcos_benches::bench_main!(benches);
