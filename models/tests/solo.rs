//! Solo through the adapter: one node commits every height up to the bound, also across a
//! crash-restart (it resumes after its stored head).

use bcos_models::protocols::solo::{model, SOLO_L1};
use bcos_models::{run, RunOptions};

fn quiet() -> RunOptions {
    RunOptions {
        threads: 1,
        ..RunOptions::default()
    }
}

#[test]
fn solo_commits_every_height() {
    let out = run(model(3, 0), &quiet(), bcos_models::protocols::describe);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.examples, vec![SOLO_L1]);
    // One state: on start the node proposes and commits heights 1..=3 in one step.
    assert_eq!(out.unique_states, 1);
}

#[test]
fn solo_survives_crash_restart() {
    let out = run(model(3, 1), &quiet(), bcos_models::protocols::describe);
    assert!(out.passed(), "{}", out.render());
    // Up, crashed, restarted (nothing left to propose), crashed again.
    assert_eq!(out.unique_states, 4);
}
