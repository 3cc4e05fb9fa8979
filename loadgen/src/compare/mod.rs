//! `loadgen compare-anvil` (issue 15): the same closed-loop transfer workload, through the
//! same JSON-RPC client, against anvil (`--block-time 1`, the popular dev node) and against
//! embedded bcos — one `bcos dev` node and, with `--cluster`, a 4-node PBFT cluster — on the
//! same machine; prints each target's committed TPS and bcos/anvil, and writes
//! `compare.json` and `compare.md` ([`report`]). Each run starts a fresh node; with
//! `--runs N` the targets take turns N times and the medians are compared.
//!
//! anvil is an ordinary `--url` target: loadgen detects that it has no `bcos_*` methods
//! ([`crate::node_info::NodeKind`]), records no stage metrics and tracks commits from its
//! blocks as for any node; its dev accounts are the same test mnemonic's, so funding works
//! unchanged.

pub mod anvil;
pub mod report;
#[cfg(test)]
mod tests;

use crate::error::{usage, UsageError};
use crate::profile::{Mode, NodeSpec, WorkloadSpec};
use crate::progress::note;
use crate::results::WorkloadResult;
use crate::runner;
use crate::target::{EmbeddedOptions, Target};
use anvil::{Anvil, AnvilOptions};
use report::{CompareResults, RunFigure, TargetResult, ANVIL, BCOS_PBFT4, BCOS_SOLO};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Runs per target (taking turns); the medians are compared.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Also measure a 4-node PBFT cluster of embedded bcos nodes (`run --nodes 4 --consensus
    /// pbft`).
    #[arg(long)]
    pub cluster: bool,
    /// Report directory (default reports/anvil-compare-<date>-<commit>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The anvil binary (default: env ANVIL_BIN, else the one under --anvil-dir, installed
    /// there with npm when missing).
    #[arg(long)]
    pub anvil_bin: Option<PathBuf>,
    /// Where anvil is installed with `npm install --prefix` (default
    /// ~/.cache/bcos-loadgen/anvil-<version>).
    #[arg(long)]
    pub anvil_dir: Option<PathBuf>,
    /// anvil's --block-time, in seconds.
    #[arg(long, default_value_t = 1)]
    pub block_time: u64,
    /// anvil's --gas-limit (default: room for about 476 k transfers a block).
    #[arg(long, default_value_t = anvil::GAS_LIMIT)]
    pub anvil_gas_limit: u64,
    /// The bcos binary for the embedded nodes.
    #[arg(long)]
    pub bcos_bin: Option<PathBuf>,
    /// Node config TOML for the embedded bcos nodes (as `run --node-config`).
    #[arg(long)]
    pub node_config: Option<PathBuf>,
    /// The measured window must hold several of anvil's blocks.
    #[command(flatten)]
    pub load: ClosedLoopArgs,
}

/// The closed-loop workload flags `compare-anvil` and `ab` share.
#[derive(Debug, Clone, clap::Args)]
pub struct ClosedLoopArgs {
    /// Transactions in flight.
    #[arg(long, default_value_t = 10_000)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 2_000)]
    pub accounts: usize,
    #[arg(long, default_value_t = 3.0)]
    pub warmup_s: f64,
    #[arg(long, default_value_t = 10.0)]
    pub window_s: f64,
    /// Highest TPS the closed loop pre-signs for.
    #[arg(long, default_value_t = 25_000.0)]
    pub tps_max: f64,
    #[arg(long)]
    pub batch_max: Option<usize>,
    #[arg(long)]
    pub connections: Option<usize>,
}

impl ClosedLoopArgs {
    /// The closed-loop spec of `workload` with these flags (not validated).
    pub fn spec(&self, workload: &str) -> WorkloadSpec {
        let mut spec = WorkloadSpec::new(workload, Mode::Closed);
        spec.concurrency = Some(self.concurrency);
        spec.accounts = self.accounts;
        spec.warmup_s = self.warmup_s;
        spec.window_s = self.window_s;
        spec.tps_max = self.tps_max;
        if let Some(b) = self.batch_max {
            spec.batch_max = b;
        }
        if let Some(c) = self.connections {
            spec.connections = c;
        }
        spec
    }
}

