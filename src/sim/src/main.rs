//! `bcos-sim`: run one seed (and print its report and trace hash) or sweep a range of seeds
//! (printing each failing seed with the command that replays it).

use bcos_sim::config::{
    parse_bug, ByzantineSpec, Protocol, Resubmit, SimConfig, STATE_CACHE_ENTRIES_DEFAULT,
    TICKS_DEFAULT,
};
use bcos_sim::groups::groups_from_cli;
use bcos_sim::settlement::{parse_relayers, SettlementSpec};
use bcos_sim::sweep::{parse_seed_range, sweep};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Deterministic simulation of a bcos cluster: the real drivers, a virtual clock, a seeded
/// faulty network, crashes and Byzantine peers.
#[derive(Parser, Debug)]
#[command(name = "bcos-sim", version)]
struct Args {
    /// pbft or raft.
    #[arg(long, default_value = "pbft")]
    protocol: Protocol,
    /// Validators in the cluster.
    #[arg(long, default_value_t = 4)]
    nodes: u32,
    /// The seed of a single run.
    #[arg(long, default_value_t = 0, conflicts_with = "seeds")]
    seed: u64,
    /// Sweep the seeds A..B (B excluded).
    #[arg(long)]
    seeds: Option<String>,
    /// Virtual milliseconds of the faulty phase (a quiet phase follows).
    #[arg(long, default_value_t = TICKS_DEFAULT)]
    ticks: u64,
    /// A seeded bug: quorum-2f, no-lock, vote-twice, commit-old-term,
    /// sync-without-certificate, send-before-persist, ack-before-durable.
    #[arg(long)]
    bug: Option<String>,
    /// A Byzantine PBFT node, KIND@NODE: equivocate, silent, double-vote, garbage, fake-sync
    /// (single-group runs only).
    #[arg(long)]
    byzantine: Option<ByzantineSpec>,
    /// Groups the nodes run (spec/groups.md): group g has chain id base + g and vote domain
    /// base + g; a node crash takes down all its groups. 1 is the single-chain run.
    #[arg(long, default_value_t = 1)]
    groups: u32,
    /// Each group's protocol, comma-separated (e.g. pbft,raft,pbft; the first replaces
    /// --protocol); default alternates, starting from --protocol.
    #[arg(long)]
    group_protocols: Option<String>,
    /// A group's members, GROUP=NODE,NODE,.. (e.g. 2=1,2,3); repeatable; default every node.
    #[arg(long)]
    group_members: Vec<String>,
    /// High-frequency-account settlement (spec/settlement.md): group 0 is the merchant
    /// chain, the other groups user chains (PBFT), with payers, a settler and relayers;
    /// implies --groups 2 and PBFT everywhere unless told otherwise.
    #[arg(long)]
    settlement: bool,
    /// Settlement relayers, comma-separated: honest, byzantine (replays, reorders,
    /// duplicates, forges); `none` for no relayer (nothing is credited: INCONCLUSIVE).
    #[arg(long, default_value = "honest,byzantine", requires = "settlement")]
    relayers: String,
    /// A seeded bug of the merchant chain's verifier: no-seq-check, accept-unsigned,
    /// skip-inclusion-proof.
    #[arg(long, requires = "settlement")]
    settlement_bug: Option<String>,
    /// Entries per shard of each node's account/slot cache in front of its chain store
    /// (64 shards; spec/durability.md §2.1); 0 runs without it.
    #[arg(long, default_value_t = STATE_CACHE_ENTRIES_DEFAULT)]
    state_cache_entries: usize,
    /// Where the client resends a transaction without a receipt: `same` (the node it first
    /// went to, while that node is up, as a wallet does: a node that holds it answers
    /// "already known") or `other` (a random live member each time, which hides a lost
    /// forward).
    #[arg(long, default_value = "same")]
    resubmit: Resubmit,
    /// Governance removes the last node from the voters (Raft) or validators (PBFT) during
    /// the faulty phase and adds it back (spec/governance.md GOV-R9, spec/pbft.md PBFT-R20).
    #[arg(long)]
    membership_changes: bool,
    /// Sweep: stop after this many failing seeds.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Log the drivers' tracing output (RUST_LOG syntax, e.g. `info`); single runs only.
    #[arg(long)]
    log: Option<String>,
}

