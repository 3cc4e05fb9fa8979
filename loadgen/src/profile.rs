//! Hardware profiles (hardware-profiles/*.toml, schema in hardware-profiles/README.md): the
//! machine a result is valid for, the node settings, the workloads, the pass thresholds and,
//! separately, the goal those thresholds serve.
//! Unknown keys are rejected everywhere except inside `[node.settings]`, which is handed to the
//! node verbatim (the node rejects unknown keys itself).

use crate::error::UsageError;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Defaults to the file stem.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub machine: MachineSpec,
    pub node: NodeSpec,
    #[serde(rename = "workload")]
    pub workloads: Vec<WorkloadSpec>,
    pub thresholds: ThresholdSpec,
    /// What the thresholds serve (an issue's target); reported beside them, never a verdict.
    #[serde(default)]
    pub goal: Option<GoalSpec>,
}

/// The machine the profile describes; compared with the detected one (machine.rs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    pub cores: usize,
    pub memory_gib: f64,
    /// "nvme", "ssd", "hdd" or "virtio"; empty = not checked.
    #[serde(default)]
    pub disk: String,
    /// Free text ("loopback", "10GbE"); recorded, not checked (single-node runs use loopback).
    #[serde(default)]
    pub network: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Nodes in the chain: 1 for "solo", any N ≥ 1 for "pbft".
    #[serde(default = "one")]
    pub nodes: usize,
    /// "solo" (one `bcos dev` node), "pbft" or "raft" (a `bcos init` cluster).
    #[serde(default = "solo")]
    pub consensus: String,
    /// Groups (chains) every node runs, 1..=64 (`bcos init --groups`; each group of the
    /// profile's consensus); each workload's load is split evenly over them (issue 13,
    /// [`crate::groups`]). More than one needs a cluster. `loadgen certify --groups`
    /// overrides it.
    #[serde(default = "one")]
    pub groups: usize,
    /// High-frequency accounts (issue 14, spec/settlement.md): with U > 0, group 0 is the
    /// merchant chain and groups 1..=U are user chains (`bcos init --groups U+1
    /// --hf-merchant`), loadgen starts one `bcos relay` per user chain, and the workloads run
    /// over the user chains only ([`crate::settlement`]). `groups` is then U + 1 (leave it
    /// out or give exactly that). 0 (default): off. `loadgen certify --user-chains` overrides
    /// it.
    #[serde(default)]
    pub user_chains: usize,
    /// With `user_chains`: payment TPS against the number of user chains (issue 14). After
    /// the profile's workloads, `loadgen certify` runs every closed-loop workload once more
    /// per U listed here, each on a fresh cluster of the same nodes with U user chains (U =
    /// `user_chains` reuses the main run), and reports them side by side. The thresholds
    /// are judged on the main run only. Empty (default): no sweep; `--user-chains` skips it.
    #[serde(default)]
    pub user_chains_sweep: Vec<usize>,
    /// With `user_chains`: `bcos init --settle-interval-ms` (none: the node's default).
    #[serde(default)]
    pub settle_interval_ms: Option<u64>,
    /// With `user_chains`: `bcos init --settle-every-blocks` (none: the node's default).
    #[serde(default)]
    pub settle_every_blocks: Option<u64>,
    /// With `user_chains`: each relayer's `bcos relay --poll-ms` (none: its default).
    #[serde(default)]
    pub relay_poll_ms: Option<u64>,
    /// Written verbatim into the node's config TOML (sections chain, pool, sealer, rpc,
    /// storage, crypto; docs/config.md); for a cluster, overlaid onto each node's config.
    #[serde(default)]
    pub settings: toml::Table,
}

impl NodeSpec {
    /// A node spec with `nodes` of `consensus`, one group, no settlement, no settings.
    pub fn new(nodes: usize, consensus: &str) -> NodeSpec {
        NodeSpec {
            nodes,
            consensus: consensus.into(),
            groups: 1,
            user_chains: 0,
            user_chains_sweep: Vec::new(),
            settle_interval_ms: None,
            settle_every_blocks: None,
            relay_poll_ms: None,
            settings: toml::Table::new(),
        }
    }

