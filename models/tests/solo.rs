//! Solo through the adapter: one node commits every height up to the bound, also across a
//! crash-restart (it resumes after its stored head).

use bcos_models::protocols::solo::{model, SOLO_L1};
use bcos_models::{run, Restarts, RunOptions, Verdict};

fn quiet() -> RunOptions {
    RunOptions {
        threads: 1,
        ..RunOptions::default()
    }
}

#[test]
fn solo_commits_every_height() {
    let out = run(
        model(3, Restarts::None),
        &quiet(),
        bcos_models::protocols::describe,
    );
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.examples, vec![SOLO_L1]);
    assert_eq!(out.verdict(), Verdict::Pass, "{}", out.render());
    // One state: on start the node proposes and commits heights 1..=3 in one step.
    assert_eq!(out.unique_states, 1);
}

#[test]
fn solo_survives_crash_restart() {
    let out = run(
        model(3, Restarts::UpTo(1)),
        &quiet(),
        bcos_models::protocols::describe,
    );
    assert!(out.passed(), "{}", out.render());
    // A crash and the recovery are one step (models/README.md "Reductions"): the restarted
    // node restores its stored head 3 and has nothing left to propose, so it is back in the
    // very state it crashed in and the space stays one state.
    assert_eq!(out.verdict(), Verdict::Pass, "{}", out.render());
    assert_eq!(out.unique_states, 1);
}
