//! Cross-chain settlement under the model (spec/settlement.md §8): the real producer and
//! verifier of `bcos-settlement`, two user chains, an honest and a Byzantine relayer over a
//! lossy, duplicating, reordering network, through the same entry point as `check
//! settlement` (one thread, so the unique state counts are deterministic and pinned). The
//! correct verifier must pass with credits seen; each seeded bug must be caught.

use bcos_models::protocols::settlement_props::{
    PROBE_ALL_CREDITED, PROBE_BOTH_CHAINS, PROBE_SECOND_RECORD, PROBE_TWO_PAYMENTS, XS_L1,
    XS_L1_FAIR, XS_S1, XS_S3, XS_S4,
};
use bcos_models::protocols::settlement_run::Refused;
use bcos_models::protocols::CheckRequest;
use bcos_models::{Outcome, Role, Verdict};

mod common;
use common::{caught, faults, probe, req};

fn one(r: &CheckRequest) -> Outcome {
    common::one_of("settlement", r)
}

fn bug(name: &str) -> Outcome {
    one(&req(|r| r.bug = Some(name.into())))
}

#[test]
fn settlement_every_state_passes_with_credits_from_both_chains() {
    let o = one(&req(|_| {}));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert!(o.coverage.with_commit > 0, "{}", o.render());
    assert_eq!(o.coverage.max_height, 2, "{}", o.render());
    assert!(o.examples.contains(&XS_L1), "{}", o.render());
    for p in [
        PROBE_BOTH_CHAINS,
        PROBE_SECOND_RECORD,
        PROBE_TWO_PAYMENTS,
        PROBE_ALL_CREDITED,
    ] {
        assert!(probe(&o, p) > 0, "{p}: {}", o.render());
    }
    // Every forgery was tried and refused by the rule meant to stop it (XS-R9 is defence in
    // depth: only a proof that passed XS-R6 could reach it, and real records are consistent).
    for r in [
        Refused::NothingToSettle,
        Refused::BlockHasRecord,
        Refused::UnknownChain,
        Refused::Certificate,
        Refused::NotIncluded,
        Refused::WrongChainOrBlock,
        Refused::Replay,
        Refused::Gap,
    ] {
        assert!(probe(&o, r.label()) > 0, "{r:?}: {}", o.render());
    }
    assert_eq!(probe(&o, Refused::Inconsistent.label()), 0);
    assert_eq!(probe(&o, Refused::Malformed.label()), 0);
    assert_eq!(o.unique_states, PIN_FREE, "{}", o.render());
}

#[test]
fn settlement_a_run_that_never_sees_a_credit_is_inconclusive() {
    // Pay, settle, commit and submit take four steps: within three nothing is credited.
    let o = one(&req(|r| r.run.depth_max = Some(3)));
    assert!(o.passed());
    assert_eq!(o.coverage.with_commit, 0);
    assert!(
        matches!(o.verdict(), Verdict::Inconclusive(_)),
        "{}",
        o.render()
    );
    assert!(!o.verdict().ok());
}

#[test]
fn settlement_the_byzantine_relayer_reaches_no_state_the_honest_system_does_not() {
    // Relayer 1 honest: the same states as with it forging (every forgery is refused, and
    // what it can get credited the lossy network could deliver as well) ...
    let o = one(&req(|r| r.byzantine = Some((1, Role::Honest))));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert_eq!(o.unique_states, PIN_FREE, "{}", o.render());
    // ... and without loss fewer: a delivered proof stays in flight (or, without
    // duplication, is consumed), and only loss empties the network at will.
    for f in ["dup,reorder", "reorder"] {
        let o = one(&req(|r| {
            r.byzantine = Some((1, Role::Honest));
            r.faults = faults(f);
        }));
        assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
        assert_eq!(o.unique_states, PIN_NO_LOSS, "{f}: {}", o.render());
    }
}

#[test]
fn settlement_liveness_fair_form_holds_with_an_honest_relayer() {
    let o = one(&req(|r| r.scenario = Some("liveness".into())));
    assert_eq!(o.verdict(), Verdict::Pass, "{}", o.render());
    assert!(probe(&o, PROBE_ALL_CREDITED) > 0, "{}", o.render());
    assert_eq!(o.unique_states, PIN_LIVENESS, "{}", o.render());
}

#[test]
fn settlement_liveness_fair_form_fails_without_an_honest_relayer() {
    let o = one(&req(|r| {
        r.scenario = Some("liveness".into());
        r.byzantine = Some((0, Role::Silent));
    }));
    let t = caught(&o, XS_L1_FAIR);
    assert!(t.contains("stops for good"), "{t}");
}

#[test]
fn settlement_no_seq_check_credits_a_replay() {
    let t = caught(&bug("no-seq-check"), XS_S1);
    assert!(t.contains("Replay"), "{t}");
}

#[test]
fn settlement_accept_unsigned_credits_a_made_up_record() {
    let o = bug("accept-unsigned");
    let t = caught(&o, XS_S4);
    assert!(t.contains("MadeUp"), "{t}");
    let _ = caught(&o, XS_S3);
}

#[test]
fn settlement_skip_inclusion_proof_credits_a_forged_amount() {
    let o = bug("skip-inclusion-proof");
    let t = caught(&o, XS_S3);
    assert!(t.contains("Amount"), "{t}");
    let _ = caught(&o, XS_S4);
}

const PIN_FREE: usize = 25_281;
const PIN_NO_LOSS: usize = 12_321;
const PIN_LIVENESS: usize = 101_124;