    /// Makes `user_chains` U > 0 imply `groups = U + 1` (the merchant chain and U user
    /// chains); a `groups` that says otherwise is refused.
    pub fn apply_user_chains(&mut self) -> Result<(), String> {
        if self.user_chains == 0 {
            return Ok(());
        }
        let all = self.user_chains + 1;
        if self.groups != 1 && self.groups != all {
            return Err(format!(
                "node.groups = {} with node.user_chains = {}: user chains need groups = {all} (the merchant chain 0 and user chains 1..={}); leave groups out",
                self.groups, self.user_chains, self.user_chains
            ));
        }
        self.groups = all;
        Ok(())
    }

    /// This spec with U user chains (groups U + 1) and no sweep, checked like
    /// `--user-chains U`.
    pub fn with_user_chains(&self, u: usize, remote: bool) -> Result<NodeSpec, String> {
        let mut node = self.clone();
        node.user_chains = u;
        node.groups = if u > 0 { u + 1 } else { 1 };
        node.user_chains_sweep = Vec::new();
        crate::settlement::check(&node, remote)?;
        crate::groups::check(node.groups, &node.consensus, remote)?;
        Ok(node)
    }

    /// Chains the workloads' load is split over: the user chains with settlement, else
    /// every group.
    pub fn load_groups(&self) -> usize {
        if self.user_chains > 0 {
            self.user_chains
        } else {
            self.groups
        }
    }
}

fn one() -> usize {
    1
}
fn solo() -> String {
    "solo".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Target rate; latency from each transaction's scheduled send time.
    Open,
    /// Fixed number of transactions in flight.
    Closed,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::Closed => "closed",
        }
    }
}

/// One `[[workload]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// "transfer", "hf-account" or "erc20".
    pub name: String,
    pub mode: Mode,
    /// Offered transactions per second (open loop; the first step of a saturation search).
    #[serde(default)]
    pub rate: Option<f64>,
    /// The offered rate as a share of the full-efficiency TPS ([`full_efficiency_tps`]),
    /// instead of `rate`: certify derives `rate` from the bound it measures at its start
    /// ([`WorkloadSpec::resolve_rate`]), so a saturation search steps through the same shares
    /// of the machine on every machine of a kind, as an efficiency threshold is one.
    #[serde(default)]
    pub rate_efficiency: Option<f64>,
    /// The offered rate as a share of the saturation measured earlier in the same run (the
    /// highest committed TPS of the last saturation search before this workload), instead of
    /// `rate`: issue 15 states latency "at half of saturation", a rate no profile can know
    /// before the run. Certify sets `rate` when the workload's turn comes
    /// ([`WorkloadSpec::resolve_rate_from_saturation`]).
    #[serde(default)]
    pub rate_saturation_share: Option<f64>,
    /// Transactions in flight (closed loop).
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default = "d_warmup")]
    pub warmup_s: f64,
    #[serde(default = "d_window")]
    pub window_s: f64,
    /// Sending accounts (transfer, erc20).
    #[serde(default = "d_accounts")]
    pub accounts: usize,
    /// Paying users (hf-account).
    #[serde(default = "d_users")]
    pub users: usize,
    /// Merchants (hf-account).
    #[serde(default = "d_merchants")]
    pub merchants: usize,
    /// Zipf exponent of the merchant choice (hf-account); 0 = uniform.
    #[serde(default = "d_zipf")]
    pub zipf_exponent: f64,
    /// Step the offered rate up from `rate` until committed TPS stops following.
    #[serde(default)]
    pub saturation: bool,
    /// Rate multiplier between saturation steps.
    #[serde(default = "d_step_factor")]
    pub saturation_step_factor: f64,
    /// Saturation steps at most.
    #[serde(default = "d_steps_max")]
    pub saturation_steps_max: usize,
    /// A step still "follows" while committed ≥ this fraction of offered.
    #[serde(default = "d_follow")]
    pub saturation_follow_ratio: f64,
    /// Highest TPS the closed loop pre-signs for; the window ends early if the node is faster.
    #[serde(default = "d_tps_max")]
    pub tps_max: f64,
    /// Transactions per JSON-RPC batch at most.
    #[serde(default = "d_batch")]
    pub batch_max: usize,
    /// Sender threads, one connection each.
    #[serde(default = "d_connections")]
    pub connections: usize,
    /// After the window, how long in-window transactions may take to commit.
    #[serde(default = "d_drain")]
    pub drain_s: f64,
    /// Overrides of the global thresholds for this workload (`min_tps` or `min_efficiency`,
    /// not both).
    #[serde(default)]
    pub min_tps: Option<f64>,
    #[serde(default)]
    pub min_efficiency: Option<f64>,
    #[serde(default)]
    pub max_latency_ms_p99: Option<f64>,
}

