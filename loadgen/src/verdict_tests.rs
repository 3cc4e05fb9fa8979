use super::*;
use crate::results::LatencySummary;

fn result(mode: &str, offered: f64, committed: f64, p99: f64, errors: u64) -> WorkloadResult {
    WorkloadResult {
        workload: "transfer".into(),
        mode: mode.into(),
        offered_tps: offered,
        committed_tps: committed,
        submitted: 1000,
        committed: 1000,
        errors,
        window_s: 1.0,
        latency_ms: LatencySummary {
            p99,
            ..Default::default()
        },
        latency_cdf: vec![],
        tps_timeline: vec![],
        saturation: vec![],
        knee_tps: None,
        saturation_end: None,
        stages: vec![],
        node_usage: vec![],
        groups: 1,
        per_group_committed_tps: vec![committed],
        settlement: None,
    }
}

fn global() -> ThresholdSpec {
    ThresholdSpec {
        min_tps: 10_000.0,
        min_efficiency: None,
        max_latency_ms_p99: 200.0,
    }
}

fn saturation_spec(min_tps: f64) -> WorkloadSpec {
    WorkloadSpec {
        rate: Some(2000.0),
        saturation: true,
        min_tps: Some(min_tps),
        ..WorkloadSpec::new("transfer", Mode::Open)
    }
}

/// Steps 2000, 2500, 3125, each committed as offered: the search hit its cap.
fn capped_search(end: Option<SaturationEnd>) -> WorkloadResult {
    let mut r = result("open", 3125.0, 3125.0, 50.0, 0);
    r.saturation = vec![(2000.0, 2000.0), (2500.0, 2500.0), (3125.0, 3125.0)];
    r.knee_tps = Some(3125.0);
    r.saturation_end = end;
    r
}

#[test]
fn thresholds_apply_per_mode() {
    let g = global();
    let closed = WorkloadSpec {
        concurrency: Some(1000),
        ..WorkloadSpec::new("transfer", Mode::Closed)
    };
    assert!(check(&closed, &result("closed", 12_000.0, 12_000.0, 900.0, 0), &g).is_empty());
    assert_eq!(
        check(&closed, &result("closed", 9_000.0, 9_000.0, 1.0, 0), &g).len(),
        1
    );
    let open = WorkloadSpec {
        rate: Some(5000.0),
        ..WorkloadSpec::new("transfer", Mode::Open)
    };
    assert!(check(&open, &result("open", 5000.0, 4990.0, 150.0, 0), &g).is_empty());
    assert_eq!(
        check(&open, &result("open", 5000.0, 4000.0, 250.0, 50), &g).len(),
        3
    );
    let relaxed = WorkloadSpec {
        max_latency_ms_p99: Some(300.0),
        ..open
    };
    assert!(check(&relaxed, &result("open", 5000.0, 4990.0, 250.0, 0), &g).is_empty());
}

/// A capped search shows the knee is ≥ its last step: enough for a min_tps at or below that
/// step, a named failure (not a knee "below" min_tps) above it.
#[test]
fn a_knee_not_reached_is_a_lower_bound() {
    let g = global();
    let r = capped_search(Some(SaturationEnd::StepsExhausted));
    assert!(check(&saturation_spec(3000.0), &r, &g).is_empty());
    let t = target_check(0, &saturation_spec(3000.0), &r, &g, None);
    assert_eq!(
        (t.metric, t.measured, t.lower_bound),
        (TargetMetric::KneeTps, Some(3125.0), true)
    );
    assert!(t.threshold_met);

    let misses = check(&saturation_spec(4000.0), &r, &g);
    assert_eq!(misses.len(), 1, "{misses:?}");
    assert!(
        misses[0].contains("knee not reached; ≥ 3125"),
        "{}",
        misses[0]
    );
    assert!(misses[0].contains("saturation_steps_max"), "{}", misses[0]);

    // A knee found is the knee: the same numbers read as "below".
    let mut found = capped_search(Some(SaturationEnd::KneeFound));
    found.saturation.push((3906.0, 3000.0));
    let misses = check(&saturation_spec(4000.0), &found, &g);
    assert!(
        misses[0].contains("saturation knee 3125 tx/s is below min_tps 4000"),
        "{misses:?}"
    );
    assert!(!target_check(0, &saturation_spec(3000.0), &found, &g, None).lower_bound);
}

/// results.json from before `saturation_end` was kept: the steps show a capped search.
#[test]
fn a_capped_search_is_recognised_in_old_results() {
    let r = capped_search(None);
    assert_eq!(r.saturation_end(), Some(SaturationEnd::StepsExhausted));
    let t = target_check(0, &saturation_spec(3000.0), &r, &global(), None);
    assert!(t.lower_bound);
}

