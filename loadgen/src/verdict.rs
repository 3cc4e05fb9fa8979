//! The thresholds a run is judged by, and the goal beside them (hardware-profiles/README.md,
//! "What is checked"). `min_tps` is checked against the committed TPS of closed-loop workloads
//! and the knee of saturation searches; `max_latency_ms_p99` against the p99 of open-loop
//! workloads (and it bounds saturation steps). Open-loop workloads must also commit ≥ 90 % of
//! what they offer, and no workload may lose more than [`ERROR_FRACTION_MAX`] of its
//! transactions, and with high-frequency accounts conservation must hold (XS-S2: what was paid
//! is credited, in a proxy or in transit). The goal is compared with the same figures wherever the workload is judged by
//! the global thresholds (no override of its own); it is reported, and never decides the
//! verdict. Thresholds and goals stated as efficiencies reach this module resolved into TPS for
//! the run's machine (`ThresholdSpec::resolve`), and the checks keep the efficiency beside it.

use crate::profile::{GoalSpec, Mode, Profile, ThresholdSpec, WorkloadSpec};
use crate::results::{Goal, SaturationEnd, TargetCheck, TargetMetric, WorkloadResult};

/// Share of a workload's window transactions that may be refused or left uncommitted.
pub const ERROR_FRACTION_MAX: f64 = 0.01;
/// Share of the offered rate an open-loop workload must commit.
pub const OPEN_LOOP_FOLLOW_MIN: f64 = 0.9;

impl From<&GoalSpec> for Goal {
    fn from(g: &GoalSpec) -> Goal {
        Goal {
            tps: g.tps,
            efficiency: g.efficiency,
            latency_ms_p99: g.latency_ms_p99,
            latency_at_tps: g.latency_at_tps,
            latency_at_saturation_share: g.latency_at_saturation_share,
            workload: g.workload.clone(),
            source: g.source.clone(),
        }
    }
}

/// A profile's thresholds, workloads and goal as one run is judged by them: every efficiency
/// resolved into TPS with `full_tps`, the committed TPS at 100 % efficiency on the run's
/// machine (`profile::full_efficiency_tps`).
#[derive(Debug, Clone)]
pub struct Judged {
    pub thresholds: ThresholdSpec,
    pub workloads: Vec<WorkloadSpec>,
    pub goal: Option<GoalSpec>,
}

impl Judged {
    pub fn new(profile: &Profile, full_tps: f64) -> Judged {
        let mut thresholds = profile.thresholds.clone();
        thresholds.resolve(full_tps);
        let mut workloads = profile.workloads.clone();
        for w in &mut workloads {
            w.resolve(full_tps);
        }
        let mut goal = profile.goal.clone();
        if let Some(g) = &mut goal {
            g.resolve(full_tps);
        }
        Judged {
            thresholds,
            workloads,
            goal,
        }
    }
}