fn d_warmup() -> f64 {
    2.0
}
fn d_window() -> f64 {
    5.0
}
fn d_accounts() -> usize {
    2_000
}
fn d_users() -> usize {
    100_000
}
fn d_merchants() -> usize {
    10
}
fn d_zipf() -> f64 {
    1.0
}
fn d_step_factor() -> f64 {
    1.25
}
fn d_steps_max() -> usize {
    12
}
fn d_follow() -> f64 {
    0.9
}
fn d_tps_max() -> f64 {
    30_000.0
}
fn d_batch() -> usize {
    500
}
fn d_connections() -> usize {
    4
}
fn d_drain() -> f64 {
    10.0
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    /// Checked against closed-loop and saturation workloads (committed TPS, knee). With
    /// `min_efficiency` it is derived at run time ([`ThresholdSpec::resolve`]); the profile
    /// states one of the two.
    #[serde(default)]
    pub min_tps: f64,
    /// The same threshold as a share of the crypto bound: committed TPS × nodes ÷ (recoveries/s
    /// per core × cores), the report's efficiency. It holds a node to the same share of the
    /// hardware on machines of one kind whose per-core speed differs.
    #[serde(default)]
    pub min_efficiency: Option<f64>,
    /// Checked against open-loop workloads' p99 and used as the saturation latency limit.
    pub max_latency_ms_p99: f64,
}

impl ThresholdSpec {
    fn validate(&self) -> Result<(), String> {
        match self.min_efficiency {
            Some(_) if self.min_tps != 0.0 => {
                Err("[thresholds] states min_tps or min_efficiency, not both".into())
            }
            Some(e) => efficiency_ok(e).map_err(|m| format!("[thresholds] min_efficiency {m}")),
            None if !above(self.min_tps, 0.0) => {
                Err("[thresholds] needs min_tps > 0 or min_efficiency".into())
            }
            None => Ok(()),
        }
    }

    /// `min_tps` from `min_efficiency` where the profile states the latter; `full_tps` is the
    /// committed TPS at 100 % efficiency on this machine.
    pub fn resolve(&mut self, full_tps: f64) {
        if let Some(e) = self.min_efficiency {
            self.min_tps = e * full_tps;
        }
    }
}

/// Committed TPS at 100 % efficiency: every node recovers every sender once, and recovery
/// alone fills `cores` cores at `bound_per_core`. The efficiency thresholds and goals are shares
/// of it (the report's efficiency section uses the same formula).
pub fn full_efficiency_tps(bound_per_core: f64, cores: usize, nodes: usize) -> f64 {
    bound_per_core * cores as f64 / nodes.max(1) as f64
}

/// An efficiency is a share in (0, 1].
fn efficiency_ok(e: f64) -> Result<(), String> {
    if above(e, 0.0) && e <= 1.0 {
        Ok(())
    } else {
        Err(format!("{e} must lie in (0, 1]"))
    }
}

