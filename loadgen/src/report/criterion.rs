//! Reads the latest criterion results from a criterion directory (`<target>/criterion`), for
//! the report's bench table: `**/new/estimates.json` (the mean, in ns, and by its mtime when it
//! was measured) and the `benchmark.json` beside it (the bench id and its declared throughput);
//! then attaches to each the bench run that wrote it and that run's commit ([`provenance`]).
//!
//! Anything unreadable or malformed is skipped: a missing bench row must not stop a report.
//!
//! [`provenance`]: super::provenance

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::provenance;
use crate::machine::date_utc;
use crate::results::{BenchOrigin, CriterionResult};

/// How deep below `<target>/criterion` to look; criterion nests group/function/value/new.
const SEARCH_DEPTH_MAX: usize = 8;

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    /// `{"Elements": n}`, `{"Bytes": n}`, ... or null; kept loose across criterion versions.
    throughput: Option<serde_json::Value>,
}

/// A result as read, with the time its estimates were written.
struct Found {
    result: CriterionResult,
    written_unix_ms: Option<u64>,
}

/// The latest result of every bench under `criterion_dir`, sorted by id, each with the commit
/// and time it was measured at and how that commit relates to `report_commit` (see
/// [`provenance::origin`]; `is_ancestor` asks git).
pub fn results_with_provenance(
    criterion_dir: &Path,
    report_commit: &str,
    is_ancestor: &dyn Fn(&str) -> bool,
) -> Vec<CriterionResult> {
    let records = provenance::read_records(criterion_dir);
    let mut found = Vec::new();
    collect(criterion_dir, criterion_dir, 0, &mut found);
    let mut out: Vec<CriterionResult> = found
        .into_iter()
        .map(|f| {
            let run = f
                .written_unix_ms
                .and_then(|t| provenance::covering(&records, t));
            let mut r = f.result;
            r.provenance = provenance::provenance_of(run);
            r.origin = provenance::origin(r.provenance.as_ref(), report_commit, is_ancestor);
            r
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The latest result of every bench under `criterion_dir`, sorted by id, with the time each
/// was measured but no provenance (origin Unknown). `throughput_per_s` is set for benches that
/// declared `Throughput::Elements` (elements/s); byte throughputs are left out because the
/// report's column counts items, not bytes.
pub fn latest_criterion_results(criterion_dir: &Path) -> Vec<CriterionResult> {
    let mut found = Vec::new();
    collect(criterion_dir, criterion_dir, 0, &mut found);
    let mut out: Vec<CriterionResult> = found.into_iter().map(|f| f.result).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn collect(root: &Path, dir: &Path, depth: usize, out: &mut Vec<Found>) {
    if depth > SEARCH_DEPTH_MAX {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // file_type() does not follow symlinks, so a link loop cannot trap the walk.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_dir() {
            continue;
        }
        let path = entry.path();
        let name = entry.file_name();
        if name == "report" {
            continue; // criterion's HTML, no data
        }
        if name == "new" {
            if let Some(result) = read_bench(root, &path) {
                out.push(result);
                continue;
            }
        }
        // Not a result dir (or a bench whose own name is "new"): keep looking below it.
        collect(root, &path, depth + 1, out);
    }
}

fn read_bench(root: &Path, new_dir: &Path) -> Option<Found> {
    let estimates_path = new_dir.join("estimates.json");
    let estimates: Estimates = read_json(&estimates_path)?;
    let written = std::fs::metadata(&estimates_path)
        .and_then(|m| m.modified())
        .ok();
    let mean_ns = estimates.mean.point_estimate;
    if !mean_ns.is_finite() || mean_ns < 0.0 {
        return None;
    }
    let bench: Option<Benchmark> = read_json(&new_dir.join("benchmark.json"));
    let id = match &bench {
        Some(b) => [
            Some(&b.group_id),
            b.function_id.as_ref(),
            b.value_str.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("/"),
        None => id_from_path(root, new_dir)?,
    };
    let elements = bench
        .as_ref()
        .and_then(|b| b.throughput.as_ref())
        .and_then(elements_of);
    let throughput_per_s = match elements {
        Some(n) if mean_ns > 0.0 => Some(n / (mean_ns * 1e-9)),
        _ => None,
    };
    Some(Found {
        result: CriterionResult {
            id,
            mean_ns,
            throughput_per_s,
            measured_utc: written.map(date_utc),
            provenance: None,
            origin: BenchOrigin::Unknown,
        },
        written_unix_ms: written.and_then(unix_ms),
    })
}

fn unix_ms(t: SystemTime) -> Option<u64> {
    let ms = t.duration_since(UNIX_EPOCH).ok()?.as_millis();
    u64::try_from(ms).ok()
}

/// Elements per iteration from criterion's serialized `Throughput`.
fn elements_of(t: &serde_json::Value) -> Option<f64> {
    if let Some(n) = t.get("Elements").and_then(serde_json::Value::as_f64) {
        return Some(n);
    }
    t.get("ElementsAndBytes")
        .and_then(|v| v.get("elements"))
        .and_then(serde_json::Value::as_f64)
}

/// `group/function/value` from the directory path, for results without a benchmark.json.
fn id_from_path(root: &Path, new_dir: &Path) -> Option<String> {
    let rel = new_dir.parent()?.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
