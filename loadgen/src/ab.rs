//! `loadgen ab`: one workload against two variants of embedded bcos nodes, A and B (another
//! binary, another node config, or both), in interleaved rounds on the same machine. Each
//! run starts fresh nodes; the order alternates (a b, b a, a b, …), so a drift in the host's
//! speed falls on both sides. Prints every run, each round's B/A ratio of committed TPS, and
//! their median: a ratio measured side by side, which carries across hosts whose absolute
//! speed differs (one lever at a time, issue 15: "measure each; keep what pays").

use crate::compare::report::{median, RunFigure};
use crate::compare::{apply_setting, figure, read_settings, shell_line, ClosedLoopArgs};
use crate::error::usage;
use crate::profile::{NodeSpec, Profile};
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
    /// A hardware profile whose `[node]` (nodes, consensus, settings) both sides start
    /// from; --set-a/--set-b change its settings. Not with --config-a/-b, --nodes or
    /// --consensus.
    #[arg(long, conflicts_with_all = ["config_a", "config_b", "nodes", "consensus"])]
    pub profile: Option<PathBuf>,
    /// One of A's node settings, over its config file: `sealer.pipelined_commit=false`
    /// (a dotted key and a TOML value; repeat for more).
    #[arg(long = "set-a", value_name = "KEY=VALUE")]
    pub set_a: Vec<String>,
    /// One of B's node settings, as --set-a.
    #[arg(long = "set-b", value_name = "KEY=VALUE")]
    pub set_b: Vec<String>,
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
    node: NodeSpec,
    label: String,
}

/// `base` with the settings of `config` (when given, in place of the base's) and `set` over
/// them; `base_label` names where the base came from.
fn variant(
    bin: PathBuf,
    base: &NodeSpec,
    base_label: &str,
    config: Option<&Path>,
    set: &[String],
) -> anyhow::Result<Variant> {
    let mut node = base.clone();
    let mut label = format!("{} with {base_label}", bin.display());
    if let Some(p) = config {
        node.settings = read_settings(p)?;
        label = format!("{} with {}", bin.display(), p.display());
    }
    for s in set {
        apply_setting(&mut node.settings, s)?;
    }
    if !set.is_empty() {
        label = format!("{label}, {}", set.join(", "));
    }
    Ok(Variant { bin, node, label })
}

/// Both sides' starting point: the profile's node, or `--nodes`/`--consensus` with the
/// node's default config.
fn base_node(a: &AbArgs) -> anyhow::Result<(NodeSpec, String)> {
    let Some(p) = &a.profile else {
        return Ok((
            NodeSpec::new(a.nodes, &a.consensus),
            "the default config".into(),
        ));
    };
    let node = Profile::load(p)?.node;
    if node.groups > 1 || node.user_chains > 0 {
        return usage(format!(
            "{}: ab runs one group without relays; this profile's node has {} groups and {} user chains",
            p.display(),
            node.groups,
            node.user_chains
        ));
    }
    Ok((node, format!("{}'s node settings", p.display())))
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
    let (base, base_label) = base_node(a)?;
    let va = variant(bin_a, &base, &base_label, a.config_a.as_deref(), &a.set_a)?;
    let vb = variant(bin_b, &base, &base_label, a.config_b.as_deref(), &a.set_b)?;
    if va.bin == vb.bin && va.node.settings == vb.node.settings {
        return usage(
            "A and B are the same: give --bin-b, or a --config-b or --set-b that differs",
        );
    }
    let one = |v: &Variant| -> anyhow::Result<RunFigure> {
        let target = Target::embedded(
            &v.node,
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

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        ab: AbArgs,
    }

    fn args(argv: &[&str]) -> Result<AbArgs, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("ab").chain(argv.iter().copied())).map(|c| c.ab)
    }

    fn profile(name: &str) -> String {
        format!("{}/../hardware-profiles/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn both_sides_start_from_the_profile_and_differ_by_their_settings() {
        let a = args(&[
            "--profile",
            &profile("commodity-16core.toml"),
            "--set-a",
            "sealer.pipelined_commit=false",
            "--set-b",
            "sealer.pipelined_commit=true",
        ])
        .unwrap();
        let (base, base_label) = base_node(&a).unwrap();
        assert_eq!((base.nodes, base.consensus.as_str()), (1, "solo"));
        let bin = PathBuf::from("/x/bcos");
        let va = variant(bin.clone(), &base, &base_label, None, &a.set_a).unwrap();
        let vb = variant(bin, &base, &base_label, None, &a.set_b).unwrap();
        let sealer = |v: &Variant| v.node.settings["sealer"].as_table().unwrap().clone();
        assert_eq!(sealer(&va)["pipelined_commit"].as_bool(), Some(false));
        assert_eq!(sealer(&vb)["pipelined_commit"].as_bool(), Some(true));
        // The profile's other settings are on both sides.
        for v in [&va, &vb] {
            assert_eq!(sealer(v)["block_txs_max"].as_integer(), Some(20_000));
            assert_eq!(
                v.node.settings["storage"]["io_backend"].as_str(),
                Some("io_uring")
            );
        }
        assert!(
            va.label.ends_with("sealer.pipelined_commit=false"),
            "{}",
            va.label
        );
        assert!(va.label.contains("commodity-16core.toml"), "{}", va.label);
    }

    #[test]
    fn a_profile_excludes_other_node_flags_and_relays() {
        let p = profile("commodity-16core.toml");
        for other in [
            ["--nodes", "4"],
            ["--consensus", "pbft"],
            ["--config-a", "a.toml"],
            ["--config-b", "b.toml"],
        ] {
            assert!(
                args(&["--profile", &p, other[0], other[1]]).is_err(),
                "{other:?}"
            );
        }
        let hf = args(&["--profile", &profile("ci-2core-hf.toml")]).unwrap();
        let e = base_node(&hf).expect_err("a profile with user chains needs relays");
        assert!(crate::error::is_usage(&e), "{e:#}");
        // Without a profile: --nodes and --consensus with the node's default config.
        let (node, _) =
            base_node(&args(&["--nodes", "4", "--consensus", "pbft"]).unwrap()).unwrap();
        assert_eq!((node.nodes, node.consensus.as_str()), (4, "pbft"));
        assert!(node.settings.is_empty());
    }

    #[test]
    fn a_config_file_replaces_the_base_settings_and_set_goes_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.toml");
        std::fs::write(
            &file,
            "[sealer]\npipelined_commit = false\nblock_txs_max = 5\n",
        )
        .unwrap();
        let base = NodeSpec::new(1, "solo");
        let v = variant(
            PathBuf::from("/x/bcos"),
            &base,
            "the default config",
            Some(&file),
            &["sealer.block_txs_max=7".into()],
        )
        .unwrap();
        let want: toml::Table =
            toml::from_str("[sealer]\npipelined_commit = false\nblock_txs_max = 7\n").unwrap();
        assert_eq!(v.node.settings, want);
        let e = variant(PathBuf::from("/x"), &base, "", None, &["nokey".into()])
            .err()
            .expect("a setting without a value is refused");
        assert!(crate::error::is_usage(&e), "{e:#}");
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
