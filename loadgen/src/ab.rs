//! `loadgen ab`: one workload against two variants of embedded bcos nodes, A and B (another
//! binary, another node config, or both), in interleaved rounds on the same machine. Each
//! run starts fresh nodes; the order alternates (a b, b a, a b, …), so a drift in the host's
//! speed falls on both sides. Prints every run, each round's B/A ratio of committed TPS, and
//! their median: a ratio measured side by side, which carries across hosts whose absolute
//! speed differs (one lever at a time, issue 15: "measure each; keep what pays").

use crate::compare::report::{median, RunFigure};
use crate::compare::{figure, read_settings, shell_line, ClosedLoopArgs};
use crate::error::usage;
use crate::profile::NodeSpec;
use crate::progress::note;
use crate::runner;
use crate::target::{find_bcos_bin, EmbeddedOptions, Target};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct AbArgs {
    /// A's bcos binary (default: as `run --bcos-bin`).
    #[arg(long)]
    pub bin_a: Option<PathBuf>,
    /// B's bcos binary (default: A's).
    #[arg(long)]
    pub bin_b: Option<PathBuf>,
    /// A's node config TOML (as `run --node-config`; default: none).
    #[arg(long)]
    pub config_a: Option<PathBuf>,
    /// B's node config TOML (default: none).
    #[arg(long)]
    pub config_b: Option<PathBuf>,
    /// Rounds; each runs A once and B once.
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
    /// transfer, hf-account or erc20 (closed loop).
    #[arg(long, default_value = "transfer")]
    pub workload: String,
    /// Embedded nodes: 1 for solo, N for a PBFT cluster.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    #[arg(long, default_value = "solo")]
    pub consensus: String,
    #[command(flatten)]
    pub load: ClosedLoopArgs,
    /// Also write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Side {
    A,
    B,
}

