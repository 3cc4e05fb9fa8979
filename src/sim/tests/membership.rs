//! Validator-set changes by governance under the simulator (issue 17; spec/governance.md
//! GOV-R9, spec/raft.md RAFT-R15, spec/pbft.md PBFT-R20): in each run the committee removes
//! the last node from a Raft group's voters or a PBFT group's validators a quarter into the
//! faulty phase and adds it back at five eighths, by ordinary proposal transactions, while
//! crashes, partitions, drops and delays go on. Every checker (agreement on block hash,
//! state root and receipts root per height, durability across crashes, Raft's election and
//! commit rules, PBFT's vote and certificate checks, liveness once the faults stop) runs
//! across both changes; for PBFT every certificate is checked against the set of its height,
//! and every node that stored a height must name the same set for it. A run whose cluster
//! never held the smaller set did not reach the states this is about and is INCONCLUSIVE,
//! counted and bounded here.

use bcos_sim::config::{Protocol, SimConfig};

fn run(nodes: u32, seed: u64) -> bcos_sim::Report {
    run_with(Protocol::Raft, nodes, seed)
}

fn run_with(protocol: Protocol, nodes: u32, seed: u64) -> bcos_sim::Report {
    let mut cfg = SimConfig::new(protocol, nodes, seed);
    cfg.ticks = 6_000;
    cfg.membership_changes = true;
    bcos_sim::run(&cfg).expect("the run starts")
}

/// Runs seeds 0..40 of `protocol` with the last node removed and added back; every run
/// must keep every property, and each conclusive one must have held both sets. Returns the
/// conclusive runs and the runs.
fn sweep(protocol: Protocol) -> (usize, usize) {
    let seeds = 0..40u64;
    let mut conclusive = 0;
    let mut faults = 0;
    for seed in seeds.clone() {
        let r = run_with(protocol, 4, seed);
        assert!(!r.failed(), "{}\n{r}", r.config.replay_command());
        faults += r.faults_injected();
        if r.passed() {
            conclusive += 1;
            let sets = &r.groups[0].voter_sets;
            assert!(sets.contains(&vec![0, 1, 2]), "seed {seed}: {sets:?}");
            assert!(sets.contains(&vec![0, 1, 2, 3]), "seed {seed}: {sets:?}");
            assert_eq!(r.client.proposals, 2);
            assert!(r.height > 0);
        }
    }
    assert!(faults > 0);
    (conclusive, seeds.count())
}

#[test]
fn voters_leave_and_come_back_by_governance_under_faults() {
    // Most runs reach both configurations; the rest are counted, not passed.
    let (conclusive, runs) = sweep(Protocol::Raft);
    assert!(
        conclusive * 4 >= runs * 3,
        "only {conclusive} of {runs} runs held the smaller voter set"
    );
}

/// Raft seed 2 with membership changes: the proposal to add the node back reached only the
/// removed node, which no leader talked to, so it stayed in its pool for good until a node
/// with no leader handed its pooled transactions to the members
/// (`cluster::raft::forward`).
#[test]
fn a_proposal_held_by_a_removed_node_reaches_the_voters() {
    let r = run(4, 2);
    assert!(r.passed(), "{r}");
}

/// PBFT: the last validator leaves the set and comes back (four validators, then three with
/// f = 0, then four again) under the same faults.
#[test]
fn validators_leave_and_come_back_by_governance_under_faults() {
    // A run whose removal and re-addition applied before the three decided any height
    // (little progress under its faults) is counted, not passed.
    let (conclusive, runs) = sweep(Protocol::Pbft);
    assert!(
        conclusive * 2 >= runs,
        "only {conclusive} of {runs} runs held the smaller validator set"
    );
}
