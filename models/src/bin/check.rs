//! `check`: model-checks a consensus core.
//!
//! `cargo run --release -p bcos-models --bin check -- <solo|pbft|raft> [--bug NAME]
//! [--scenario free|view-change] [--depth N] [--nodes N]
//! [--faults loss,dup,reorder,crash,partition] [--byzantine KIND[@NODE]]`
//!
//! Exits 0 when no property is violated, 1 when one is (the counterexample is printed) or
//! the state/time limit cut the search short, 2 on a usage or availability error.

use anyhow::{anyhow, Context};
use bcos_models::protocols::{self, CheckRequest};
use bcos_models::{Faults, Role, RunOptions};
use clap::Parser;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "check", about = "Model-check a consensus core with stateright")]
struct Args {
    /// solo, pbft or raft.
    protocol: String,
    /// A seeded bug to switch on (pbft: quorum-2f, no-lock; raft: vote-twice,
    /// commit-old-term); the checker must find it.
    #[arg(long)]
    bug: Option<String>,
    /// Stop exploring below this depth (default: the protocol's; 0 = unbounded).
    #[arg(long)]
    depth: Option<usize>,
    /// Group size (pbft default 4, i.e. f = 1; raft default 3; solo is always 1).
    #[arg(long)]
    nodes: Option<u32>,
    /// Highest height the model proposes.
    #[arg(long)]
    heights: Option<u64>,
    /// pbft: explore views up to N only (states past view N are not expanded); raft: terms
    /// up to N (default 3).
    #[arg(long)]
    views: Option<u64>,
    /// Comma list of loss, dup, reorder, crash, partition (raft only); or all / none
    /// (default: the protocol's).
    #[arg(long)]
    faults: Option<String>,
    /// One Byzantine node: equivocate, silent or double-vote, optionally @NODE (default @0).
    #[arg(long)]
    byzantine: Option<String>,
    /// pbft: `free` (every schedule the faults allow) or `view-change` (scripted two-stage
    /// search, see pbft_scenario.rs); default `view-change` for --bug no-lock, else `free`.
    #[arg(long)]
    scenario: Option<String>,
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Depth-first search (default breadth-first, which finds the shortest counterexample).
    #[arg(long)]
    dfs: bool,
    /// Stop after generating this many states (memory guard; 0 = no limit). Default: pbft
    /// 2,500,000 (a PBFT state with all faults costs about 6 KiB, so under ~15 GiB), others
    /// 10,000,000 (Raft and solo states are far smaller).
    #[arg(long)]
    states_max: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long)]
    time_limit: Option<u64>,
    /// Keep exploring after the first violation.
    #[arg(long)]
    keep_going: bool,
}

/// Default state caps (see `--states-max`).
const PBFT_STATES_MAX_DEFAULT: usize = 2_500_000;
const STATES_MAX_DEFAULT: usize = 10_000_000;

fn parse_byzantine(s: &str) -> anyhow::Result<(u32, Role)> {
    let (kind, node) = match s.split_once('@') {
        Some((k, n)) => (
            k,
            n.parse::<u32>()
                .with_context(|| format!("bad node index in {s:?}"))?,
        ),
        None => (s, 0),
    };
    Ok((node, kind.parse::<Role>()?))
}

fn request(a: &Args) -> anyhow::Result<CheckRequest> {
    Ok(CheckRequest {
        nodes: a.nodes,
        max_height: a.heights,
        bound: a.views,
        faults: a.faults.as_deref().map(str::parse::<Faults>).transpose()?,
        byzantine: a.byzantine.as_deref().map(parse_byzantine).transpose()?,
        bug: a.bug.clone(),
        scenario: a.scenario.clone(),
        run: RunOptions {
            depth_max: a.depth.filter(|d| *d > 0),
            threads: a.threads,
            dfs: a.dfs,
            time_limit_s: a.time_limit,
            states_max: Some(a.states_max.unwrap_or(if a.protocol == "pbft" {
                PBFT_STATES_MAX_DEFAULT
            } else {
                STATES_MAX_DEFAULT
            }))
            .filter(|n| *n > 0),
            stop_on_failure: !a.keep_going,
            progress: true,
            trace_prefix: None,
        },
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let req = match request(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("check: {e:#}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "checking {} (bug: {}, depth: {}, states max: {}, threads: {})",
        args.protocol,
        req.bug.as_deref().unwrap_or("none"),
        req.run
            .depth_max
            .map_or("protocol default".to_string(), |d| d.to_string()),
        req.run
            .states_max
            .map_or("unlimited".to_string(), |n| n.to_string()),
        req.run.threads
    );
    match protocols::check(&args.protocol, &req).map_err(|e| anyhow!(e)) {
        Ok(outcome) => {
            print!("{}", outcome.render());
            if outcome.passed() && !outcome.cut_short {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("check: {e:#}");
            ExitCode::from(2)
        }
    }
}
