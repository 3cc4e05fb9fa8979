//! The criterion table: each bench result with the commit and time it was measured at. A
//! result is this report's only when its bench ran at the report's commit from a clean tree;
//! every other one says where it came from ("older: commit X, date"; "unknown commit").

use std::fmt::{self, Write};

use super::format::{cell, duration_ns, short_commit, text, tps};
use crate::results::{BenchOrigin, CriterionResult, RunResults};

pub(super) fn criterion(o: &mut String, r: &RunResults) -> fmt::Result {
    if r.criterion.is_empty() {
        return Ok(());
    }
    let ours = r.criterion.iter().filter(|c| is_this_commit(c)).count();
    writeln!(o, "## Criterion benches (latest results)\n")?;
    writeln!(
        o,
        "The latest result of each bench found in the cargo target directory, with the commit \
         and time its bench binary ran (`criterion/bcos-provenance.jsonl`, appended by every \
         bench run in `benches/`). **{ours} of {} results were measured at this report's \
         commit ({})**; the others are marked with where they came from and describe that \
         code, not this commit's: `cargo bench -p bcos-benches` before certifying refreshes \
         them.\n",
        r.criterion.len(),
        text(&short_commit(&r.environment.git_commit))
    )?;
    writeln!(o, "| bench | mean | throughput | measured at |")?;
    writeln!(o, "|---|--:|--:|---|")?;
    for c in &r.criterion {
        let thr = c
            .throughput_per_s
            .map_or("–".to_string(), |t| format!("{}/s", tps(t)));
        writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell(&c.id),
            duration_ns(c.mean_ns),
            thr,
            cell(&measured_at(c))
        )?;
    }
    writeln!(o)
}

/// Measured at the report's commit: said so by the origin and backed by the run it came from.
fn is_this_commit(c: &CriterionResult) -> bool {
    c.origin == BenchOrigin::ThisCommit && c.provenance.is_some()
}

/// "this commit, <date>", "older: commit abc1234, <date>", "other: commit abc1234-dirty,
/// <date>" or "unknown commit[, written <date>]".
pub fn measured_at(c: &CriterionResult) -> String {
    let date = c.measured_utc.as_deref().unwrap_or("date unknown");
    let commit = |p: &crate::results::BenchProvenance| {
        let dirty = if p.dirty { "-dirty" } else { "" };
        format!("commit {}{dirty}", short_commit(&p.commit))
    };
    match (c.origin, &c.provenance) {
        (BenchOrigin::ThisCommit, Some(_)) => format!("this commit, {date}"),
        (BenchOrigin::OlderCommit, Some(p)) => format!("older: {}, {date}", commit(p)),
        (BenchOrigin::OtherCommit, Some(p)) => format!("other: {}, {date}", commit(p)),
        // Unknown, or an origin without the run it was derived from: never this commit's.
        _ => match &c.measured_utc {
            Some(d) => format!("unknown commit, written {d}"),
            None => "unknown commit".to_string(),
        },
    }
}