/// anvil's port in the commands that reproduce a run by hand.
pub const HAND_PORT: u16 = 8545;

/// The targets in the order each run measures them.
pub fn target_keys(cluster: bool) -> Vec<&'static str> {
    let mut keys = vec![ANVIL, BCOS_SOLO];
    if cluster {
        keys.push(BCOS_PBFT4);
    }
    keys
}

/// The workload every target runs.
pub fn workload_spec(a: &CompareArgs) -> WorkloadSpec {
    a.load.spec("transfer")
}

/// The `loadgen run` flags of the workload (without the target's).
pub fn run_flags(spec: &WorkloadSpec) -> String {
    format!(
        "--workload transfer --concurrency {} --accounts {} --warmup-s {} --window-s {} --tps-max {} --batch-max {} --connections {}",
        spec.concurrency.unwrap_or(1),
        spec.accounts,
        spec.warmup_s,
        spec.window_s,
        spec.tps_max,
        spec.batch_max,
        spec.connections
    )
}

/// Commands that reproduce one run of target `key` by hand (`port`: anvil's).
pub fn commands(key: &str, spec: &WorkloadSpec, o: &AnvilOptions, port: u16) -> Vec<String> {
    let flags = run_flags(spec);
    match key {
        ANVIL => vec![
            format!("anvil {} &", anvil::args(port, o).join(" ")),
            format!("loadgen run --url http://127.0.0.1:{port} {flags}"),
        ],
        BCOS_PBFT4 => vec![format!("loadgen run {flags} --nodes 4 --consensus pbft")],
        _ => vec![format!("loadgen run {flags}")],
    }
}

/// A shell-quoted command line from its words.
pub fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One run's figures from what the runner measured.
pub fn figure(r: &WorkloadResult) -> RunFigure {
    RunFigure {
        committed_tps: r.committed_tps,
        submitted: r.submitted,
        committed: r.committed,
        errors: r.errors,
        latency_p50_ms: r.latency_ms.p50,
        latency_p99_ms: r.latency_ms.p99,
        node_cpu_cores: (!r.node_usage.is_empty())
            .then(|| r.node_usage.iter().map(|u| u.cpu_cores).sum()),
    }
}

