//! `check`: model-checks a consensus core, or cross-chain settlement (`settlement`: the
//! real `bcos-settlement` producer and verifier between two user chains, spec/settlement.md).
//!
//! `cargo run --release -p bcos-models --bin check -- <solo|pbft|raft|settlement> [--bug NAME]
//! [--scenario NAME] [--depth N] [--nodes N] [--faults loss,dup,reorder,crash[=N]]
//! [--byzantine KIND[@NODE]] [--dfs | --simulate SEED]`
//!
//! Exits 0 when every run reached its goal (PASS, BOUNDED or SAMPLED with commits at two
//! nodes checked), 1 when a property is violated (the counterexample is printed) or a run
//! is INCONCLUSIVE, 2 on a usage or availability error.

use anyhow::{anyhow, Context};
use bcos_models::protocols::{self, CheckRequest};
use bcos_models::{Faults, Role, RunOptions, Search};
use clap::Parser;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "check",
    about = "Model-check a consensus core (or cross-chain settlement) with stateright"
)]
struct Args {
    /// solo, pbft, raft or settlement.
    protocol: String,
    /// A seeded bug to switch on (pbft: quorum-2f, no-lock, commit-2f, lock-not-durable;
    /// raft: vote-twice, commit-old-term; settlement: no-seq-check, accept-unsigned,
    /// skip-inclusion-proof); the checker must find it.
    #[arg(long)]
    bug: Option<String>,
    /// Check every state within N steps of the reduced model (default: the protocol's;
    /// 0 = the whole reachable space).
    #[arg(long)]
    depth: Option<usize>,
    /// Group size (pbft default 4, i.e. f = 1; raft default 3; solo is always 1).
    #[arg(long)]
    nodes: Option<u32>,
    /// Highest height the model proposes (settlement: payments per user chain, 1..=3).
    #[arg(long)]
    heights: Option<u64>,
    /// pbft: explore views up to N only (default 1); raft: terms up to N (default 3).
    #[arg(long)]
    views: Option<u64>,
    /// Comma list of loss, dup, reorder, crash (any number of restarts), crash=N (at most
    /// N); or all / none (default: dup,reorder,crash; settlement: loss,dup,reorder, no crash).
    #[arg(long)]
    faults: Option<String>,
    /// One Byzantine node: equivocate, silent, double-vote, hide-lock or honest,
    /// optionally @NODE (default @0). settlement: a relayer's role, silent or honest
    /// (relayer 0 is honest, relayer 1 Byzantine by default).
    #[arg(long)]
    byzantine: Option<String>,
    /// pbft: suite (default without other flags), free, view-change, liveness; raft: free
    /// (default), membership, liveness; settlement: free (default), liveness.
    #[arg(long)]
    scenario: Option<String>,
    /// raft: nodes whose election timer may fire (default 2).
    #[arg(long)]
    candidates: Option<u32>,
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Depth-first search (memory for fingerprints only; complete only with --depth 0).
    #[arg(long)]
    dfs: bool,
    /// Random walks from the initial state with this seed (stateright's simulation
    /// checker) instead of an exhaustive search; give --states-max or --time-limit.
    #[arg(long)]
    simulate: Option<u64>,
    /// Stop after generating this many states (memory guard; 0 = no limit; default
    /// 20,000,000).
    #[arg(long)]
    states_max: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long)]
    time_limit: Option<u64>,
    /// Keep exploring after the first violation.
    #[arg(long)]
    keep_going: bool,
}

/// Default state cap: a reduced PBFT state is under 1 KiB in a breadth-first frontier.
const STATES_MAX_DEFAULT: usize = 20_000_000;

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
    let search = match (a.dfs, a.simulate) {
        (true, Some(_)) => return Err(anyhow!("--dfs and --simulate exclude each other")),
        (true, None) => Search::Dfs,
        (false, Some(seed)) => Search::Simulation { seed },
        (false, None) => Search::Bfs,
    };
    Ok(CheckRequest {
        nodes: a.nodes,
        max_height: a.heights,
        bound: a.views,
        faults: a.faults.as_deref().map(str::parse::<Faults>).transpose()?,
        byzantine: a.byzantine.as_deref().map(parse_byzantine).transpose()?,
        bug: a.bug.clone(),
        scenario: a.scenario.clone(),
        candidates: a.candidates,
        run: RunOptions {
            depth_max: a.depth,
            threads: a.threads,
            search,
            time_limit_s: a.time_limit,
            states_max: Some(a.states_max.unwrap_or(STATES_MAX_DEFAULT)).filter(|n| *n > 0),
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
    match protocols::check(&args.protocol, &req).map_err(|e| anyhow!(e)) {
        Ok(report) => {
            print!("{}", report.render());
            if report.ok() {
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