/// `[goal]`: the figure the profile aims at and where it comes from. A threshold may sit below
/// its goal (a shared host's noise); the report prints both and whether each was met.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalSpec {
    /// Committed TPS, compared where the global `min_tps` is (closed loops, saturation knees).
    #[serde(default)]
    pub tps: Option<f64>,
    /// The same goal as a share of the crypto bound (see [`ThresholdSpec::min_efficiency`]);
    /// `tps` is then derived at run time ([`GoalSpec::resolve`]).
    #[serde(default)]
    pub efficiency: Option<f64>,
    /// p99 latency, compared where the global `max_latency_ms_p99` is (open loops).
    #[serde(default)]
    pub latency_ms_p99: Option<f64>,
    /// The open-loop rate the latency goal is stated at; a workload at this `rate` must exist.
    #[serde(default)]
    pub latency_at_tps: Option<f64>,
    /// Instead of `latency_at_tps`: the latency goal is stated at this share of saturation; a
    /// workload with this `rate_saturation_share` must exist.
    #[serde(default)]
    pub latency_at_saturation_share: Option<f64>,
    /// The workload the goal is stated for; default every workload.
    #[serde(default)]
    pub workload: Option<String>,
    /// Where the goal comes from ("issue 3").
    pub source: String,
}

impl GoalSpec {
    /// `tps` from `efficiency` where the goal states the latter (see [`ThresholdSpec::resolve`]).
    pub fn resolve(&mut self, full_tps: f64) {
        if let Some(e) = self.efficiency {
            self.tps = Some(e * full_tps);
        }
    }

    fn validate(&self, workloads: &[WorkloadSpec]) -> Result<(), String> {
        if self.source.trim().is_empty() {
            return Err("[goal] needs a source (where the goal comes from)".into());
        }
        if self.tps.is_none() && self.efficiency.is_none() && self.latency_ms_p99.is_none() {
            return Err("[goal] needs tps, efficiency or latency_ms_p99".into());
        }
        if let Some(e) = self.efficiency {
            if self.tps.is_some() {
                return Err("[goal] states tps or efficiency, not both".into());
            }
            efficiency_ok(e).map_err(|m| format!("[goal] efficiency {m}"))?;
        }
        let figures = [self.tps, self.latency_ms_p99, self.latency_at_tps];
        if figures.iter().flatten().any(|&v| !above(v, 0.0)) {
            return Err("[goal] figures must be > 0".into());
        }
        let for_goal = |w: &&WorkloadSpec| self.workload.as_ref().is_none_or(|n| *n == w.name);
        if let Some(n) = &self.workload {
            if !workloads.iter().any(|w| w.name == *n) {
                return Err(format!(
                    "[goal] workload {n:?} is not among the [[workload]]s"
                ));
            }
        }
        if let Some(share) = self.latency_at_saturation_share {
            if self.latency_ms_p99.is_none() || self.latency_at_tps.is_some() {
                return Err(
                    "[goal] latency_at_saturation_share needs latency_ms_p99, and \
                            excludes latency_at_tps"
                        .into(),
                );
            }
            let runs_at = |w: &&WorkloadSpec| w.rate_saturation_share == Some(share);
            if !workloads.iter().filter(for_goal).any(|w| runs_at(&w)) {
                return Err(format!(
                    "[goal] latency_at_saturation_share = {share}: no workload runs at that \
                     rate_saturation_share"
                ));
            }
        }
        if let Some(rate) = self.latency_at_tps {
            if self.latency_ms_p99.is_none() {
                return Err("[goal] latency_at_tps needs latency_ms_p99".into());
            }
            let runs_at =
                |w: &&WorkloadSpec| w.mode == Mode::Open && !w.saturation && w.rate == Some(rate);
            if !workloads.iter().filter(for_goal).any(|w| runs_at(&w)) {
                return Err(format!(
                    "[goal] latency_at_tps = {rate}: no open-loop workload runs at that rate"
                ));
            }
        }
        Ok(())
    }
}