/// Runs the comparison; returns the report and the path of its markdown. `argv` is the
/// command line, recorded in the report.
pub fn run(a: &CompareArgs, argv: &[String]) -> anyhow::Result<(CompareResults, PathBuf)> {
    if a.runs == 0 {
        return usage("--runs must be at least 1");
    }
    if a.block_time == 0 {
        return usage(
            "--block-time must be at least 1 s (0 makes anvil mine on every transaction)",
        );
    }
    let spec = workload_spec(a);
    if let Err(e) = spec.validate() {
        return usage(e);
    }
    let settings = match &a.node_config {
        Some(p) => read_settings(p)?,
        None => toml::Table::new(),
    };
    let anvil_bin = anvil::resolve(
        a.anvil_bin.as_deref(),
        &a.anvil_dir.clone().unwrap_or_else(anvil::default_dir),
    )?;
    let bcos_bin = crate::target::find_bcos_bin(a.bcos_bin.as_deref())?;
    let o = AnvilOptions {
        block_time_s: a.block_time,
        gas_limit: a.anvil_gas_limit,
    };
    let keys = target_keys(a.cluster);
    let m = crate::machine::detect();
    let commit = crate::machine::git_commit();
    let date_utc = crate::machine::date_utc(std::time::SystemTime::now());
    note(&format!(
        "compare-anvil: {} on {} cores, commit {commit}; anvil {}, bcos {}",
        keys.join(", "),
        m.cores,
        anvil_bin.display(),
        bcos_bin.display()
    ));
    let mut figures: Vec<Vec<RunFigure>> = vec![Vec::new(); keys.len()];
    let mut anvil_client = anvil::version(&anvil_bin);
    for run in 0..a.runs {
        for (k, key) in keys.iter().enumerate() {
            note(&format!("compare-anvil: run {}/{}: {key}", run + 1, a.runs));
            let r = match *key {
                ANVIL => {
                    let node = Anvil::start(&anvil_bin, &o)?;
                    let mut target = Target::remote(std::slice::from_ref(&node.url), 1, 0)?;
                    if let crate::node_info::NodeKind::Foreign { client } = target.kind() {
                        anvil_client = client.clone();
                    }
                    target.watch_process(node.pid());
                    let r = runner::run_workload(&target, &spec, 0.0).map_err(|e| {
                        e.context(format!("anvil's log tail:\n{}", node.log_tail()))
                    })?;
                    target.stop()?;
                    node.stop();
                    r
                }
                key => {
                    let mut node = NodeSpec::new(1, "solo");
                    if key == BCOS_PBFT4 {
                        node = NodeSpec::new(4, "pbft");
                    }
                    node.settings = settings.clone();
                    let target = Target::embedded(
                        &node,
                        &EmbeddedOptions {
                            bin: Some(bcos_bin.clone()),
                            flame_dir: None,
                        },
                    )?;
                    let r = runner::run_workload(&target, &spec, 0.0)?;
                    target.stop()?;
                    r
                }
            };
            note(&format!(
                "compare-anvil: run {}/{}: {key}: {}",
                run + 1,
                a.runs,
                crate::certify::one_line(&r)
            ));
            figures[k].push(figure(&r));
        }
    }
    let labels = |key: &str| match key {
        ANVIL => format!(
            "{anvil_client} --block-time {} --gas-limit {}",
            a.block_time, a.anvil_gas_limit
        ),
        BCOS_PBFT4 => "bcos, 4-node PBFT cluster".to_string(),
        _ => "bcos, single node (`bcos dev`)".to_string(),
    };
    let targets: Vec<TargetResult> = keys
        .iter()
        .zip(figures)
        .map(|(key, runs)| {
            TargetResult::new(key, labels(key), commands(key, &spec, &o, HAND_PORT), runs)
        })
        .collect();
    let results = CompareResults {
        commit,
        date_utc,
        machine: report::Machine {
            cpu_model: m.cpu_model,
            cores: m.cores,
            memory_bytes: m.memory_bytes,
            kernel: m.kernel,
            os: m.os,
        },
        anvil: anvil_client,
        anvil_block_time_s: a.block_time,
        anvil_gas_limit: a.anvil_gas_limit,
        bcos_bin: bcos_bin.display().to_string(),
        workload: report::Workload {
            concurrency: a.load.concurrency,
            accounts: spec.accounts,
            warmup_s: spec.warmup_s,
            window_s: spec.window_s,
            tps_max: spec.tps_max,
            batch_max: spec.batch_max,
            connections: spec.connections,
        },
        runs: a.runs,
        command: shell_line(argv),
        ratios: report::ratios(&targets),
        targets,
    };
    let dir = match &a.out {
        Some(d) => d.clone(),
        None => Path::new("reports").join(report::dir_name(&results)),
    };
    let md = report::write(&dir, &results)?;
    Ok((results, md))
}

/// A node config TOML, as `run --node-config` reads it.
pub fn read_settings(p: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", p.display())))?;
    Ok(toml::from_str::<toml::Table>(&text)
        .map_err(|e| UsageError(format!("{}: {}", p.display(), e.message())))?)
}

/// Sets one node setting given on the command line, `sealer.pipelined_commit=false`: a
/// dotted key (tables made where missing) and a TOML value (strings quoted). It replaces
/// what a config file gave for that key.
pub fn apply_setting(table: &mut toml::Table, assignment: &str) -> anyhow::Result<()> {
    let bad = |why: &str| UsageError(format!("setting `{assignment}`: {why}"));
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE"))?;
    let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if path.iter().any(|k| k.is_empty()) {
        return Err(bad("the key is empty or has an empty part").into());
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .ok_or_else(|| bad("the value is not a TOML value (quote strings: key=\"text\")"))?;
    let (last, parents) = path.split_last().ok_or_else(|| bad("expected KEY=VALUE"))?;
    let mut at = table;
    for (i, k) in parents.iter().enumerate() {
        let entry = at
            .entry(k.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{}` is not a table", path[..=i].join("."))))?;
    }
    at.insert(last.to_string(), value);
    Ok(())
}
