//! Several groups on one set of simulated nodes (issue 13, spec/groups.md): three chains,
//! PBFT on every node, Raft on nodes 1-3 and PBFT on every node again, share four nodes, their
//! network and their crashes. Every group must commit and keep every checker, a seed must
//! replay, and a one-group list must be exactly the single-chain run.
//!
//! The 3-node subset runs Raft: a PBFT group of 3 (n != 3f + 1) stalls in the drivers today
//! (src/sim/README.md, "Open").

use bcos_node::cluster::config::SeededBug;
use bcos_sim::config::{Protocol, SimConfig};
use bcos_sim::groups::groups_from_cli;
use bcos_sim::{GroupVerdict, SimGroup};

/// Virtual ms of the faulty phase (the CLI's default is 10,000).
const TICKS: u64 = 3_000;
/// Between them: drops, duplicates, delays, partitions, isolations, scheduled crashes and
/// crashes right after a step (each taking all three groups of the node down).
const SEEDS: [u64; 5] = [0, 1, 2, 3, 4];

fn three_groups(seed: u64) -> SimConfig {
    let groups = groups_from_cli(
        4,
        Protocol::Pbft,
        3,
        Some("pbft,raft,pbft"),
        &["1=1,2,3".into()],
    )
    .expect("a valid group list");
    let mut cfg = SimConfig::with_groups(4, seed, groups);
    cfg.ticks = TICKS;
    cfg
}

#[test]
fn three_groups_on_four_nodes_commit_under_faults() {
    let (mut faults, mut crashes) = (0, 0);
    for seed in SEEDS {
        let r = bcos_sim::run(&three_groups(seed)).expect("the run starts");
        assert!(r.passed(), "seed {seed} failed:\n{r}");
        assert_eq!(r.groups.len(), 3);
        for g in &r.groups {
            assert!(
                g.height > 0,
                "seed {seed}: group {} committed nothing:\n{r}",
                g.id
            );
            assert_eq!(g.verdict, GroupVerdict::Pass, "seed {seed}:\n{r}");
            assert!(
                g.client.acked > 0,
                "seed {seed}: group {} acknowledged nothing",
                g.id
            );
        }
        assert_eq!(r.groups[1].members, [1, 2, 3]);
        assert_eq!(
            r.groups[1].heads.len(),
            3,
            "only members hold group 1's chain"
        );
        let ids: Vec<u64> = r.groups.iter().map(|g| g.chain_id).collect();
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
        faults += r.faults_injected();
        crashes += r.crashes;
    }
    assert!(faults > 0, "the seeds injected no fault");
    assert!(
        crashes > 0,
        "no node crashed: the groups never went down together"
    );
}

#[test]
fn a_multi_group_seed_replays_to_the_same_trace_hash() {
    let a = bcos_sim::run(&three_groups(7)).expect("the run starts");
    let b = bcos_sim::run(&three_groups(7)).expect("the run starts");
    assert_eq!(a.trace_hash, b.trace_hash, "seed 7 did not replay");
    let c = bcos_sim::run(&three_groups(8)).expect("the run starts");
    assert_ne!(a.trace_hash, c.trace_hash, "two seeds, one trace");
}

/// An explicit one-group list on every node is the single-chain run, draw for draw.
#[test]
fn one_group_is_the_single_chain_run() {
    for protocol in [Protocol::Pbft, Protocol::Raft] {
        let mut plain = SimConfig::new(protocol, 4, 3);
        plain.ticks = TICKS;
        let mut listed = SimConfig::with_groups(4, 3, vec![SimGroup::all_nodes(protocol, 4)]);
        listed.ticks = TICKS;
        let (a, b) = (bcos_sim::run(&plain), bcos_sim::run(&listed));
        let (a, b) = (a.expect("runs"), b.expect("runs"));
        assert_eq!(a.trace_hash, b.trace_hash, "{protocol}");
    }
}

/// Checkers are per group: a Raft bug in a three-group run is found in the Raft group, and
/// the violation names it.
#[test]
fn a_raft_bug_is_found_in_the_raft_group() {
    // The first seed that finds it moves with any change to the drivers' traffic (0..10
    // found none once the PBFT stall hand-over came in; 21 did, with either client).
    for seed in 0..40 {
        let mut cfg = three_groups(seed);
        cfg.bug = Some(SeededBug::RaftVoteTwice);
        let r = bcos_sim::run(&cfg).expect("the run starts");
        let found = r.violations.iter().find(|v| {
            v.known_bug.is_none() && ["one vote per slot", "election safety"].contains(&v.property)
        });
        if let Some(v) = found {
            assert_eq!(v.group, Some(1), "{v}");
            assert!(v.to_string().contains("(group 1, node "), "{v}");
            assert_eq!(r.groups[1].verdict, GroupVerdict::Fail);
            return;
        }
    }
    panic!("vote-twice was not found in the Raft group in 40 seeds");
}
