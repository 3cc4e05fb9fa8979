//! What a certification run measured: the data model shared by the engine (which fills it)
//! and the report writer (which renders it to report.md, results.json and SVG charts).
//! Serialized as results.json, so field names are part of the report format.

use serde::{Deserialize, Serialize};

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Profile name (file stem) and its thresholds.
    pub profile: String,
    pub thresholds: Thresholds,
    pub environment: Environment,
    /// Measured at start: secp256k1 recoveries per second on one core.
    pub crypto_bound_recoveries_per_s_per_core: f64,
    pub nodes: usize,
    pub consensus: String,
    pub workloads: Vec<WorkloadResult>,
    /// Latest criterion results found under the target dir, if any.
    pub criterion: Vec<CriterionResult>,
    /// Relative path of the flamegraph SVG inside the report dir, if recorded.
    pub flamegraph: Option<String>,
    /// true when every threshold was met.
    pub passed: bool,
    /// Human-readable reasons for each missed threshold.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub min_tps: f64,
    pub max_latency_ms_p99: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    pub git_commit: String,
    pub date_utc: String,
    /// The node settings the run used, as TOML.
    pub node_settings: String,
    /// Differences between this machine and the profile's (empty when they match).
    pub profile_mismatches: Vec<String>,
}

/// One workload at one load level (or the measured window of a closed-loop run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// "transfer", "hf-account" or "erc20".
    pub workload: String,
    /// "open" (target rate) or "closed" (fixed concurrency).
    pub mode: String,
    pub offered_tps: f64,
    pub committed_tps: f64,
    pub submitted: u64,
    pub committed: u64,
    pub errors: u64,
    pub window_s: f64,
    pub latency_ms: LatencySummary,
    /// Cumulative distribution: (latency ms, fraction ≤) points for the CDF chart.
    pub latency_cdf: Vec<(f64, f64)>,
    /// Committed transactions in each second of the window.
    pub tps_timeline: Vec<f64>,
    /// Saturation search steps (offered, committed), when one ran.
    pub saturation: Vec<(f64, f64)>,
    /// The offered rate past which committed TPS stopped following, when found.
    pub knee_tps: Option<f64>,
    pub stages: Vec<StageCost>,
    pub node_usage: Vec<NodeUsage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One node stage's cost over the window, from the nodes' metrics (bcos_getNodeInfo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageCost {
    /// recover, admit, consensus, execute, commit.
    pub stage: String,
    pub items: u64,
    pub busy_ms: u64,
    pub per_item_us: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeUsage {
    pub node: usize,
    /// Average CPU over the window, in cores (1.0 = one core busy).
    pub cpu_cores: f64,
    pub rss_bytes_max: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    /// e.g. "recover/batch_rayon".
    pub id: String,
    pub mean_ns: f64,
    pub throughput_per_s: Option<f64>,
}
