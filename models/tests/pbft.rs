//! The real PBFT core under the model, in a bounded configuration that runs in seconds: the
//! full check (`check pbft`) runs from the CLI.

use bcos_consensus::pbft::{PbftConfig, SeededBug};
use bcos_models::protocols::pbft::{model, PBFT_S1};
use bcos_models::{run, Faults, ModelCfg, Role, RunOptions};

fn bounded(bug: Option<SeededBug>, depth: usize, threads: usize) -> bcos_models::Outcome {
    let template = PbftConfig {
        bug,
        ..PbftConfig::new(4, 0)
    };
    // Node 1 leads (height 1, view 0) and equivocates: one peer gets its block, two a forgery.
    let cfg = ModelCfg {
        n: 4,
        byzantine: Some((1, Role::Equivocate)),
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
