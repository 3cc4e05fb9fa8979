//! `loadgen`: drives bcos nodes with pre-signed workloads over JSON-RPC.
//!
//! Exit codes: 0 success (and every threshold met), 1 a failed run or a missed threshold,
//! 2 bad input (profile, workload name, URL, flags).

use bcos_loadgen::certify::{self, CertifyOptions};
use bcos_loadgen::error::{is_usage, usage};
use bcos_loadgen::profile::{Mode, NodeSpec, WorkloadSpec};
use bcos_loadgen::target::{EmbeddedOptions, Target};
use bcos_loadgen::{compare, runner, transfer};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator and certification for bcos nodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a hardware profile's workloads, write a report, fail on missed thresholds.
    Certify(CertifyArgs),
    /// One ad-hoc workload run; prints the result.
    Run(Box<RunArgs>),
    /// Pre-signed ETH transfers among many accounts; prints committed TPS.
    Transfer(transfer::TransferArgs),
    /// The same closed-loop transfer workload against anvil (--block-time 1) and embedded
    /// bcos (and, with --cluster, a 4-node PBFT cluster): committed TPS and bcos/anvil.
    CompareAnvil(Box<compare::CompareArgs>),
    /// One closed-loop workload against two variants of embedded nodes (another binary,
    /// another node config or settings, on a profile's node or not), in interleaved rounds:
    /// each round's B/A ratio and the median.
    Ab(Box<bcos_loadgen::ab::AbArgs>),
    /// AMOP round trips between two nodes: an echo responder on one, concurrent requesters
    /// on another; latency p50/p99 and answered requests per second.
    Amop(bcos_loadgen::amop::AmopArgs),
}

#[derive(clap::Args)]
struct CertifyArgs {
    /// Hardware profile (hardware-profiles/*.toml).
    #[arg(long)]
    profile: PathBuf,
    /// Reports are written under this directory.
    #[arg(long, default_value = "reports")]
    out_dir: PathBuf,
    /// Record a flamegraph of the node (sets BCOS_FLAME_FILE for embedded nodes).
    #[arg(long)]
    flame: bool,
    /// Use running nodes instead of starting embedded ones (repeatable).
    #[arg(long)]
    url: Vec<String>,
    /// The bcos binary for embedded nodes.
    #[arg(long)]
    bcos_bin: Option<PathBuf>,
    /// Spread every workload over G groups (chains) of the cluster, overriding the profile's
    /// `[node] groups`: `bcos init --groups G`, each group its own accounts and chain id and
    /// 1/G of the load (1..=64; needs a cluster, or --url nodes serving /g/<g>).
    #[arg(long)]
    groups: Option<usize>,
    /// High-frequency accounts over U user chains, overriding the profile's `[node]
    /// user_chains`: group 0 the merchant chain, groups 1..=U user chains (1..=9; 0: off).
    #[arg(long, conflicts_with = "groups")]
    user_chains: Option<usize>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// transfer, hf-account or erc20.
    #[arg(long)]
    workload: String,
    /// Open loop at this many transactions per second.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Closed loop with this many transactions in flight.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Step the open-loop rate up from --rate until the node saturates.
    #[arg(long, requires = "rate")]
    saturation: bool,
    /// Use running nodes instead of an embedded one (repeatable).
    #[arg(long)]
    url: Vec<String>,
    #[arg(long)]
    warmup_s: Option<f64>,
    #[arg(long)]
    window_s: Option<f64>,
    #[arg(long)]
    accounts: Option<usize>,
    #[arg(long)]
    users: Option<usize>,
    #[arg(long)]
    merchants: Option<usize>,
    #[arg(long)]
    zipf_exponent: Option<f64>,
    /// Highest TPS the closed loop pre-signs for.
    #[arg(long)]
    tps_max: Option<f64>,
    #[arg(long)]
    batch_max: Option<usize>,
    #[arg(long)]
    connections: Option<usize>,
    /// p99 limit (ms) of saturation steps.
    #[arg(long, default_value_t = 0.0)]
    p99_ms_max: f64,
    /// Node config TOML for the embedded node(s) (as `[node.settings]` of a profile).
    #[arg(long)]
    node_config: Option<PathBuf>,
    /// Embedded nodes: 1 for solo, N for a PBFT cluster.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Embedded consensus: solo (one `bcos dev` node) or pbft (a `bcos init` cluster).
    #[arg(long, default_value = "solo")]
    consensus: String,
    /// Groups (chains) to spread the load over: `bcos init --groups G` for an embedded
    /// cluster, /g/<g> of each --url node; 1/G of the load each (1..=64).
    #[arg(long, default_value_t = 1)]
    groups: usize,
    /// High-frequency accounts: group 0 is the merchant chain, groups 1..=U user chains the
    /// load goes to (`bcos init --groups U+1 --hf-merchant`, one `bcos relay` per user chain;
    /// with --url: nodes laid out so). hf-account then also reports settlement lag and checks
    /// conservation. 1..=9; needs --consensus pbft.
    #[arg(long, default_value_t = 0, conflicts_with = "groups")]
    user_chains: usize,
    /// With --user-chains: how often a user chain settles (`bcos init --settle-interval-ms`).
    #[arg(long)]
    settle_interval_ms: Option<u64>,
    /// With --user-chains: `bcos init --settle-every-blocks`.
    #[arg(long)]
    settle_every_blocks: Option<u64>,
    /// With --user-chains: each relayer's `bcos relay --poll-ms`.
    #[arg(long)]
    relay_poll_ms: Option<u64>,
    #[arg(long)]
    bcos_bin: Option<PathBuf>,
    /// Also write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Certify(a) => run_certify(a),
        Command::Run(a) => run_adhoc(*a).map(|()| 0),
        Command::Transfer(args) => transfer::run(&args).map(|()| 0),
        Command::CompareAnvil(a) => run_compare(&a).map(|()| 0),
        Command::Amop(a) => bcos_loadgen::amop::run(&a).map(|()| 0),
        Command::Ab(a) => run_ab(&a).map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(if is_usage(&e) { 2 } else { 1 });
        }
    }
}

