//! The real PBFT core under the model, in a bounded configuration that runs in seconds: the
//! full check (`check pbft`) runs from the CLI.

use bcos_consensus::pbft::{PbftConfig, SeededBug};
use bcos_models::protocols::pbft::{model, PBFT_L1, PBFT_S1};
use bcos_models::{run, Faults, ModelCfg, Role, RunOptions};

fn bounded(bug: Option<SeededBug>, depth: usize, threads: usize) -> bcos_models::Outcome {
    // Node 1 leads (height 1, view 0) and equivocates: one peer gets its block, two a forgery.
    with_byzantine(bug, (1, Role::Equivocate), depth, threads)
}

fn with_byzantine(
    bug: Option<SeededBug>,
    byzantine: (u32, Role),
    depth: usize,
    threads: usize,
) -> bcos_models::Outcome {
    let template = PbftConfig {
        bug,
        ..PbftConfig::new(4, 0)
    };
    let cfg = ModelCfg {
        n: 4,
        byzantine: Some(byzantine),
        max_height: 1,
        bound: None,
    };
    let m = model(template, cfg, Faults::default());
    // A pinned count needs one thread: with a depth bound the set of states reached is then
    // deterministic. The checker evaluates properties only below the bound, so a path of k
    // steps needs a bound of k + 2.
    let opts = RunOptions {
        depth_max: Some(depth),
        threads,
        ..RunOptions::default()
    };
    run(m, &opts, bcos_models::protocols::describe)
}

#[test]
fn equivocating_leader_cannot_split_correct_pbft() {
    let out = bounded(None, 8, 1);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.unique_states, 60_709, "{}", out.render());
}

#[test]
fn silent_node_or_double_voter_cannot_split_correct_pbft() {
    // Silent node 0 (no leader of views 0 and 1); double voter 2 (the view-1 leader).
    let silent = with_byzantine(None, (0, Role::Silent), 10, 1);
    assert!(silent.passed(), "{}", silent.render());
    assert_eq!(silent.unique_states, 102_435, "{}", silent.render());
    let double = with_byzantine(None, (2, Role::DoubleVote), 8, 1);
    assert!(double.passed(), "{}", double.render());
    assert_eq!(double.unique_states, 65_519, "{}", double.render());
}

#[test]
fn quorum_of_2f_is_caught_with_a_counterexample() {
    // The shortest counterexample has 9 steps (see README.md).
    let out = bounded(Some(SeededBug::QuorumTwoF), 11, 2);
    let f = out
        .failures
        .iter()
        .find(|f| f.property == PBFT_S1)
        .unwrap_or_else(|| panic!("{}", out.render()));
    assert!(f.trace.contains("PrePrepare"), "{}", f.trace);
}

/// The scripted view-change scenario (`check pbft --bug no-lock`, pbft_scenario.rs) under
/// `NoLock` or the correct core; reordering only, views <= 1, stage 2 depth 20, one thread so
/// the counts are deterministic.
fn view_change(bug: Option<&str>) -> bcos_models::Outcome {
    use bcos_models::protocols::{check, CheckRequest};
    let req = CheckRequest {
        bug: bug.map(str::to_string),
        scenario: Some("view-change".into()),
        run: RunOptions {
            threads: 1,
            ..RunOptions::default()
        },
        ..CheckRequest::default()
    };
    check("pbft", &req).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn no_lock_is_caught_across_a_view_change() {
    let out = view_change(Some("no-lock"));
    let f = out
        .failures
        .iter()
        .find(|f| f.property == PBFT_S1)
        .unwrap_or_else(|| panic!("{}", out.render()));
    // 10 scripted view-0 steps, then the view change: the new leader's fresh block is
    // decided next to the block decided in view 0.
    assert_eq!(f.steps, 27, "{}", f.trace);
    assert!(f.trace.contains("NewView"), "{}", f.trace);
    assert!(f.trace.contains("prepared: None"), "{}", f.trace);
}

#[test]
fn correct_pbft_keeps_the_decided_block_across_the_view_change() {
    let out = view_change(None);
    assert!(out.passed() && !out.cut_short, "{}", out.render());
    assert!(out.examples.contains(&PBFT_L1), "{}", out.render());
    assert_eq!(out.unique_states, 6_105, "{}", out.render());
}
