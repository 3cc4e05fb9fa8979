//! What `loadgen compare-anvil` measured (`compare.json`) and its markdown (`compare.md`):
//! committed TPS of each target per run, the medians, and each bcos target's ratio over
//! anvil against issue 15's goals.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The results file inside the report directory.
pub const JSON_FILE: &str = "compare.json";
/// The markdown file inside the report directory.
pub const MD_FILE: &str = "compare.md";
/// Key of the anvil target, the denominator of every ratio.
pub const ANVIL: &str = "anvil";
/// Key of the single embedded bcos node.
pub const BCOS_SOLO: &str = "bcos-solo";
/// Key of the embedded 4-node PBFT cluster.
pub const BCOS_PBFT4: &str = "bcos-pbft4";

/// anvil's default block gas limit.
pub const ANVIL_DEFAULT_GAS_LIMIT: u64 = 30_000_000;
/// Gas of one transfer.
const TRANSFER_GAS: u64 = 21_000;

/// Issue 15's goals: bcos committed TPS over anvil's, per bcos target.
pub const GOALS: [(&str, f64); 2] = [(BCOS_SOLO, 30.0), (BCOS_PBFT4, 10.0)];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareResults {
    /// The working tree's commit ("-dirty" with uncommitted changes).
    pub commit: String,
    pub date_utc: String,
    pub machine: Machine,
    /// anvil's `web3_clientVersion` ("anvil/v1.7.1").
    pub anvil: String,
    /// anvil's `--block-time` (s) and `--gas-limit`.
    pub anvil_block_time_s: u64,
    pub anvil_gas_limit: u64,
    /// The bcos binary the embedded nodes ran.
    pub bcos_bin: String,
    pub workload: Workload,
    /// Runs per target; the medians are compared.
    pub runs: usize,
    /// The command that produced this report.
    pub command: String,
    pub targets: Vec<TargetResult>,
    pub ratios: Vec<Ratio>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
}

/// The closed-loop transfer workload every target ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub concurrency: usize,
    pub accounts: usize,
    pub warmup_s: f64,
    pub window_s: f64,
    pub tps_max: f64,
    pub batch_max: usize,
    pub connections: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// [`ANVIL`], [`BCOS_SOLO`] or [`BCOS_PBFT4`].
    pub key: String,
    /// How the node ran, for the table ("anvil 1.7.1 --block-time 1").
    pub label: String,
    /// Commands that reproduce one run by hand.
    pub commands: Vec<String>,
    pub runs: Vec<RunFigure>,
    pub median_committed_tps: f64,
    pub median_p99_ms: f64,
}

/// One run of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigure {
    pub committed_tps: f64,
    pub submitted: u64,
    pub committed: u64,
    pub errors: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// CPU of the node processes over the window, in cores (summed over nodes); None when
    /// not sampled.
    pub node_cpu_cores: Option<f64>,
}

/// A bcos target's median committed TPS over anvil's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub target: String,
    /// None when anvil committed nothing.
    pub value: Option<f64>,
    /// Issue 15's goal for this target, if it states one.
    pub goal: Option<f64>,
    pub goal_met: Option<bool>,
}

/// The median (mean of the middle two for an even count); 0 for none. NaNs sort last.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// `num / den`; None unless `den` is positive and both are finite.
pub fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0 && num.is_finite() && den.is_finite()).then(|| num / den)
}

/// Issue 15's goal for target `key`.
pub fn goal_for(key: &str) -> Option<f64> {
    GOALS.iter().find(|(k, _)| *k == key).map(|&(_, g)| g)
}

impl TargetResult {
    /// A target's result from its runs, with the medians.
    pub fn new(key: &str, label: String, commands: Vec<String>, runs: Vec<RunFigure>) -> Self {
        let tps: Vec<f64> = runs.iter().map(|r| r.committed_tps).collect();
        let p99: Vec<f64> = runs.iter().map(|r| r.latency_p99_ms).collect();
        TargetResult {
            key: key.to_string(),
            label,
            commands,
            median_committed_tps: median(&tps),
            median_p99_ms: median(&p99),
            runs,
        }
    }
}

/// Every non-anvil target's median over anvil's, with its goal. Empty without anvil.
pub fn ratios(targets: &[TargetResult]) -> Vec<Ratio> {
    let Some(anvil) = targets.iter().find(|t| t.key == ANVIL) else {
        return Vec::new();
    };
    targets
        .iter()
        .filter(|t| t.key != ANVIL)
        .map(|t| {
            let value = ratio(t.median_committed_tps, anvil.median_committed_tps);
            let goal = goal_for(&t.key);
            Ratio {
                target: t.key.clone(),
                value,
                goal,
                goal_met: goal.zip(value).map(|(g, v)| v >= g),
            }
        })
        .collect()
}

/// `anvil-compare-<YYYY-MM-DD>-<short sha>`, safe as one path component.
pub fn dir_name(r: &CompareResults) -> String {
    let date = r
        .date_utc
        .get(..10)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .unwrap_or("undated");
    let sha: String = r
        .commit
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(7)
        .collect();
    let sha = if sha.is_empty() { "unknown" } else { &sha };
    format!("anvil-compare-{date}-{sha}")
}

/// Writes `compare.json` and `compare.md` into `dir` (created); returns the markdown's path.
pub fn write(dir: &Path, r: &CompareResults) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(JSON_FILE), serde_json::to_string_pretty(r)? + "\n")
        .with_context(|| format!("writing {}", dir.join(JSON_FILE).display()))?;
    let md = dir.join(MD_FILE);
    std::fs::write(&md, render_markdown(r)).with_context(|| format!("writing {}", md.display()))?;
    Ok(md)
}