/// The sides in the order they run: a b, b a, a b, …
pub fn order(rounds: usize) -> Vec<[Side; 2]> {
    (0..rounds)
        .map(|r| {
            if r % 2 == 0 {
                [Side::A, Side::B]
            } else {
                [Side::B, Side::A]
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub a: RunFigure,
    pub b: RunFigure,
    /// B's committed TPS over A's; None when A committed nothing.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AbSummary {
    pub command: String,
    pub commit: String,
    pub cores: usize,
    pub a: String,
    pub b: String,
    pub rounds: Vec<Round>,
    /// Median of the rounds' ratios (None if no round had one).
    pub median_ratio: Option<f64>,
    pub median_tps_a: f64,
    pub median_tps_b: f64,
}

impl Round {
    pub fn new(a: RunFigure, b: RunFigure) -> Self {
        let ratio = (a.committed_tps > 0.0).then(|| b.committed_tps / a.committed_tps);
        Round { a, b, ratio }
    }
}

/// The medians of `rounds`.
pub fn summarize(rounds: &[Round]) -> (Option<f64>, f64, f64) {
    let ratios: Vec<f64> = rounds.iter().filter_map(|r| r.ratio).collect();
    let tps = |f: fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    (
        (!ratios.is_empty()).then(|| median(&ratios)),
        tps(|r| r.a.committed_tps),
        tps(|r| r.b.committed_tps),
    )
}

struct Variant {
    bin: PathBuf,
    settings: toml::Table,
    label: String,
}

fn variant(bin: PathBuf, config: Option<&Path>) -> anyhow::Result<Variant> {
    let settings = match config {
        Some(p) => read_settings(p)?,
        None => toml::Table::new(),
    };
    let label = match config {
        Some(p) => format!("{} with {}", bin.display(), p.display()),
        None => format!("{} (default config)", bin.display()),
    };
    Ok(Variant {
        bin,
        settings,
        label,
    })
}

/// Runs the rounds; `argv` is the command line, recorded in the summary.
pub fn run(a: &AbArgs, argv: &[String]) -> anyhow::Result<AbSummary> {
    if a.rounds == 0 {
        return usage("--rounds must be at least 1");
    }
    let spec = a.load.spec(&a.workload);
    if let Err(e) = spec.validate() {
        return usage(e);
    }
    let bin_a = find_bcos_bin(a.bin_a.as_deref())?;
    let bin_b = match &a.bin_b {
        Some(b) => find_bcos_bin(Some(b))?,
        None => bin_a.clone(),
    };
    if bin_a == bin_b && a.config_a == a.config_b {
        return usage("A and B are the same: give --bin-b or a --config-b that differs");
    }
    let va = variant(bin_a, a.config_a.as_deref())?;
    let vb = variant(bin_b, a.config_b.as_deref())?;
    let one = |v: &Variant| -> anyhow::Result<RunFigure> {
        let mut node = NodeSpec::new(a.nodes, &a.consensus);
        node.settings = v.settings.clone();
        let target = Target::embedded(
            &node,
            &EmbeddedOptions {
                bin: Some(v.bin.clone()),
                flame_dir: None,
            },
        )?;
        let r = runner::run_workload(&target, &spec, 0.0)?;
        target.stop()?;
        Ok(figure(&r))
    };
    let mut rounds = Vec::with_capacity(a.rounds);
    for (i, sides) in order(a.rounds).into_iter().enumerate() {
        let (mut fa, mut fb) = (None, None);
        for side in sides {
            let (v, slot) = match side {
                Side::A => (&va, &mut fa),
                Side::B => (&vb, &mut fb),
            };
            let f = one(v)?;
            note(&format!(
                "ab: round {}/{} {side:?}: {:.0} tx/s committed, p99 {:.1} ms",
                i + 1,
                a.rounds,
                f.committed_tps,
                f.latency_p99_ms
            ));
            *slot = Some(f);
        }
        let (Some(fa), Some(fb)) = (fa, fb) else {
            unreachable!("every round runs both sides");
        };
        let round = Round::new(fa, fb);
        println!(
            "round {}: A {:.0} tx/s, B {:.0} tx/s, B/A {}",
            i + 1,
            round.a.committed_tps,
            round.b.committed_tps,
            round.ratio.map_or("-".into(), |r| format!("{r:.3}"))
        );
        rounds.push(round);
    }
    let (median_ratio, median_tps_a, median_tps_b) = summarize(&rounds);
    let m = crate::machine::detect();
    Ok(AbSummary {
        command: shell_line(argv),
        commit: crate::machine::git_commit(),
        cores: m.cores,
        a: va.label,
        b: vb.label,
        rounds,
        median_ratio,
        median_tps_a,
        median_tps_b,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;

    fn fig(tps: f64) -> RunFigure {
        RunFigure {
            committed_tps: tps,
            submitted: 0,
            committed: 0,
            errors: 0,
            latency_p50_ms: 0.0,
            latency_p99_ms: 0.0,
            node_cpu_cores: None,
        }
    }

    #[test]
    fn sides_alternate_so_drift_falls_on_both() {
        assert_eq!(
            order(4),
            vec![
                [Side::A, Side::B],
                [Side::B, Side::A],
                [Side::A, Side::B],
                [Side::B, Side::A]
            ]
        );
        assert!(order(0).is_empty());
    }

    #[test]
    fn the_summary_is_the_median_of_the_rounds_ratios() {
        let rounds = vec![
            Round::new(fig(100.0), fig(110.0)),
            Round::new(fig(200.0), fig(180.0)),
            Round::new(fig(100.0), fig(120.0)),
            Round::new(fig(0.0), fig(50.0)),
        ];
        assert_eq!(rounds[3].ratio, None);
        let (ratio, a, b) = summarize(&rounds);
        // Ratios 1.1, 0.9, 1.2 (the round where A committed nothing has none).
        assert!((ratio.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!((a, b), (100.0, 115.0));
        assert_eq!(summarize(&[]).0, None);
    }
}