fn main() {
    match real_main() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("bcos-sim: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> anyhow::Result<bool> {
    let args = Args::parse();
    // A settlement run: at least a merchant chain and a user chain, PBFT unless told.
    let (count, all_pbft) = if args.settlement {
        let count = args.groups.max(2);
        (count, vec!["pbft"; count as usize].join(","))
    } else {
        (args.groups, String::new())
    };
    let protocols = match (&args.group_protocols, args.settlement) {
        (Some(p), _) => Some(p.as_str()),
        (None, true) => Some(all_pbft.as_str()),
        (None, false) => None,
    };
    let groups = groups_from_cli(
        args.nodes,
        args.protocol,
        count,
        protocols,
        &args.group_members,
    )
    .map_err(anyhow::Error::msg)?;
    let protocol = groups.first().map_or(args.protocol, |g| g.protocol);
    let mut base = SimConfig::new(protocol, args.nodes, args.seed);
    base.groups = groups;
    base.ticks = args.ticks;
    base.bug = args
        .bug
        .as_deref()
        .map(parse_bug)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    base.byzantine = args.byzantine;
    base.state_cache_entries = args.state_cache_entries;
    base.resubmit = args.resubmit;
    base.membership_changes = args.membership_changes;
    if args.settlement {
        base.settlement = Some(SettlementSpec {
            relayers: parse_relayers(&args.relayers).map_err(anyhow::Error::msg)?,
            bug: args
                .settlement_bug
                .as_deref()
                .map(bcos_sim::settlement::parse_bug)
                .transpose()
                .map_err(anyhow::Error::msg)?,
        });
    }
    base.validate().map_err(anyhow::Error::msg)?;
    match &args.seeds {
        None => {
            if let Some(filter) = &args.log {
                tracing_subscriber::fmt()
                    .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                    .with_writer(std::io::stderr)
                    .init();
            }
            let r = bcos_sim::run(&base)?;
            println!("{r}");
            if !r.passed() {
                println!("replay: {}", r.config.replay_command());
            }
            if r.verdict == bcos_sim::Verdict::Inconclusive {
                // Neither pass nor fail: a distinct exit status.
                std::process::exit(3);
            }
            Ok(r.passed())
        }
        Some(range) => {
            let seeds = parse_seed_range(range).map_err(anyhow::Error::msg)?;
            run_sweep(&base, seeds, args.stop_after)
        }
    }
}

fn run_sweep(
    base: &SimConfig,
    seeds: std::ops::Range<u64>,
    stop_after: Option<usize>,
) -> anyhow::Result<bool> {
    let total = seeds.end - seeds.start;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{pos}/{len} seeds [{bar:30}] {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar
    });
    let started = Instant::now();
    let mut last_line = Instant::now();
    let (mut done, mut faults, mut failed, mut inconclusive) = (0u64, 0u64, 0u64, 0u64);
    // Settlement runs: (payments committed, records made, records credited).
    let mut settled = (0u64, 0u64, 0u64);
    let result = sweep(base, seeds, stop_after, |r| {
        done += 1;
        faults += r.faults_injected();
        if let Some(s) = &r.settlement {
            settled.0 += s.payments();
            settled.1 += s.records_created();
            settled.2 += s.records_credited();
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let msg = format!(
            "{:.2} seeds/s, {faults} faults injected, {failed} failing",
            done as f64 / elapsed
        );
        if r.verdict == bcos_sim::Verdict::Inconclusive {
            inconclusive += 1;
        }
        if r.failed() {
            failed += 1;
            let first = r
                .violations
                .first()
                .map(|v| v.to_string())
                .unwrap_or_default();
            let line = format!(
                "FAIL seed {}: {first}\n  replay: {}",
                r.config.seed,
                r.config.replay_command()
            );
            match &bar {
                Some(b) => b.println(line),
                None => println!("{line}"),
            }
        }
        match &bar {
            Some(b) => {
                b.set_position(done);
                b.set_message(msg);
            }
            None if last_line.elapsed() >= Duration::from_secs(5) => {
                eprintln!("{done}/{total} seeds: {msg}");
                last_line = Instant::now();
            }
            None => {}
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!(
        "{} seeds, {} failing, {inconclusive} inconclusive, {:.1} s wall: {:.1} seeds/min, {:.0} simulated blocks/s ({} blocks), {faults} faults injected",
        result.runs,
        result.failures.len(),
        result.wall_s,
        result.seeds_per_min(),
        result.blocks_per_s(),
        result.blocks
    );
    if base.settlement.is_some() {
        println!(
            "settlement: {} payments committed, {} records made, {} credited",
            settled.0, settled.1, settled.2
        );
    }
    Ok(result.failures.is_empty())
}
