//! The fixed seeds CI runs per protocol (issue 12, "Tests and CI"): each must pass every
//! checker, and a run replays exactly (same seed, same trace hash). The long sweep (1,000
//! seeds per protocol) is `cargo run --release -p bcos-sim -- --seeds 0..1000`.

use bcos_sim::config::{Protocol, SimConfig};

/// Virtual ms of the faulty phase here (the CLI's default is 10,000).
const TICKS: u64 = 4_000;

/// Seeds that exercise every fault kind between them (drops, duplicates, delays, crashes,
/// crashes right after a step, partitions, isolations, clock skew) and pass today.
const PBFT_SEEDS: [u64; 6] = [0, 1, 2, 3, 4, 5];
const RAFT_SEEDS: [u64; 6] = [0, 1, 2, 3, 4, 5];
/// The seed of the Byzantine runs (each module at node 1).
const BYZANTINE_SEED: u64 = 2;

fn run(protocol: Protocol, seed: u64, byzantine: Option<&str>) -> bcos_sim::Report {
    let mut cfg = SimConfig::new(protocol, 4, seed);
    cfg.ticks = TICKS;
    cfg.byzantine = byzantine.map(|b| b.parse().expect("a valid spec"));
    bcos_sim::run(&cfg).expect("the run starts")
}

fn assert_passes(protocol: Protocol, seeds: &[u64], byzantine: Option<&str>) {
    let mut faults = 0;
    for &seed in seeds {
        let r = run(protocol, seed, byzantine);
        assert!(r.passed(), "{protocol} seed {seed} failed:\n{r}");
        assert!(r.height > 0, "{protocol} seed {seed} committed nothing");
        faults += r.faults_injected();
    }
    assert!(faults > 0, "the fixed seeds injected no fault at all");
}

#[test]
fn pbft_fixed_seeds_pass() {
    assert_passes(Protocol::Pbft, &PBFT_SEEDS, None);
}

#[test]
fn raft_fixed_seeds_pass() {
    assert_passes(Protocol::Raft, &RAFT_SEEDS, None);
}

/// The Byzantine modules (PBFT, f = 1 of 4): the honest nodes keep every property.
#[test]
fn pbft_tolerates_each_byzantine_module() {
    for kind in [
        "equivocate",
        "silent",
        "double-vote",
        "garbage",
        "fake-sync",
    ] {
        let spec = format!("{kind}@1");
        let r = run(Protocol::Pbft, BYZANTINE_SEED, Some(&spec));
        assert!(r.passed(), "byzantine {spec} broke the cluster:\n{r}");
        assert!(
            r.byzantine_frames > 0 || kind == "silent",
            "{spec} did nothing"
        );
    }
}

#[test]
fn a_seed_replays_to_the_same_trace_hash() {
    for protocol in [Protocol::Pbft, Protocol::Raft] {
        let a = run(protocol, 7, None);
        let b = run(protocol, 7, None);
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "{protocol} seed 7 did not replay"
        );
        let c = run(protocol, 8, None);
        assert_ne!(a.trace_hash, c.trace_hash, "two seeds, one trace");
    }
}

/// The seeds on which the simulator found bugs in the real drivers (src/sim/README.md,
/// "Bugs found"), at the CLI's default length: each must pass now.
#[test]
fn seeds_that_found_driver_bugs_pass() {
    let found: [(Protocol, u64); 12] = [
        (Protocol::Raft, 1),   // RAFT-R17: an earlier term's tail never committed
        (Protocol::Raft, 24),  // block body lost with the leader's crash
        (Protocol::Raft, 48),  // a leader did not send an executed candidate
        (Protocol::Raft, 185), // block body lost
        (Protocol::Raft, 201), // room for bodies full of later heights
        (Protocol::Raft, 267), // a leader's match above a follower's shortened log
        (Protocol::Raft, 629), // a refusal storm below the leader's log base
        (Protocol::Raft, 796), // a transaction only followers held
        (Protocol::Pbft, 18),  // every honest node locked on a block none held
        (Protocol::Pbft, 20),  // locks nobody could prove after restarts
        (Protocol::Pbft, 25),  // locked block lost
        (Protocol::Pbft, 237), // view-change split over unprovable locks
    ];
    for (protocol, seed) in found {
        let cfg = SimConfig::new(protocol, 4, seed);
        let r = bcos_sim::run(&cfg).expect("the run starts");
        assert!(r.passed(), "{protocol} seed {seed} fails again:\n{r}");
    }
}