fn run_certify(a: CertifyArgs) -> anyhow::Result<i32> {
    let opts = CertifyOptions {
        profile: a.profile,
        out_dir: a.out_dir,
        flame: a.flame,
        bcos_bin: a.bcos_bin,
        urls: a.url,
        groups: a.groups,
        user_chains: a.user_chains,
    };
    let (results, dir) = certify::certify(&opts)?;
    println!(
        "report: {}",
        dir.join(bcos_loadgen::report::REPORT_MD).display()
    );
    if results.passed {
        println!("PASS: every threshold of profile {} met", results.profile);
        Ok(0)
    } else {
        for f in &results.failures {
            println!("FAIL: {f}");
        }
        Ok(1)
    }
}

fn run_compare(a: &compare::CompareArgs) -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let (results, md) = compare::run(a, &argv)?;
    for t in &results.targets {
        println!(
            "{}: {} tx/s committed (median of {})",
            t.label,
            compare::report::thousands(t.median_committed_tps),
            t.runs.len()
        );
    }
    for line in compare::report::ratio_lines(&results) {
        println!("{line}");
    }
    println!("report: {}", md.display());
    Ok(())
}

fn run_ab(a: &bcos_loadgen::ab::AbArgs) -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let s = bcos_loadgen::ab::run(a, &argv)?;
    println!("A: {}", s.a);
    println!("B: {}", s.b);
    println!(
        "median over {} rounds: A {:.0} tx/s, B {:.0} tx/s, B/A {}",
        s.rounds.len(),
        s.median_tps_a,
        s.median_tps_b,
        s.median_ratio.map_or("-".into(), |r| format!("{r:.3}"))
    );
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&s)?)?;
    }
    Ok(())
}

fn run_adhoc(a: RunArgs) -> anyhow::Result<()> {
    let mode = match (a.rate, a.concurrency) {
        (Some(_), None) => Mode::Open,
        (None, Some(_)) => Mode::Closed,
        _ => return usage("give exactly one of --rate (open loop) or --concurrency (closed loop)"),
    };
    let mut spec = WorkloadSpec::new(&a.workload, mode);
    spec.rate = a.rate;
    spec.concurrency = a.concurrency;
    spec.saturation = a.saturation;
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { spec.$f = v; } )* };
    }
    set!(
        warmup_s,
        window_s,
        accounts,
        users,
        merchants,
        zipf_exponent,
        tps_max,
        batch_max,
        connections
    );
    if let Err(e) = spec.validate() {
        return usage(e);
    }
    let remote = !a.url.is_empty();
    let mut node = NodeSpec::new(a.nodes, &a.consensus);
    node.groups = a.groups;
    node.user_chains = a.user_chains;
    node.settle_interval_ms = a.settle_interval_ms;
    node.settle_every_blocks = a.settle_every_blocks;
    node.relay_poll_ms = a.relay_poll_ms;
    if let Err(e) = node.apply_user_chains() {
        return usage(e);
    }
    if let Err(e) = bcos_loadgen::settlement::check(&node, remote) {
        return usage(format!("--{e}"));
    }
    if let Err(e) = bcos_loadgen::groups::check(node.groups, &a.consensus, remote) {
        return usage(format!("--{e}"));
    }
    if let Err(e) = bcos_loadgen::groups::check_workload(&spec, node.load_groups()) {
        return usage(format!("--groups {}: {e}", node.load_groups()));
    }
    let target = if a.url.is_empty() {
        let settings = match &a.node_config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    bcos_loadgen::UsageError(format!("cannot read {}: {e}", p.display()))
                })?;
                toml::from_str::<toml::Table>(&text).map_err(|e| {
                    bcos_loadgen::UsageError(format!("{}: {}", p.display(), e.message()))
                })?
            }
            None => toml::Table::new(),
        };
        node.settings = settings;
        Target::embedded(
            &node,
            &EmbeddedOptions {
                bin: a.bcos_bin,
                flame_dir: None,
            },
        )?
    } else {
        Target::remote(&a.url, node.groups, node.user_chains)?
    };
    let result = runner::run_workload(&target, &spec, a.p99_ms_max)?;
    target.stop()?;
    println!("{}", certify::one_line(&result));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
    }
    if let Some(s) = result.settlement.as_ref().filter(|s| !s.conservation_held) {
        anyhow::bail!("settlement: {}", s.conservation);
    }
    Ok(())
}
