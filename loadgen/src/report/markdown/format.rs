//! Formatting shared by the report's sections: numbers with fixed decimals ("n/a" when not
//! finite), durations, and text made safe for markdown tables and lines.

/// A code fence longer than any backtick run inside `body`, so settings cannot close it early.
pub(super) fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Table cell text: pipes escaped, line breaks flattened.
pub(super) fn cell(s: &str) -> String {
    text(s).replace('|', "\\|")
}

/// Inline text: line breaks flattened so a value cannot start a new markdown block.
pub(super) fn text(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

pub(super) fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "n/a".to_string()
    }
}

/// Rates: one decimal.
pub(super) fn tps(v: f64) -> String {
    num(v, 1)
}

/// Several TPS figures (e.g. one per group), comma-separated.
pub(super) fn tps_list(values: &[f64]) -> String {
    values
        .iter()
        .map(|&v| tps(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Latencies: two decimals of a millisecond.
pub(super) fn ms(v: f64) -> String {
    num(v, 2)
}

pub(super) fn duration_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".to_string()
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A commit as git's short sha (its first 7 hex digits), keeping a `-dirty` mark.
pub(super) fn short_commit(commit: &str) -> String {
    let commit = commit.trim();
    let (sha, dirty) = match commit.strip_suffix("-dirty") {
        Some(sha) => (sha, "-dirty"),
        None => (commit, ""),
    };
    let short: String = sha.chars().take(7).collect();
    format!("{short}{dirty}")
}
