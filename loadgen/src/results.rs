//! What a certification run measured: the data model shared by the engine (which fills it)
//! and the report writer (which renders it to report.md, results.json and SVG charts).
//! Serialized as results.json, so field names are part of the report format. Fields added
//! after the first committed reports carry `#[serde(default)]`, so every results.json written
//! before them still reads back (with the new facts marked unknown, never guessed).

use serde::{Deserialize, Serialize};

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Profile name (file stem) and its thresholds.
    pub profile: String,
    pub thresholds: Thresholds,
    pub environment: Environment,
    /// Measured at start: secp256k1 recoveries per second per core, every core measuring at
    /// once (their sum ÷ [`RunResults::crypto_bound_threads`]).
    pub crypto_bound_recoveries_per_s_per_core: f64,
    /// The same, measured again once the nodes had stopped; None in results recorded before.
    /// Efficiencies and efficiency thresholds use the highest of all the readings
    /// ([`RunResults::crypto_bound_per_core`]), so a slow moment at one measurement cannot
    /// lower what a run is held to.
    #[serde(default)]
    pub crypto_bound_end_recoveries_per_s_per_core: Option<f64>,
    /// The same, measured before each workload after the first, with the nodes running and
    /// idle. A shared host's speed moves for seconds at a time (a 2-vCPU guest read 12 k and
    /// 19 k within a minute), and a run whose start and end both fell in a slow stretch
    /// overstated its efficiency; more readings make that less likely. Empty in results
    /// recorded before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crypto_bound_between_recoveries_per_s_per_core: Vec<f64>,
    /// How many threads measured each bound reading at once: one per core, and the reading
    /// is their sum ÷ this. 1 in results recorded before 2026-12-02, when one thread measured
    /// alone and read whichever core the scheduler gave it (a shared guest's cores differed
    /// by up to 1.6× at the same moment).
    #[serde(default = "one")]
    pub crypto_bound_threads: usize,
    pub nodes: usize,
    pub consensus: String,
    /// Groups (chains) of the cluster the load was spread over (issue 13); 1 in results
    /// recorded before groups existed.
    #[serde(default = "one")]
    pub groups: usize,
    /// High-frequency accounts (issue 14): user chains among the groups (group 0 is then
    /// the merchant chain); 0 without, and in results recorded before.
    #[serde(default)]
    pub user_chains: usize,
    pub workloads: Vec<WorkloadResult>,
    /// The profile's `user_chains_sweep` (issue 14): the closed-loop workloads once per
    /// number of user chains, each on its own cluster; not judged. Empty without a sweep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_chains_sweep: Vec<WorkloadResult>,
    /// Latest criterion results found under the target dir, if any.
    pub criterion: Vec<CriterionResult>,
    /// Relative path of the flamegraph SVG inside the report dir, if recorded.
    pub flamegraph: Option<String>,
    /// true when every threshold was met.
    pub passed: bool,
    /// Human-readable reasons for each missed threshold.
    pub failures: Vec<String>,
    /// What the profile aims at (`[goal]`), beside the thresholds that decide the verdict.
    #[serde(default)]
    pub goal: Option<Goal>,
    /// Each workload's TPS or latency figure against its threshold and the goal; empty in
    /// results recorded before goals existed.
    #[serde(default)]
    pub checks: Vec<TargetCheck>,
}

impl RunResults {
    /// The crypto bound efficiencies are computed with: the highest of the start, between and
    /// end measurements.
    pub fn crypto_bound_per_core(&self) -> f64 {
        judged_bound(
            self.crypto_bound_recoveries_per_s_per_core,
            self.crypto_bound_end_recoveries_per_s_per_core,
            &self.crypto_bound_between_recoveries_per_s_per_core,
        )
    }

    /// Every bound reading of the run, in the order taken.
    pub fn crypto_bound_readings(&self) -> Vec<f64> {
        std::iter::once(self.crypto_bound_recoveries_per_s_per_core)
            .chain(
                self.crypto_bound_between_recoveries_per_s_per_core
                    .iter()
                    .copied(),
            )
            .chain(self.crypto_bound_end_recoveries_per_s_per_core)
            .collect()
    }
}

