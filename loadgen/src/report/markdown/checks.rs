//! The verdict, the thresholds that decide it and the goal they serve. A profile may set a
//! threshold below its goal (a shared host's noise); the report states both and, per workload,
//! whether each was met, so a pass is never read as the goal reached.

use std::fmt::{self, Write};

use super::format::{cell, ms, text, tps};
use crate::results::{Goal, RunResults, TargetCheck, TargetMetric};

/// "Thresholds: ..." and "Goal (source): ..." lines under the verdict.
pub(super) fn thresholds_and_goal(o: &mut String, r: &RunResults) -> fmt::Result {
    writeln!(
        o,
        "Thresholds (they decide the verdict): committed TPS ≥ {}{}, p99 latency ≤ {} ms. \
         Cluster: {} node(s), {} consensus{}.\n",
        tps(r.thresholds.min_tps),
        r.thresholds
            .min_efficiency
            .map_or(String::new(), |e| of_bound(e, r)),
        ms(r.thresholds.max_latency_ms_p99),
        r.nodes,
        text(&r.consensus),
        if r.user_chains > 0 {
            format!(
                ", {} groups: the merchant chain (group 0) and {} user chains, which the load is \
                 split evenly over (the figures are of the aggregate)",
                r.groups, r.user_chains
            )
        } else if r.groups > 1 {
            format!(
                ", {} groups (each workload's load split evenly over them; the figures are of the aggregate)",
                r.groups
            )
        } else {
            String::new()
        }
    )?;
    match &r.goal {
        Some(g) => writeln!(o, "Goal ({}): {}.\n", text(&g.source), goal_text(g, r)),
        None => writeln!(o, "Goal: none stated in the profile.\n"),
    }
}

/// " (E % of the crypto bound: ...)": how a TPS figure stated as an efficiency was derived.
fn of_bound(efficiency: f64, r: &RunResults) -> String {
    format!(
        " ({} of the crypto bound: {} × {} recoveries/s per core × {} cores ÷ {} node(s))",
        percent(efficiency),
        percent(efficiency),
        tps(r.crypto_bound_per_core()),
        r.environment.cores,
        r.nodes
    )
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn goal_text(g: &Goal, r: &RunResults) -> String {
    let mut parts = Vec::new();
    if let Some(t) = g.tps {
        let derived = g.efficiency.map_or(String::new(), |e| of_bound(e, r));
        parts.push(format!("committed TPS ≥ {}{derived}", tps(t)));
    }
    if let Some(l) = g.latency_ms_p99 {
        let at = match (g.latency_at_tps, g.latency_at_saturation_share) {
            (Some(a), _) => format!(" at {} tx/s offered", tps(a)),
            (None, Some(share)) => {
                format!(" at {} of the saturation this run measured", percent(share))
            }
            (None, None) => String::new(),
        };
        parts.push(format!("p99 latency ≤ {} ms{at}", ms(l)));
    }
    let mut s = parts.join(", ");
    if let Some(w) = &g.workload {
        s.push_str(&format!(" ({} workloads)", text(w)));
    }
    s
}

/// The per-workload table of figures against threshold and goal; left out for results
/// recorded before it was kept.
pub(super) fn targets(o: &mut String, r: &RunResults) -> fmt::Result {
    if r.checks.is_empty() {
        return Ok(());
    }
    let source = r
        .goal
        .as_ref()
        .map_or("none stated".to_string(), |g| text(&g.source));
    writeln!(o, "## Thresholds and goal\n")?;
    writeln!(
        o,
        "Each workload's figure against its threshold, which decides the verdict, and against \
         the goal ({source}) wherever the goal applies: a workload with a threshold of its own \
         is judged by that alone, and a goal stated at one rate or for one workload applies \
         there only.\n"
    )?;
    writeln!(
        o,
        "| workload | figure | measured | threshold | threshold met | goal | goal met |"
    )?;
    writeln!(o, "|---|---|--:|--:|---|--:|---|")?;
    for c in &r.checks {
        let Some(w) = r.workloads.get(c.workload) else {
            continue;
        };
        let mode = match c.metric {
            TargetMetric::KneeTps => "saturation",
            _ => w.mode.as_str(),
        };
        let label = format!("{} ({mode})", w.workload);
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&label),
            figure(c.metric),
            measured(c),
            with_share(bound(c.metric, c.threshold), c.threshold_efficiency),
            met(Some(c.threshold_met)),
            c.goal.map_or("–".to_string(), |g| {
                with_share(bound(c.metric, g), c.goal_efficiency)
            }),
            met(c.goal_met)
        )?;
    }
    writeln!(o)
}

fn figure(m: TargetMetric) -> &'static str {
    match m {
        TargetMetric::CommittedTps => "committed TPS",
        TargetMetric::KneeTps => "knee (offered TPS)",
        TargetMetric::LatencyMsP99 => "p99 latency ms",
    }
}

fn measured(c: &TargetCheck) -> String {
    match (c.metric, c.measured) {
        (TargetMetric::KneeTps, None) => "below the first step".to_string(),
        (_, None) => "n/a".to_string(),
        (TargetMetric::KneeTps, Some(k)) if c.lower_bound => {
            format!("knee not reached; ≥ {}", tps(k))
        }
        (TargetMetric::LatencyMsP99, Some(v)) => ms(v),
        (_, Some(v)) => tps(v),
    }
}

fn bound(m: TargetMetric, v: f64) -> String {
    match m {
        TargetMetric::LatencyMsP99 if v <= 0.0 => "none".to_string(),
        TargetMetric::LatencyMsP99 => format!("≤ {}", ms(v)),
        _ => format!("≥ {}", tps(v)),
    }
}

/// "≥ 8,000 (30.0 %)" for a figure derived from an efficiency.
fn with_share(figure: String, efficiency: Option<f64>) -> String {
    match efficiency {
        Some(e) => format!("{figure} ({})", percent(e)),
        None => figure,
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "–",
    }
}