#[test]
fn a_first_step_that_saturates_shows_no_knee() {
    let mut r = result("open", 2000.0, 1000.0, 50.0, 0);
    r.saturation = vec![(2000.0, 1000.0)];
    r.saturation_end = Some(SaturationEnd::FirstStepSaturated);
    // Even a min_tps below the first step is not shown: the knee lies somewhere below it.
    let misses = check(&saturation_spec(500.0), &r, &global());
    assert_eq!(misses.len(), 1);
    assert!(misses[0].contains("first saturation step"), "{}", misses[0]);
}

/// The goal is judged beside the threshold, never instead of it, and only where the workload
/// is judged by the global threshold and at the goal's rate and workload.
#[test]
fn the_goal_is_judged_beside_the_threshold() {
    let g = ThresholdSpec {
        min_tps: 4000.0,
        min_efficiency: None,
        max_latency_ms_p99: 500.0,
    };
    let goal = GoalSpec {
        tps: Some(6000.0),
        efficiency: None,
        latency_ms_p99: Some(300.0),
        latency_at_tps: Some(3000.0),
        latency_at_saturation_share: None,
        workload: None,
        source: "issue 3".into(),
    };
    let closed = WorkloadSpec {
        concurrency: Some(5000),
        ..WorkloadSpec::new("transfer", Mode::Closed)
    };
    let r = result("closed", 5434.0, 5434.0, 900.0, 0);
    let t = target_check(0, &closed, &r, &g, Some(&goal));
    assert_eq!(
        (t.threshold_met, t.goal, t.goal_met),
        (true, Some(6000.0), Some(false))
    );
    assert!(
        check(&closed, &r, &g).is_empty(),
        "the verdict stays the threshold's"
    );

    let open_at = |rate: f64| WorkloadSpec {
        rate: Some(rate),
        ..WorkloadSpec::new("transfer", Mode::Open)
    };
    let r = result("open", 3000.0, 3000.0, 186.0, 0);
    let t = target_check(1, &open_at(3000.0), &r, &g, Some(&goal));
    assert_eq!(
        (t.metric, t.goal_met),
        (TargetMetric::LatencyMsP99, Some(true))
    );
    // At another rate the latency goal does not apply.
    let t = target_check(1, &open_at(5000.0), &r, &g, Some(&goal));
    assert_eq!((t.goal, t.goal_met), (None, None));
    // A workload with its own threshold is judged by that alone.
    let t = target_check(
        2,
        &saturation_spec(3000.0),
        &capped_search(None),
        &g,
        Some(&goal),
    );
    assert_eq!((t.goal, t.goal_met), (None, None));
    // A goal stated for another workload does not apply.
    let erc20_goal = GoalSpec {
        workload: Some("erc20".into()),
        ..goal
    };
    let t = target_check(
        0,
        &closed,
        &result("closed", 7000.0, 7000.0, 1.0, 0),
        &g,
        Some(&erc20_goal),
    );
    assert_eq!(t.goal, None);
}

/// Issue 14: a run whose merchant chain does not account for what was paid fails, with the
/// ledger's own sentence; one that balances adds nothing.
#[test]
fn a_conservation_violation_fails_the_run() {
    let spec = WorkloadSpec {
        concurrency: Some(1000),
        ..WorkloadSpec::new("hf-account", Mode::Closed)
    };
    let mut r = result("closed", 20_000.0, 20_000.0, 50.0, 0);
    let settled = |held: bool, detail: &str| crate::results::SettlementResult {
        user_chains: 2,
        merchant: "0x01".into(),
        lag_ms: LatencySummary::default(),
        lag_payments: 10,
        uncredited: 0,
        records_credited: 2,
        conservation_held: held,
        conservation: detail.into(),
        paid_wei: "10".into(),
        credited_wei: "9".into(),
        payments: 10,
        settle_wait_s: 0.5,
    };
    r.settlement = Some(settled(true, "balanced"));
    assert!(check(&spec, &r, &global()).is_empty());
    r.settlement = Some(settled(false, "conservation violated (XS-S2): 9 of 10 wei"));
    let f = check(&spec, &r, &global());
    assert_eq!(
        f,
        ["transfer: settlement: conservation violated (XS-S2): 9 of 10 wei"]
    );
}

const EFFICIENCY_PROFILE: &str = r#"
[machine]
cores = 2
memory_gib = 4
[node]
[[workload]]
name = "transfer"
mode = "closed"
concurrency = 10
[[workload]]
name = "transfer"
mode = "open"
rate = 1000
saturation = true
min_efficiency = 0.4
[thresholds]
min_efficiency = 0.3
max_latency_ms_p99 = 100
[goal]
efficiency = 0.75
source = "issue 15"
"#;