/// The highest of the bound measurements (NaN or missing ones are ignored). The highest,
/// because a reading can only be pulled down by what else the host ran at that moment, and a
/// low bound would overstate every efficiency.
pub fn judged_bound(start: f64, end: Option<f64>, between: &[f64]) -> f64 {
    between.iter().copied().chain(end).fold(start, f64::max)
}

/// A profile's `[goal]`: the figure a threshold serves, stated separately so a threshold set
/// below it (for a shared, noisy host) cannot pass for the goal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// Committed transactions per second (derived from `efficiency` where that is stated).
    pub tps: Option<f64>,
    /// The goal as a share of the crypto bound; None in results recorded before, or when the
    /// goal is stated in TPS.
    #[serde(default)]
    pub efficiency: Option<f64>,
    pub latency_ms_p99: Option<f64>,
    /// The offered rate the latency goal is stated at; None = any open-loop rate.
    pub latency_at_tps: Option<f64>,
    /// Instead of `latency_at_tps`: the share of the run's measured saturation the latency goal
    /// is stated at; None in results recorded before.
    #[serde(default)]
    pub latency_at_saturation_share: Option<f64>,
    /// The workload the goal is stated for; None = every workload the global thresholds check.
    pub workload: Option<String>,
    /// Where the goal comes from ("issue 3").
    pub source: String,
}

/// What a [`TargetCheck`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    /// Committed TPS of a closed loop: at least the target.
    CommittedTps,
    /// The saturation knee: at least the target.
    KneeTps,
    /// Open-loop p99 latency in ms: at most the target.
    LatencyMsP99,
}

/// One workload's figure against its threshold and (where the goal applies) the goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// Index into [`RunResults::workloads`].
    pub workload: usize,
    pub metric: TargetMetric,
    /// The measured figure; None when there is none (a search whose first step saturated).
    pub measured: Option<f64>,
    /// true when `measured` is only a lower bound (a knee the search did not reach).
    pub lower_bound: bool,
    pub threshold: f64,
    /// The efficiency `threshold` was derived from, when the profile stated it that way.
    #[serde(default)]
    pub threshold_efficiency: Option<f64>,
    pub threshold_met: bool,
    /// None where the goal does not apply to this workload.
    pub goal: Option<f64>,
    /// The efficiency `goal` was derived from, when the profile stated it that way.
    #[serde(default)]
    pub goal_efficiency: Option<f64>,
    pub goal_met: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Committed TPS; derived from `min_efficiency` on this run's machine where that is stated.
    pub min_tps: f64,
    /// The profile's efficiency threshold, if it states one instead of a TPS.
    #[serde(default)]
    pub min_efficiency: Option<f64>,
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
    /// The storage I/O backend each node reported it runs (`bcos_getNodeInfo` `ioBackend`,
    /// "auto" resolved), in node order; "unknown" for a node that did not say. Empty in results
    /// recorded before this was read.
    #[serde(default)]
    pub io_backends: Vec<String>,
    /// Differences between this machine and the profile's (empty when they match).
    pub profile_mismatches: Vec<String>,
    /// Dirty page cache (MiB) written back before the embedded nodes started
    /// ([`crate::writeback`]); None for remote nodes and in results recorded before.
    #[serde(default)]
    pub page_cache_written_back_mib: Option<f64>,
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
    /// The highest offered rate that still followed: the knee when the search found one, a
    /// lower bound when it ran out of steps first (see `saturation_end`).
    pub knee_tps: Option<f64>,
    /// How the saturation search ended; None when none ran, or in results recorded before
    /// this was kept (read it through [`WorkloadResult::saturation_end`]).
    #[serde(default)]
    pub saturation_end: Option<SaturationEnd>,
    /// Summed over the nodes and, with several groups, over the groups.
    pub stages: Vec<StageCost>,
    pub node_usage: Vec<NodeUsage>,
    /// Groups the load was split over (issue 13); 1 in results recorded before groups.
    #[serde(default = "one")]
    pub groups: usize,
    /// Committed TPS of each group over the window (they add up to `committed_tps`); empty in
    /// results recorded before groups.
    #[serde(default)]
    pub per_group_committed_tps: Vec<f64>,
    /// High-frequency accounts over user chains (issue 14): the groups above are the user
    /// chains, and this is what settling them to the merchant chain measured. None without
    /// settlement, and in results recorded before it.
    #[serde(default)]
    pub settlement: Option<SettlementResult>,
}

