//! `bcos flow`: a transaction's or a block's timeline, or per-stage latency percentiles,
//! read from a node's log with the flow log on (see [`super`]).

use super::timeline::{events, render_timeline, summarize};
use anyhow::Context;
use std::io::BufReader;
use std::path::PathBuf;

/// Read a node's flow log: one transaction's or one block's timeline, or a summary.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["tx", "block", "summary"])))]
pub struct FlowArgs {
    /// The node's log (its stderr), written with the flow log on for the group.
    #[arg(long)]
    pub log: PathBuf,
    /// The group the events belong to.
    #[arg(long, default_value_t = 0)]
    pub group: u32,
    /// Timeline of this transaction (0x hash), with its block's stages.
    #[arg(long)]
    pub tx: Option<String>,
    /// Timeline of this block.
    #[arg(long)]
    pub block: Option<u64>,
    /// Per-stage latency percentiles over the whole log.
    #[arg(long)]
    pub summary: bool,
}

fn open(args: &FlowArgs) -> anyhow::Result<BufReader<std::fs::File>> {
    let f = std::fs::File::open(&args.log)
        .with_context(|| format!("cannot open log {}", args.log.display()))?;
    Ok(BufReader::new(f))
}

pub fn run(args: FlowArgs) -> anyhow::Result<()> {
    print!("{}", report(&args)?);
    Ok(())
}

/// What `bcos flow` prints for `args`.
pub fn report(args: &FlowArgs) -> anyhow::Result<String> {
    let group = args.group;
    if args.summary {
        return Ok(summarize(open(args)?, group)?.render());
    }
    if let Some(number) = args.block {
        let mut evs = events(open(args)?, |e| {
            e.group == group && e.tx.is_none() && e.block == Some(number)
        })?;
        return Ok(render_timeline(
            &format!("block {number} (group {group})"),
            &mut evs,
        ));
    }
    let Some(tx) = args.tx.as_deref() else {
        anyhow::bail!("give --tx HASH, --block N or --summary");
    };
    let tx = tx.to_ascii_lowercase();
    if tx.len() != 66 || !tx.starts_with("0x") || !tx[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("--tx wants a 0x-prefixed 32-byte hash, got {tx:?}");
    }
    let mut evs = events(open(args)?, |e| {
        e.group == group && e.tx.as_deref() == Some(tx.as_str())
    })?;
    // Its block's own stages, from a second pass: they may come before the transaction's
    // events that name the block.
    if let Some(number) = evs.iter().find_map(|e| e.block) {
        evs.extend(events(open(args)?, |e| {
            e.group == group && e.tx.is_none() && e.block == Some(number)
        })?);
    }
    Ok(render_timeline(
        &format!("transaction {tx} (group {group})"),
        &mut evs,
    ))
}