/// A threshold stated as an efficiency is the same share of whatever bound the run measured:
/// 7,000 tx/s passes at 30 % of 20,000 and fails at 30 % of 30,000; a workload's own
/// efficiency overrides the global one, and the goal is derived the same way.
#[test]
fn an_efficiency_threshold_scales_with_the_measured_bound() {
    let profile =
        crate::profile::Profile::parse(EFFICIENCY_PROFILE).unwrap_or_else(|e| panic!("{e}"));
    let closed = result("closed", 7000.0, 7000.0, 50.0, 0);
    let slow = Judged::new(&profile, 20_000.0);
    let t = target_check(
        0,
        &slow.workloads[0],
        &closed,
        &slow.thresholds,
        slow.goal.as_ref(),
    );
    assert_eq!(
        (t.threshold, t.threshold_efficiency, t.threshold_met),
        (6000.0, Some(0.3), true)
    );
    assert_eq!(
        (t.goal, t.goal_efficiency, t.goal_met),
        (Some(15_000.0), Some(0.75), Some(false))
    );
    assert!(check(&slow.workloads[0], &closed, &slow.thresholds).is_empty());

    let fast = Judged::new(&profile, 30_000.0);
    let misses = check(&fast.workloads[0], &closed, &fast.thresholds);
    assert_eq!(
        misses,
        ["transfer: committed 7000 tx/s is below min_tps 9000"]
    );

    let mut knee = result("open", 10_000.0, 10_000.0, 50.0, 0);
    knee.saturation = vec![(8000.0, 8000.0), (10_000.0, 10_000.0), (12_500.0, 9000.0)];
    knee.knee_tps = Some(10_000.0);
    let t = target_check(
        1,
        &fast.workloads[1],
        &knee,
        &fast.thresholds,
        fast.goal.as_ref(),
    );
    assert_eq!(
        (t.threshold, t.threshold_efficiency, t.threshold_met, t.goal),
        (12_000.0, Some(0.4), false, None)
    );
    assert!(
        profile.thresholds.min_tps == 0.0,
        "the profile itself is left unresolved"
    );
}

/// The highest of the bound measurements is the one a run is held to.
#[test]
fn the_highest_bound_is_judged() {
    use crate::results::judged_bound;
    assert_eq!(judged_bound(12_000.0, Some(14_000.0), &[]), 14_000.0);
    assert_eq!(judged_bound(14_000.0, Some(12_000.0), &[]), 14_000.0);
    assert_eq!(judged_bound(14_000.0, None, &[]), 14_000.0);
    assert_eq!(judged_bound(14_000.0, Some(f64::NAN), &[]), 14_000.0);
    assert_eq!(
        judged_bound(12_000.0, Some(13_000.0), &[12_500.0, 19_000.0, f64::NAN]),
        19_000.0
    );
    assert_eq!(judged_bound(12_000.0, None, &[11_000.0]), 12_000.0);
}

/// A latency goal stated at a share of saturation applies to the workload whose rate is that
/// share of the saturation the run measured, whatever rate that came to, and to no other.
#[test]
fn a_latency_goal_at_half_of_saturation_applies_to_that_workload_only() {
    let g = ThresholdSpec {
        min_tps: 4000.0,
        min_efficiency: None,
        max_latency_ms_p99: 500.0,
    };
    let goal = GoalSpec {
        latency_ms_p99: Some(300.0),
        latency_at_saturation_share: Some(0.5),
        source: "issue 15".into(),
        ..GoalSpec::default()
    };
    let mut half = WorkloadSpec {
        rate_saturation_share: Some(0.5),
        ..WorkloadSpec::new("transfer", Mode::Open)
    };
    assert!(
        half.resolve_rate_from_saturation(crate::results::saturation_tps(&[
            (2000.0, 2013.0),
            (2500.0, 2496.0),
            (4883.0, 4174.0),
            (3906.0, 3948.0),
        ]))
    );
    assert_eq!(half.rate, Some(2087.0));
    let r = result("open", 2087.0, 2087.0, 284.0, 0);
    let t = target_check(1, &half, &r, &g, Some(&goal));
    assert_eq!(
        (t.metric, t.goal, t.goal_met, t.threshold_met),
        (TargetMetric::LatencyMsP99, Some(300.0), Some(true), true)
    );
    let slow = result("open", 2087.0, 2087.0, 301.0, 0);
    assert_eq!(
        target_check(1, &half, &slow, &g, Some(&goal)).goal_met,
        Some(false)
    );
    // An open loop at a fixed rate is not where this goal is stated.
    let fixed = WorkloadSpec {
        rate: Some(2087.0),
        ..WorkloadSpec::new("transfer", Mode::Open)
    };
    assert_eq!(target_check(1, &fixed, &r, &g, Some(&goal)).goal, None);
    // Without a saturation measured before it there is no rate to run at.
    let mut orphan = half.clone();
    assert!(orphan.resolve_rate_from_saturation(None));
    assert_eq!(orphan.rate, None);
}
