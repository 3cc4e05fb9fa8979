//! The high-frequency accounts section (issue 14): per hf-account workload run over user
//! chains, the payments' TPS per user chain, their latency, the settlement lag to the
//! merchant chain and the conservation check. Left out when no workload settled.

use std::fmt::Write;

use super::format::{cell, ms, num, text, tps, tps_list};
use super::Result;
use crate::results::RunResults;

pub(super) fn section(o: &mut String, r: &RunResults) -> Result {
    let settled: Vec<_> = r
        .workloads
        .iter()
        .filter_map(|w| w.settlement.as_ref().map(|s| (w, s)))
        .collect();
    if settled.is_empty() && r.user_chains_sweep.is_empty() {
        return Ok(());
    }
    writeln!(o, "## High-frequency accounts\n")?;
    writeln!(
        o,
        "Users on the user chains pay the merchant's proxy account on their own chain; every \
         user chain settles what its proxy holds into numbered records, which relayers carry to \
         the merchant chain (group 0), where they are credited (spec/settlement.md). Payment \
         TPS and latency are the summary's (submit → commit on the user chain); the settlement \
         lag runs from a payment's commit on its user chain to the moment loadgen saw its record \
         credited on the merchant chain, over the payments committed in the window. \
         Conservation: the merchant's balance plus the proxies plus the records in transit grew \
         by exactly what the run paid, checked after the last settlement landed.\n"
    )?;
    writeln!(
        o,
        "| workload | mode | user chains | payment TPS | per user chain | payment p50 / p99 ms \
         | lag p50 ms | lag p99 ms | lag max ms | lag over | records credited | conservation |"
    )?;
    writeln!(o, "|---|---|--:|--:|---|---|--:|--:|--:|--:|--:|---|")?;
    for (w, s) in &settled {
        let per = tps_list(&w.per_group_committed_tps);
        let over = if s.uncredited > 0 {
            format!("{} ({} not credited)", s.lag_payments, s.uncredited)
        } else {
            s.lag_payments.to_string()
        };
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} |",
            cell(&w.workload),
            cell(&w.mode),
            s.user_chains,
            tps(w.committed_tps),
            per,
            ms(w.latency_ms.p50),
            ms(w.latency_ms.p99),
            num(s.lag_ms.p50, 0),
            num(s.lag_ms.p99, 0),
            num(s.lag_ms.max, 0),
            over,
            s.records_credited,
            if s.conservation_held {
                "held"
            } else {
                "**VIOLATED**"
            }
        )?;
    }
    writeln!(o)?;
    for (w, s) in &settled {
        writeln!(
            o,
            "- {} ({}), merchant `{}`: {} (waited {} s for the last settlement).",
            text(&w.workload),
            text(&w.mode),
            text(&s.merchant),
            text(&s.conservation),
            num(s.settle_wait_s, 1)
        )?;
    }
    writeln!(o)?;
    sweep(o, r)
}

/// The profile's `user_chains_sweep`: closed-loop payment TPS against the number of user
/// chains, each on its own cluster of the same nodes, beside the first run's U.
fn sweep(o: &mut String, r: &RunResults) -> Result {
    let points: Vec<_> = r
        .user_chains_sweep
        .iter()
        .filter_map(|w| w.settlement.as_ref().map(|s| (w, s)))
        .collect();
    let Some(&(first, first_s)) = points
        .iter()
        .find(|(_, s)| s.user_chains == 1)
        .or(points.first())
    else {
        return Ok(());
    };
    let base_u = first_s.user_chains;
    writeln!(
        o,
        "### Payment TPS against user chains
"
    )?;
    writeln!(
        o,
        "The closed-loop workloads once per number of user chains U, each U on a fresh \
         cluster of the same {} nodes (U = {} is the run above); not judged against the \
         thresholds, which apply to U = {} only.\n",
        r.nodes, r.user_chains, r.user_chains
    )?;
    writeln!(
        o,
        "| workload | user chains | payment TPS | vs U={base_u} | per user chain | payment p99 ms \
         | lag p50 ms | lag p99 ms | conservation |"
    )?;
    writeln!(o, "|---|--:|--:|--:|---|--:|--:|--:|---|")?;
    for (w, s) in &points {
        let ratio = num(w.committed_tps / first.committed_tps, 2);
        let per = tps_list(&w.per_group_committed_tps);
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&w.workload),
            s.user_chains,
            tps(w.committed_tps),
            ratio,
            per,
            ms(w.latency_ms.p99),
            num(s.lag_ms.p50, 0),
            num(s.lag_ms.p99, 0),
            if s.conservation_held {
                "held"
            } else {
                "**VIOLATED**"
            }
        )?;
    }
    writeln!(o)
}
