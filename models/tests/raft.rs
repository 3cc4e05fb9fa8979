//! The real Raft core under the model (spec/raft.md §8), in bounded configurations that run
//! in seconds; the full check (`check raft`) runs from the CLI.

use bcos_consensus::raft::SeededBug;
use bcos_consensus::RaftConfig;
use bcos_models::protocols::raft::{describe, model, RAFT_L1, RAFT_S1, RAFT_S4};
use bcos_models::{run, Faults, ModelCfg, RunOptions};

fn bounded(
    bug: Option<SeededBug>,
    faults: Faults,
    depth: usize,
    threads: usize,
) -> bcos_models::Outcome {
    let template = RaftConfig {
        bug,
        ..RaftConfig::new(3, 0)
    };
    let cfg = ModelCfg {
        n: 3,
        byzantine: None,
        max_height: 1,
        bound: Some(3),
    };
    // A pinned count needs one thread: with a depth bound the set of states reached is then
    // deterministic. The checker evaluates properties only below the bound, so a path of k
    // steps needs a bound of k + 2.
    let opts = RunOptions {
        depth_max: Some(depth),
        threads,
        ..RunOptions::default()
    };
    run(model(template, cfg, faults), &opts, describe)
}

#[test]
fn correct_raft_holds_under_crash_and_partition_and_pins_its_state_count() {
    let faults = Faults {
        crashes_max: 1,
        partitions_max: 1,
        ..Faults::default()
    };
    let out = bounded(None, faults, 13, 1);
    assert!(out.passed(), "{}", out.render());
    assert!(out.examples.contains(&RAFT_L1), "{}", out.render());
    assert_eq!(out.unique_states, 639_284, "{}", out.render());
}

#[test]
fn voting_twice_is_caught_as_two_leaders_in_one_term() {
    // The shortest counterexample has 6 steps (two candidates, one voter granting both).
    let out = bounded(Some(SeededBug::VoteTwice), Faults::default(), 8, 2);
    let f = out
        .failures
        .iter()
        .find(|f| f.property == RAFT_S1)
        .unwrap_or_else(|| panic!("{}", out.render()));
    assert_eq!(f.steps, 6, "{}", f.trace);
    assert!(f.trace.contains("RequestVote"), "{}", f.trace);
}

#[test]
fn committing_an_old_term_entry_is_caught_as_a_completeness_violation() {
    // Figure 8: leader of term 3 counts replicas of its term-1 entry; a node holding a
    // term-2 entry at that height can still win an election. 18 steps on FIFO links.
    let out = bounded(Some(SeededBug::CommitOldTerm), Faults::default(), 22, 2);
    let f = out
        .failures
        .iter()
        .find(|f| f.property == RAFT_S4)
        .unwrap_or_else(|| panic!("{}", out.render()));
    assert!(f.trace.contains("term: 3"), "{}", f.trace);
}
