//! The crypto bound and the efficiency reached against it. The formula assumes every node
//! recovers every sender exactly once; the table shows beside it how many recoveries the nodes
//! actually made per committed transaction, so it cannot overstate what the formula implies.

use std::fmt::{self, Write};

use super::format::{cell, num, tps};
use crate::results::RunResults;

/// committed TPS × nodes ÷ (bound × cores), or None when the bound or core count is unknown.
pub fn efficiency_ratio(
    committed_tps: f64,
    nodes: usize,
    bound_per_core: f64,
    cores: usize,
) -> Option<f64> {
    let capacity = bound_per_core * cores as f64;
    (capacity > 0.0 && capacity.is_finite() && committed_tps.is_finite())
        .then(|| committed_tps * nodes as f64 / capacity)
}

fn percent(ratio: Option<f64>) -> String {
    ratio
        .filter(|r| r.is_finite())
        .map_or("n/a".to_string(), |e| format!("{:.1} %", e * 100.0))
}

/// How far apart a run's bound readings may lie before the report says the host's speed moved:
/// beyond what one reading's own noise explains (±5 % on a quiet guest).
const READINGS_SPREAD_NOTED: f64 = 1.10;

fn bound_readings(o: &mut String, r: &RunResults, bound: f64) -> fmt::Result {
    let start = tps(r.crypto_bound_recoveries_per_s_per_core);
    let between = &r.crypto_bound_between_recoveries_per_s_per_core;
    let how = match r.crypto_bound_threads {
        0 | 1 => "Each reading ran one thread, on whichever core the scheduler gave it.".to_string(),
        n => format!(
            "Each reading ran one thread per core, on all {n} cores at once, and is their sum ÷ {n}."
        ),
    };
    let Some(end) = r.crypto_bound_end_recoveries_per_s_per_core else {
        return writeln!(
            o,
            "Measured on this machine at the start of the run: **{} secp256k1 recoveries/s per core**. {how}\n",
            tps(bound)
        );
    };
    let between_text = if between.is_empty() {
        ",".to_string()
    } else {
        let list: Vec<String> = between.iter().map(|b| tps(*b)).collect();
        format!(
            "; before each later workload, with the nodes idle: {};",
            list.join(", ")
        )
    };
    writeln!(
        o,
        "Measured on this machine at the start of the run: {start} secp256k1 recoveries/s per \
         core{between_text} and {} after the nodes stopped. The efficiencies below, and \
         thresholds or goals stated as efficiencies, use the highest: **{} recoveries/s per \
         core**. {how}\n",
        tps(end),
        tps(bound)
    )?;
    let readings: Vec<f64> = r
        .crypto_bound_readings()
        .into_iter()
        .filter(|b| b.is_finite() && *b > 0.0)
        .collect();
    let lowest = readings.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = readings.iter().copied().fold(0.0, f64::max);
    if highest > lowest * READINGS_SPREAD_NOTED {
        writeln!(
            o,
            "**The readings spread from {} to {} ({:.0} % apart)**: this host's speed moved \
             during the run. The highest reading is used because a reading can only be pulled \
             down by what else ran at that moment; a workload that ran in a slow stretch is then \
             shown below its efficiency rather than above it.\n",
            tps(lowest),
            tps(highest),
            (highest / lowest - 1.0) * 100.0
        )?;
    }
    Ok(())
}

pub(super) fn efficiency_section(o: &mut String, r: &RunResults) -> fmt::Result {
    let bound = r.crypto_bound_per_core();
    let cores = r.environment.cores;
    writeln!(o, "## Crypto bound and efficiency\n")?;
    bound_readings(o, r, bound)?;
    writeln!(
        o,
        "The formula assumes every node recovers the sender of every transaction exactly once, \
         so a cluster committing T TPS needs T × nodes recoveries per second out of the bound × \
         cores the machine offers:\n"
    )?;
    writeln!(
        o,
        "`efficiency = committed TPS × nodes ÷ (recoveries/s per core × cores)`\n"
    )?;
    writeln!(o, "with nodes = {} and cores = {}.\n", r.nodes, cores)?;
    if r.workloads.is_empty() {
        return Ok(());
    }
    writeln!(
        o,
        "Whether that assumption held is measured, not assumed: *recoveries per tx per node* is \
         the items the nodes' `recover` stage counted over the window ÷ (committed × nodes). At \
         1.00 the formula describes the run. Above it the nodes handed more senders to recovery \
         than the chain committed (the same sender again, or transactions that did not commit \
         in the window): the formula then understates the signature work the run cost, and the \
         efficiency is not the share of recovery capacity actually used. Below it part of the \
         window's commits were recovered before the window began.\n"
    )?;
    writeln!(
        o,
        "| workload | committed TPS | efficiency (formula) | recoveries per tx per node (measured) |"
    )?;
    writeln!(o, "|---|--:|--:|--:|")?;
    for w in &r.workloads {
        let e = efficiency_ratio(w.committed_tps, r.nodes, bound, cores);
        let per_tx = w.recoveries_per_tx_per_node(r.nodes);
        writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell(&w.workload),
            tps(w.committed_tps),
            percent(e),
            per_tx.map_or("n/a".to_string(), |k| num(k, 2)),
        )?;
    }
    writeln!(o)
}