impl Profile {
    /// Reads and validates a profile; every problem is a [`UsageError`].
    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("cannot read profile {}: {e}", path.display())))?;
        let mut p = Profile::parse(&text)
            .map_err(|e| UsageError(format!("profile {}: {e}", path.display())))?;
        if p.name.is_empty() {
            p.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(p)
    }

    pub fn parse(text: &str) -> Result<Profile, String> {
        let mut p: Profile =
            toml::from_str(text).map_err(|e| e.message().to_string() + &span_hint(text, &e))?;
        p.node.apply_user_chains()?;
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), String> {
        crate::cluster::check_consensus(&self.node.consensus, self.node.nodes)?;
        crate::groups::check(self.node.groups, &self.node.consensus, false)
            .map_err(|e| format!("node.{e}"))?;
        crate::settlement::check(&self.node, false).map_err(|e| format!("node.{e}"))?;
        self.thresholds.validate()?;
        if self.workloads.is_empty() {
            return Err("no [[workload]] entries".into());
        }
        for (i, w) in self.workloads.iter().enumerate() {
            w.validate()?;
            crate::groups::check_workload(w, self.node.load_groups())?;
            if w.rate_saturation_share.is_some()
                && !self.workloads[..i].iter().any(|b| b.saturation)
            {
                return Err(format!(
                    "workload {} (number {}): rate_saturation_share needs a saturation search \
                     before it",
                    w.name,
                    i + 1
                ));
            }
        }
        if !self.node.user_chains_sweep.is_empty() && self.node.user_chains == 0 {
            return Err("node.user_chains_sweep needs node.user_chains".into());
        }
        for &u in &self.node.user_chains_sweep {
            if u == 0 {
                return Err("node.user_chains_sweep: every entry is 1 or more".into());
            }
            let node = self
                .node
                .with_user_chains(u, false)
                .map_err(|e| format!("node.user_chains_sweep {u}: {e}"))?;
            for w in self.workloads.iter().filter(|w| w.mode == Mode::Closed) {
                crate::groups::check_workload(w, node.load_groups())
                    .map_err(|e| format!("node.user_chains_sweep {u}: {e}"))?;
            }
        }
        if let Some(goal) = &self.goal {
            goal.validate(&self.workloads)?;
        }
        Ok(())
    }
}

impl WorkloadSpec {
    /// A spec with every default, for `loadgen run`.
    pub fn new(name: &str, mode: Mode) -> WorkloadSpec {
        WorkloadSpec {
            name: name.into(),
            mode,
            rate: None,
            rate_efficiency: None,
            rate_saturation_share: None,
            concurrency: None,
            warmup_s: d_warmup(),
            window_s: d_window(),
            accounts: d_accounts(),
            users: d_users(),
            merchants: d_merchants(),
            zipf_exponent: d_zipf(),
            saturation: false,
            saturation_step_factor: d_step_factor(),
            saturation_steps_max: d_steps_max(),
            saturation_follow_ratio: d_follow(),
            tps_max: d_tps_max(),
            batch_max: d_batch(),
            connections: d_connections(),
            drain_s: d_drain(),
            min_tps: None,
            min_efficiency: None,
            max_latency_ms_p99: None,
        }
    }

    /// `rate` from `rate_efficiency`, if the workload states it; `full_tps` as in
    /// [`ThresholdSpec::resolve`].
    pub fn resolve_rate(&mut self, full_tps: f64) {
        if let Some(e) = self.rate_efficiency {
            self.rate = Some(e * full_tps);
        }
    }

    /// `rate` from `rate_saturation_share` and the saturation the run measured before this
    /// workload ([`crate::results::saturation_tps`]); true if the workload states a
    /// share, and so needed it.
    pub fn resolve_rate_from_saturation(&mut self, saturation_tps: Option<f64>) -> bool {
        let Some(share) = self.rate_saturation_share else {
            return false;
        };
        self.rate = saturation_tps.map(|tps| share * tps);
        true
    }