/// Settlement of one hf-account level to the merchant chain (loadgen/src/settlement/).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementResult {
    pub user_chains: usize,
    /// The high-frequency merchant (0x…).
    pub merchant: String,
    /// Payment committed on its user chain -> its record credited on the merchant chain, over
    /// the payments committed in the window (ms).
    pub lag_ms: LatencySummary,
    /// Payments the lag was measured over.
    pub lag_payments: u64,
    /// Window payments whose record was not seen credited.
    pub uncredited: u64,
    /// Records credited during the level, over all user chains.
    pub records_credited: u64,
    /// Whether merchant balance + proxies + in transit grew by exactly what was paid
    /// (XS-S2), checked after the last settlement landed.
    pub conservation_held: bool,
    /// What was checked, or what did not balance (or why it could not be checked).
    pub conservation: String,
    /// Paid to the merchant during the level (decimal wei).
    pub paid_wei: String,
    /// The merchant's balance growth on the merchant chain during the level (decimal wei).
    pub credited_wei: String,
    /// Payments the payers committed during the level (to any merchant).
    pub payments: u64,
    /// How long loadgen waited after the level for the last settlement to land.
    pub settle_wait_s: f64,
}

fn one() -> usize {
    1
}

/// How a saturation search ended (engine/saturation.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaturationEnd {
    /// A step stopped following: `knee_tps` is the knee.
    KneeFound,
    /// Every step followed until `saturation_steps_max`: the knee lies at or above `knee_tps`.
    StepsExhausted,
    /// The first step already stopped following: the knee lies below the first rate.
    FirstStepSaturated,
}

/// The saturation a search measured: the highest finite committed TPS of its steps
/// `(offered, committed)`; None without steps. The report's "best committed TPS" and the rate
/// of a `rate_saturation_share` workload both come from it.
pub fn saturation_tps(steps: &[(f64, f64)]) -> Option<f64> {
    steps
        .iter()
        .map(|&(_, committed)| committed)
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

impl WorkloadResult {
    /// How the saturation search ended: as recorded, else (results.json from before it was
    /// recorded) as the steps show it. The search stops at the first step that does not
    /// follow, so the knee being the last step means every step followed.
    pub fn saturation_end(&self) -> Option<SaturationEnd> {
        if self.saturation_end.is_some() {
            return self.saturation_end;
        }
        let last = self.saturation.last()?.0;
        Some(match self.knee_tps {
            None => SaturationEnd::FirstStepSaturated,
            Some(k) if k == last => SaturationEnd::StepsExhausted,
            Some(_) => SaturationEnd::KneeFound,
        })
    }

    /// Sender recoveries per committed transaction per node over the window: the `recover`
    /// stage's items (summed over the nodes) ÷ (committed × nodes). None without a recover
    /// stage or commits.
    pub fn recoveries_per_tx_per_node(&self, nodes: usize) -> Option<f64> {
        let recover = self.stages.iter().find(|s| s.stage == "recover")?;
        let per = self
            .committed
            .checked_mul(nodes as u64)
            .filter(|&d| d > 0)?;
        Some(recover.items as f64 / per as f64)
    }
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
    /// When criterion wrote the result (its `new/estimates.json`'s mtime), UTC; None when
    /// unknown.
    #[serde(default)]
    pub measured_utc: Option<String>,
    /// The bench run that wrote it, from `<target>/criterion/bcos-provenance.jsonl`; None
    /// when no recorded run covers it.
    #[serde(default)]
    pub provenance: Option<BenchProvenance>,
    /// How the result's commit relates to the report's.
    #[serde(default)]
    pub origin: BenchOrigin,
}

/// The bench binary run a criterion result came from (written by benches/src/provenance.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchProvenance {
    /// The bench binary ("recover").
    pub bench: String,
    /// The commit checked out when it ran.
    pub commit: String,
    /// true when tracked files had uncommitted changes.
    pub dirty: bool,
}

/// Whether a criterion result describes the report's code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchOrigin {
    /// Measured at the report's commit, both from clean trees.
    ThisCommit,
    /// Measured at an ancestor of the report's commit (clean tree).
    OlderCommit,
    /// Measured at a commit outside the report's history, or from a tree with changes.
    OtherCommit,
    /// No recorded bench run covers the result.
    #[default]
    Unknown,
}
