//! The model checker's step rate (group `model_step`): a whole bounded check of the real
//! PBFT core (n = 4, all honest, duplicating and reordering network, view 0, depth 5) and of
//! the real Raft core (n = 3, default faults, depth 6), one checker thread, fresh tables each
//! time. Throughput is in states generated per second, the figure models/README.md reports
//! (there per minute, with 2 threads), so a slowdown of the harness or of a core's step shows
//! here.

use bcos_benches::quick;
use bcos_models::protocols::{check, CheckRequest};
use bcos_models::{Role, RunOptions};
use criterion::{criterion_group, Criterion, Throughput};
use std::hint::black_box;

fn pbft() -> CheckRequest {
    CheckRequest {
        scenario: Some("free".into()),
        byzantine: Some((0, Role::Honest)),
        faults: Some("dup,reorder".parse().expect("fault list")),
        bound: Some(0),
        run: RunOptions {
            threads: 1,
            depth_max: Some(5),
            ..RunOptions::default()
        },
        ..CheckRequest::default()
    }
}

fn raft() -> CheckRequest {
    CheckRequest {
        run: RunOptions {
            threads: 1,
            depth_max: Some(6),
            ..RunOptions::default()
        },
        ..CheckRequest::default()
    }
}

/// States one check generates (the run is deterministic with one thread).
fn states(protocol: &str, req: &CheckRequest) -> u64 {
    let report = check(protocol, req).expect("model check");
    report.first().expect("one run").states as u64
}

fn model_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("model_step");
    for (name, protocol, req) in [("pbft4_view0_depth5", "pbft", pbft()), ("raft3_depth6", "raft", raft())] {
        let n = states(protocol, &req);
        assert!(n > 1_000, "{name}: {n} states");
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| b.iter(|| black_box(states(protocol, &req))));
    }
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = model_step }
bcos_benches::bench_main!(benches);