/// A whole number with thousands separators ("12,345"); "n/a" when not finite.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v.round() < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A ratio as "31.2×" (three significant digits below 10); "n/a" without one.
pub fn times(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v < 10.0 => format!("{v:.2}×"),
        Some(v) if v.is_finite() => format!("{v:.1}×"),
        _ => "n/a".into(),
    }
}

fn label_of<'a>(r: &'a CompareResults, key: &'a str) -> &'a str {
    r.targets
        .iter()
        .find(|t| t.key == key)
        .map_or(key, |t| t.label.as_str())
}

/// One line per ratio for the console: "bcos-solo / anvil: 31.2× (goal ≥ 30×: met)".
pub fn ratio_lines(r: &CompareResults) -> Vec<String> {
    r.ratios
        .iter()
        .map(|q| {
            let goal = match (q.goal, q.goal_met) {
                (Some(g), Some(met)) => {
                    format!(
                        " (issue 15 goal ≥ {g:.0}×: {})",
                        if met { "met" } else { "not met" }
                    )
                }
                (Some(g), None) => format!(" (issue 15 goal ≥ {g:.0}×)"),
                _ => String::new(),
            };
            format!("{} / {ANVIL}: {}{goal}", q.target, times(q.value))
        })
        .collect()
}

/// The report: what ran where, the table of targets, the ratios, the commands.
pub fn render_markdown(r: &CompareResults) -> String {
    let w = &r.workload;
    let m = &r.machine;
    let mut s = String::new();
    s.push_str("# bcos vs anvil: committed transfer TPS\n\n");
    s.push_str(&format!(
        "Commit `{}`, {}, on {} cores ({}, {:.1} GiB, {} {}). anvil: `{}`; bcos: `{}`.\n\n",
        r.commit,
        r.date_utc,
        m.cores,
        m.cpu_model,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        m.os,
        m.kernel,
        r.anvil,
        r.bcos_bin
    ));
    let runs = if r.runs == 1 {
        "one run per target".to_string()
    } else {
        format!("median of {} runs per target, run in turn", r.runs)
    };
    s.push_str(&format!(
        "The same closed-loop workload against each target, over the same JSON-RPC client: \
         pre-signed EIP-1559 transfers among {} accounts, {} in flight, sent as \
         `eth_sendRawTransaction` batches of up to {} over {} connections; commits tracked from \
         `eth_getBlockByNumber`; {} s warm-up, then a {} s window; {runs}. Each run starts a \
         fresh node.\n\n",
        thousands(w.accounts as f64),
        thousands(w.concurrency as f64),
        w.batch_max,
        w.connections,
        w.warmup_s,
        w.window_s
    ));
    let per_s = |gas: u64| gas / TRANSFER_GAS / r.anvil_block_time_s.max(1);
    s.push_str(&format!(
        "anvil runs with a block gas limit of {} gas: at most {} transfers a block, {} tx/s \
         (its default of {} caps it at {} tx/s with {} s blocks).\n\n",
        thousands(r.anvil_gas_limit as f64),
        thousands((r.anvil_gas_limit / TRANSFER_GAS) as f64),
        thousands(per_s(r.anvil_gas_limit) as f64),
        thousands(ANVIL_DEFAULT_GAS_LIMIT as f64),
        thousands(per_s(ANVIL_DEFAULT_GAS_LIMIT) as f64),
        r.anvil_block_time_s
    ));
    s.push_str(
        "| target | committed TPS (median) | each run | p99 latency ms (median) | node CPU (cores) |\n\
         |---|---:|---|---:|---|\n",
    );
    for t in &r.targets {
        let each: Vec<String> = t.runs.iter().map(|f| thousands(f.committed_tps)).collect();
        let cpu: Vec<String> = t
            .runs
            .iter()
            .map(|f| f.node_cpu_cores.map_or("n/a".into(), |c| format!("{c:.2}")))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            t.label.replace('|', "\\|"),
            thousands(t.median_committed_tps),
            each.join(" / "),
            thousands(t.median_p99_ms),
            cpu.join(" / ")
        ));
    }
    if !r.ratios.is_empty() {
        s.push_str("\n| ratio | measured | issue 15 goal | met |\n|---|---:|---:|---|\n");
        for q in &r.ratios {
            s.push_str(&format!(
                "| {} / {} | {} | {} | {} |\n",
                label_of(r, &q.target).replace('|', "\\|"),
                label_of(r, ANVIL).replace('|', "\\|"),
                times(q.value),
                q.goal.map_or("-".into(), |g| format!("≥ {g:.0}×")),
                match q.goal_met {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            ));
        }
    }
    s.push_str(&format!(
        "\nThe load generator runs on the same {} cores as the node(s) it measures, so every \
         figure is a lower bound of what the node alone could do; on a shared host (other \
         builds running) figures vary by 10-20 % or more from run to run — compare medians of \
         several runs (`--runs 3`).\n",
        m.cores
    ));
    s.push_str("\n## Commands\n\n```sh\n");
    s.push_str(&format!("{}\n", r.command));
    s.push_str("```\n\nOne run of each target by hand:\n\n```sh\n");
    for t in &r.targets {
        s.push_str(&format!("# {}\n", t.label));
        for c in &t.commands {
            s.push_str(&format!("{c}\n"));
        }
    }
    s.push_str("```\n");
    s
}
