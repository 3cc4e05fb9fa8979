//! The real Raft core under the model (spec/raft.md §8), through the same entry point as
//! `check raft`, in bounded configurations that run in seconds (one thread, so the unique
//! state counts are deterministic and pinned).

use bcos_models::protocols::raft::{
    PROBE_ADDED, PROBE_REMOVED, PROBE_THREE_ENTRIES, RAFT_S1, RAFT_S4,
};
use bcos_models::protocols::raft_liveness::RAFT_L1_FAIR;
use bcos_models::protocols::CheckRequest;
use bcos_models::{Outcome, Verdict};

mod common;
use common::{faults, probe, req};

fn one(r: &CheckRequest) -> Outcome {
    common::one_of("raft", r)
}

fn caught(o: &Outcome, property: &str) -> (String, usize) {
    assert_eq!(o.verdict(), Verdict::Fail, "{}", o.render());
    let f = o
        .failures
        .iter()
        .find(|f| f.property == property)
        .unwrap_or_else(|| panic!("{property} not violated:\n{}", o.render()));
    (f.trace.clone(), f.steps)
}

#[test]
fn three_entries_per_log_under_duplication_reordering_and_restarts() {
    let o = one(&req(|r| {
        r.faults = faults("dup,reorder,crash=1");
        r.run.depth_max = Some(PIN_FREE_DEPTH);
    }));
    assert_eq!(
        o.verdict(),
        Verdict::Bounded(PIN_FREE_DEPTH),
        "{}",
        o.render()
    );
    assert!(probe(&o, PROBE_THREE_ENTRIES) > 0, "{}", o.render());
    assert_eq!(o.coverage.max_height, 3, "{}", o.render());
    assert!(o.coverage.two_node_commit > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_FREE, "{}", o.render());
}

#[test]
fn membership_change_adds_and_removes_a_voter() {
    let o = one(&req(|r| {
        r.scenario = Some("membership".into());
        r.run.depth_max = Some(PIN_MEMBERSHIP_DEPTH);
    }));
    assert!(o.passed() && o.verdict().ok(), "{}", o.render());
    assert!(probe(&o, PROBE_ADDED) > 0, "{}", o.render());
    assert!(probe(&o, PROBE_REMOVED) > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_MEMBERSHIP, "{}", o.render());
}

#[test]
fn five_nodes_three_candidates() {
    let o = one(&req(|r| {
        r.nodes = Some(5);
        r.candidates = Some(3);
        r.max_height = Some(1);
        r.faults = faults("dup,reorder");
        r.run.depth_max = Some(PIN_FIVE_DEPTH);
    }));
    assert!(o.passed() && o.verdict().ok(), "{}", o.render());
    assert!(o.coverage.two_node_commit > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_FIVE, "{}", o.render());
}

#[test]
fn liveness_fair_form_holds() {
    // One height, terms <= 2, two candidates, after GST from the start.
    let o = one(&req(|r| {
        r.scenario = Some("liveness".into());
        r.bound = Some(2);
    }));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert_eq!(o.unique_states, PIN_LIVENESS, "{}", o.render());
}

#[test]
fn liveness_fair_form_fails_without_a_candidate() {
    let o = one(&req(|r| {
        r.scenario = Some("liveness".into());
        r.candidates = Some(0);
    }));
    let _ = caught(&o, RAFT_L1_FAIR);
}

#[test]
fn voting_twice_is_caught_as_two_leaders_in_one_term() {
    let o = one(&req(|r| r.bug = Some("vote-twice".into())));
    let (t, _) = caught(&o, RAFT_S1);
    assert!(t.contains("RequestVote"), "{t}");
}

#[test]
fn committing_an_old_term_entry_is_caught_as_a_completeness_violation() {
    let o = one(&req(|r| r.bug = Some("commit-old-term".into())));
    let (t, _) = caught(&o, RAFT_S4);
    assert!(t.contains("term: 3"), "{t}");
}

const PIN_FREE_DEPTH: usize = 9;
const PIN_FREE: usize = 872_306;
const PIN_MEMBERSHIP_DEPTH: usize = 18;
const PIN_MEMBERSHIP: usize = 356_360;
const PIN_FIVE_DEPTH: usize = 8;
const PIN_FIVE: usize = 2_787_974;
const PIN_LIVENESS: usize = 8_019;