/// Workload `index`'s TPS or latency figure against its threshold and, where it applies, the
/// goal.
pub fn target_check(
    index: usize,
    spec: &WorkloadSpec,
    r: &WorkloadResult,
    global: &ThresholdSpec,
    goal: Option<&GoalSpec>,
) -> TargetCheck {
    let goal = goal.filter(|g| g.workload.as_ref().is_none_or(|n| *n == spec.name));
    let mut threshold_efficiency = None;
    let mut goal_efficiency = None;
    let (metric, measured, lower_bound, threshold, goal_target) =
        if spec.saturation || spec.mode == Mode::Closed {
            let own = spec.min_tps.is_some();
            let goal_tps = goal.and_then(|g| g.tps).filter(|_| !own);
            goal_efficiency = goal.and_then(|g| g.efficiency).filter(|_| !own);
            threshold_efficiency = if own {
                spec.min_efficiency
            } else {
                global.min_efficiency
            };
            let threshold = spec.min_tps.unwrap_or(global.min_tps);
            if spec.saturation {
                let end = r.saturation_end();
                let knee = r
                    .knee_tps
                    .filter(|_| end != Some(SaturationEnd::FirstStepSaturated));
                let lower = end == Some(SaturationEnd::StepsExhausted);
                (TargetMetric::KneeTps, knee, lower, threshold, goal_tps)
            } else {
                let tps = Some(r.committed_tps);
                (TargetMetric::CommittedTps, tps, false, threshold, goal_tps)
            }
        } else {
            let at_rate = |g: &&GoalSpec| {
                g.latency_at_tps.is_none_or(|at| spec.rate == Some(at))
                    && g.latency_at_saturation_share
                        .is_none_or(|share| spec.rate_saturation_share == Some(share))
            };
            let goal_p99 = goal
                .filter(at_rate)
                .and_then(|g| g.latency_ms_p99)
                .filter(|_| spec.max_latency_ms_p99.is_none());
            let threshold = spec.max_latency_ms_p99.unwrap_or(global.max_latency_ms_p99);
            let p99 = Some(r.latency_ms.p99);
            (TargetMetric::LatencyMsP99, p99, false, threshold, goal_p99)
        };
    let meets = |target: f64| match (metric, measured) {
        (_, None) => false,
        // A latency threshold of 0 means none.
        (TargetMetric::LatencyMsP99, Some(p99)) => target <= 0.0 || p99 <= target,
        // A lower bound meets a minimum only when the bound itself does.
        (_, Some(tps)) => tps >= target,
    };
    TargetCheck {
        workload: index,
        metric,
        measured,
        lower_bound,
        threshold,
        threshold_efficiency,
        threshold_met: meets(threshold),
        goal: goal_target,
        goal_efficiency,
        goal_met: goal_target.map(meets),
    }
}

/// Missed thresholds of one workload, one sentence each: the verdict's reasons.
pub fn check(spec: &WorkloadSpec, r: &WorkloadResult, global: &ThresholdSpec) -> Vec<String> {
    let name = &r.workload;
    let mut out = Vec::new();
    let t = target_check(0, spec, r, global, None);
    if !t.threshold_met {
        out.push(threshold_miss(name, r, &t));
    }
    if spec.mode == Mode::Open
        && !spec.saturation
        && r.committed_tps < OPEN_LOOP_FOLLOW_MIN * r.offered_tps
    {
        out.push(format!(
            "{name}: committed {:.0} tx/s of {:.0} offered (below {:.0} %)",
            r.committed_tps,
            r.offered_tps,
            OPEN_LOOP_FOLLOW_MIN * 100.0
        ));
    }
    if r.errors as f64 > ERROR_FRACTION_MAX * r.submitted.max(1) as f64 {
        out.push(format!(
            "{name}: {} of {} window transactions refused or never committed",
            r.errors, r.submitted
        ));
    }
    if let Some(s) = r.settlement.as_ref().filter(|s| !s.conservation_held) {
        out.push(format!("{name}: settlement: {}", s.conservation));
    }
    out
}

fn threshold_miss(name: &str, r: &WorkloadResult, t: &TargetCheck) -> String {
    let limit = t.threshold;
    match (t.metric, t.measured) {
        (TargetMetric::LatencyMsP99, p99) => format!(
            "{name}: p99 latency {:.1} ms is above max_latency_ms_p99 {limit:.1}",
            p99.unwrap_or(f64::NAN)
        ),
        (TargetMetric::CommittedTps, tps) => format!(
            "{name}: committed {:.0} tx/s is below min_tps {limit:.0}",
            tps.unwrap_or(f64::NAN)
        ),
        (TargetMetric::KneeTps, Some(knee)) if t.lower_bound => format!(
            "{name}: saturation knee not reached; ≥ {knee:.0} tx/s (every step followed until \
             saturation_steps_max) does not show min_tps {limit:.0}: raise saturation_steps_max"
        ),
        (TargetMetric::KneeTps, Some(knee)) => {
            format!("{name}: saturation knee {knee:.0} tx/s is below min_tps {limit:.0}")
        }
        (TargetMetric::KneeTps, None) => {
            let first = r.saturation.first().map_or(f64::NAN, |s| s.0);
            format!(
                "{name}: throughput stopped following at the first saturation step \
                 ({first:.0} tx/s offered): the knee lies below it, not shown ≥ min_tps {limit:.0}"
            )
        }
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