    /// `min_tps` from this workload's `min_efficiency`, if it states one (see
    /// [`ThresholdSpec::resolve`]).
    pub fn resolve(&mut self, full_tps: f64) {
        if let Some(e) = self.min_efficiency {
            self.min_tps = Some(e * full_tps);
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        if !crate::workload::NAMES.contains(&n.as_str()) {
            return Err(format!(
                "unknown workload {n:?} (known: {})",
                crate::workload::NAMES.join(", ")
            ));
        }
        if let Some(share) = self.rate_saturation_share {
            if self.mode != Mode::Open || self.saturation {
                return Err(format!(
                    "workload {n}: rate_saturation_share is for mode \"open\" without saturation"
                ));
            }
            if self.rate.is_some() || self.rate_efficiency.is_some() {
                return Err(format!(
                    "workload {n}: rate_saturation_share, rate or rate_efficiency: one of them"
                ));
            }
            efficiency_ok(share).map_err(|m| format!("workload {n}: rate_saturation_share {m}"))?;
        }
        match (self.mode, self.rate_efficiency) {
            (Mode::Closed, Some(_)) => {
                return Err(format!(
                    "workload {n}: rate_efficiency is for mode \"open\""
                ))
            }
            (Mode::Open, Some(_)) if self.rate.is_some() => {
                return Err(format!("workload {n}: rate or rate_efficiency, not both"))
            }
            (Mode::Open, Some(e)) => {
                efficiency_ok(e).map_err(|m| format!("workload {n}: rate_efficiency {m}"))?
            }
            (Mode::Open, None)
                if !self.rate.is_some_and(|r| above(r, 0.0))
                    && self.rate_saturation_share.is_none() =>
            {
                return Err(format!(
                    "workload {n}: mode \"open\" needs rate > 0 (or rate_efficiency, or \
                     rate_saturation_share)"
                ))
            }
            (Mode::Closed, None) if self.concurrency.is_none_or(|c| c == 0) => {
                return Err(format!(
                    "workload {n}: mode \"closed\" needs concurrency > 0"
                ))
            }
            _ => {}
        }
        if self.saturation && (self.mode != Mode::Open || self.saturation_step_factor <= 1.0) {
            return Err(format!(
                "workload {n}: saturation needs mode \"open\" and saturation_step_factor > 1"
            ));
        }
        // Written so that NaN fails every check.
        if !above(self.window_s, 0.0)
            || !at_least(self.warmup_s, 0.0)
            || !at_least(self.drain_s, 0.0)
        {
            return Err(format!(
                "workload {n}: window_s must be > 0, warmup_s and drain_s ≥ 0"
            ));
        }
        if self.accounts < 2
            || self.users == 0
            || self.merchants == 0
            || self.batch_max == 0
            || self.connections == 0
        {
            return Err(format!(
                "workload {n}: accounts ≥ 2; users, merchants, batch_max, connections ≥ 1"
            ));
        }
        if !at_least(self.zipf_exponent, 0.0) || !above(self.tps_max, 0.0) {
            return Err(format!("workload {n}: zipf_exponent ≥ 0 and tps_max > 0"));
        }
        if let Some(e) = self.min_efficiency {
            if self.min_tps.is_some() {
                return Err(format!("workload {n}: min_tps or min_efficiency, not both"));
            }
            efficiency_ok(e).map_err(|m| format!("workload {n}: min_efficiency {m}"))?;
        }
        Ok(())
    }
}

fn above(x: f64, min: f64) -> bool {
    x.is_finite() && x > min
}

fn at_least(x: f64, min: f64) -> bool {
    x.is_finite() && x >= min
}

/// " (line L)" for a TOML error with a span.
fn span_hint(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => format!(
            " (line {})",
            text[..span.start.min(text.len())].lines().count().max(1)
        ),
        None => String::new(),
    }
}
