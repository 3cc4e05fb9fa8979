//! Which bench run wrote a criterion result, and how its commit relates to the report's.
//!
//! Every bench binary in benches/ appends one line per run to
//! `<criterion dir>/bcos-provenance.jsonl` (benches/src/provenance.rs, the writer):
//! `{"bench", "commit", "dirty", "started_unix_ms", "finished_unix_ms", ...}`. A result belongs
//! to the run whose [started, finished] interval holds its `new/estimates.json`'s mtime:
//! criterion writes that file while the run measures. A result no recorded run covers (written
//! by a bench binary from before provenance was recorded, or by an interrupted run) has an
//! unknown commit and is never presented as the report's.

use std::path::Path;

use serde::Deserialize;

use crate::results::{BenchOrigin, BenchProvenance};

/// The provenance log's file name inside the criterion directory.
pub const PROVENANCE_FILE: &str = "bcos-provenance.jsonl";
/// Largest provenance log read; a longer one is read from its last this-many bytes, where the
/// latest runs are.
pub const PROVENANCE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// One line of the provenance log. Unknown fields are ignored, so the writer may add some.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunRecord {
    pub bench: String,
    /// None when the bench ran outside a git checkout.
    pub commit: Option<String>,
    pub dirty: bool,
    pub started_unix_ms: u64,
    pub finished_unix_ms: u64,
}

/// The records of `<criterion_dir>/bcos-provenance.jsonl`, oldest first; malformed lines
/// (a torn write, a hand edit) are skipped, and a missing log is no records.
pub fn read_records(criterion_dir: &Path) -> Vec<RunRecord> {
    let Ok(text) = read_tail(&criterion_dir.join(PROVENANCE_FILE)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<RunRecord>(l).ok())
        .filter(|r| r.started_unix_ms <= r.finished_unix_ms)
        .collect()
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > PROVENANCE_BYTES_MAX {
        f.seek(SeekFrom::Start(len - PROVENANCE_BYTES_MAX))?;
    }
    let mut bytes = Vec::new();
    f.take(PROVENANCE_BYTES_MAX).read_to_end(&mut bytes)?;
    // A cut through the first line (or through a UTF-8 sequence) only spoils that line.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The run that covers a result written at `written_unix_ms`: the latest-started run whose
/// interval holds it (bench binaries run one after another, so at most one normally does).
pub fn covering(records: &[RunRecord], written_unix_ms: u64) -> Option<&RunRecord> {
    records
        .iter()
        .filter(|r| r.started_unix_ms <= written_unix_ms && written_unix_ms <= r.finished_unix_ms)
        .max_by_key(|r| r.started_unix_ms)
}

/// The provenance a covering run gives a result; None when no run covers it or the run did
/// not know its commit.
pub fn provenance_of(run: Option<&RunRecord>) -> Option<BenchProvenance> {
    let run = run?;
    let commit = run.commit.as_ref().filter(|c| !c.trim().is_empty())?;
    Some(BenchProvenance {
        bench: run.bench.clone(),
        commit: commit.trim().to_string(),
        dirty: run.dirty,
    })
}

/// How a result measured with `provenance` relates to the report's commit (`<sha>` or
/// `<sha>-dirty`, as machine::git_commit writes it). `is_ancestor(sha)` says whether a commit
/// is the report's HEAD or one of its ancestors.
pub fn origin(
    provenance: Option<&BenchProvenance>,
    report_commit: &str,
    is_ancestor: &dyn Fn(&str) -> bool,
) -> BenchOrigin {
    let Some(p) = provenance else {
        return BenchOrigin::Unknown;
    };
    let report = report_commit.trim();
    let (report_sha, report_dirty) = match report.strip_suffix("-dirty") {
        Some(sha) => (sha, true),
        None => (report, false),
    };
    // A tree with uncommitted changes is no commit's code, the report's included.
    if p.dirty {
        return BenchOrigin::OtherCommit;
    }
    if !report_dirty && !report_sha.is_empty() && p.commit.eq_ignore_ascii_case(report_sha) {
        return BenchOrigin::ThisCommit;
    }
    if is_ancestor(&p.commit) {
        BenchOrigin::OlderCommit
    } else {
        BenchOrigin::OtherCommit
    }
}
