//! `results.json`: the run's [`RunResults`] exactly as serde writes them, nothing added by hand,
//! so a later tool (or a regenerated report) reads back the same values.

use std::path::Path;

use anyhow::Context;

use crate::results::RunResults;

/// The machine-readable results' file name inside the report directory.
pub const RESULTS_JSON: &str = "results.json";

/// Pretty-printed JSON of `results`.
pub fn to_string(results: &RunResults) -> anyhow::Result<String> {
    serde_json::to_string_pretty(results).context("serializing results.json")
}

/// Writes `<dir>/results.json`.
pub fn write(dir: &Path, results: &RunResults) -> anyhow::Result<()> {
    let path = dir.join(RESULTS_JSON);
    let mut text = to_string(results)?;
    // serde_json writes NaN and infinities as null, which do not read back as f64: say so now
    // rather than when someone later tries to compare runs.
    if serde_json::from_str::<RunResults>(&text).is_err() {
        eprintln!("warning: results.json holds a non-finite number (written as null); it will not read back");
    }
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// Reads a `results.json` back, e.g. to regenerate a report from a recorded run.
pub fn read(path: &Path) -> anyhow::Result<RunResults> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
