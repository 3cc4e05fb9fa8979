//! The real PBFT core under the model, through the same entry point as `check pbft`, in
//! bounded configurations that run in seconds (one thread, so the unique state counts are
//! deterministic and pinned). Each correct-core run must reach states where two honest nodes
//! committed one height (else its verdict is INCONCLUSIVE); each seeded bug must be caught.

use bcos_models::protocols::pbft::{PBFT_L1, PBFT_S1, PROBE_LOCK_CARRIED, PROBE_NEW_VIEW};
use bcos_models::protocols::pbft_suite::PBFT_L1_FAIR;
use bcos_models::protocols::CheckRequest;
use bcos_models::{Outcome, Role, Verdict};

mod common;
use common::{caught, faults, probe, req};

fn one(r: &CheckRequest) -> Outcome {
    common::one_of("pbft", r)
}

#[test]
fn view_0_every_state_with_duplication_and_reordering() {
    // All honest, views <= 0, the whole reachable space: every commit one view can produce.
    let o = one(&req(|r| {
        r.scenario = Some("free".into());
        r.byzantine = Some((0, Role::Honest));
        r.faults = faults("dup,reorder");
        r.bound = Some(0);
        r.run.depth_max = Some(0);
    }));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert!(o.coverage.two_node_commit > 0, "{}", o.render());
    assert_eq!(o.coverage.max_height, 1);
    assert!(o.examples.contains(&PBFT_L1), "{}", o.render());
    assert_eq!(o.unique_states, PIN_VIEW0, "{}", o.render());
}

#[test]
fn two_heights_commit_in_order() {
    // A silent node 0, any number of restarts; height 2 is decided after height 1 (vote
    // cleanup, last_commit carried).
    let o = one(&req(|r| {
        r.scenario = Some("free".into());
        r.byzantine = Some((0, Role::Silent));
        r.faults = faults("dup,reorder,crash");
        r.bound = Some(0);
        r.max_height = Some(2);
        r.run.depth_max = Some(0);
    }));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert_eq!(o.coverage.max_height, 2, "{}", o.render());
    assert!(o.examples.contains(&PBFT_L1), "{}", o.render());
    assert_eq!(o.unique_states, PIN_TWO_HEIGHTS, "{}", o.render());
}

#[test]
fn view_change_carries_a_lock_and_decides_after_it() {
    let o = one(&req(|r| {
        r.scenario = Some("free".into());
        r.byzantine = Some((0, Role::Silent));
        r.faults = faults("dup,reorder");
        r.bound = Some(1);
        r.run.depth_max = Some(PIN_VC_DEPTH);
    }));
    assert_eq!(
        o.verdict(),
        Verdict::Bounded(PIN_VC_DEPTH),
        "{}",
        o.render()
    );
    assert!(probe(&o, PROBE_NEW_VIEW) > 0, "{}", o.render());
    assert!(probe(&o, PROBE_LOCK_CARRIED) > 0, "{}", o.render());
    assert!(o.coverage.two_node_commit > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_VC, "{}", o.render());
}

#[test]
fn a_run_that_never_sees_two_commits_is_inconclusive() {
    let o = one(&req(|r| {
        r.scenario = Some("free".into());
        r.byzantine = Some((0, Role::Honest));
        r.run.depth_max = Some(2);
    }));
    assert!(o.passed());
    assert_eq!(o.coverage.two_node_commit, 0);
    assert!(
        matches!(o.verdict(), Verdict::Inconclusive(_)),
        "{}",
        o.render()
    );
    assert!(!o.verdict().ok());
    assert!(o.render().contains("INCONCLUSIVE"), "{}", o.render());
}

#[test]
fn liveness_fair_form_holds_for_the_correct_core() {
    // A silent view-0 leader: after the view change every honest node commits.
    let o = one(&req(|r| {
        r.scenario = Some("liveness".into());
        r.byzantine = Some((1, Role::Silent));
        r.faults = faults("dup,reorder");
    }));
    assert!(o.passed(), "{}", o.render());
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert_eq!(o.unique_states, PIN_LIVENESS, "{}", o.render());
}

#[test]
fn liveness_fair_form_fails_without_view_changes() {
    // The same run with views <= 0: the silent leader is never replaced, so some fair run
    // never commits and the eventually-property names it.
    let o = one(&req(|r| {
        r.scenario = Some("liveness".into());
        r.byzantine = Some((1, Role::Silent));
        r.faults = faults("dup,reorder");
        r.bound = Some(0);
    }));
    let _ = caught(&o, PBFT_L1_FAIR);
}

#[test]
fn quorum_of_2f_is_caught() {
    let o = one(&req(|r| r.bug = Some("quorum-2f".into())));
    let t = caught(&o, PBFT_S1);
    assert!(t.contains("PrePrepare"), "{t}");
}

#[test]
fn no_lock_is_caught_across_a_view_change() {
    let o = one(&req(|r| r.bug = Some("no-lock".into())));
    let t = caught(&o, PBFT_S1);
    assert!(t.contains("NewView") && t.contains("prepared: None"), "{t}");
}

#[test]
fn commit_on_2f_votes_is_caught() {
    let o = one(&req(|r| r.bug = Some("commit-2f".into())));
    let t = caught(&o, PBFT_S1);
    assert!(t.contains("Commit"), "{t}");
}

#[test]
fn lock_not_durable_is_caught_after_a_restart() {
    let o = one(&req(|r| r.bug = Some("lock-not-durable".into())));
    let t = caught(&o, PBFT_S1);
    assert!(t.contains("RESTART"), "{t}");
}

#[test]
fn the_correct_core_passes_the_view_change_scenario() {
    let o = one(&req(|r| r.scenario = Some("view-change".into())));
    assert!(o.passed() && o.verdict().ok(), "{}", o.render());
    assert!(o.coverage.two_node_commit > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_SCENARIO, "{}", o.render());
}

const PIN_VIEW0: usize = 109_632;
const PIN_TWO_HEIGHTS: usize = 758;
const PIN_VC_DEPTH: usize = 6;
const PIN_VC: usize = 87_108;
const PIN_LIVENESS: usize = 5_502;
const PIN_SCENARIO: usize = 1_275;
