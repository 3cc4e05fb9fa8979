//! `bcos etl`: the chain into a relational warehouse (SQLite embedded, PostgreSQL for
//! production), append-only and resumable; `bcos etl verify`: the warehouse checked against
//! the chain's header roots. Schema and operation: docs/etl.md.

pub mod export;
pub mod json;
pub mod rpc;
pub mod store;
pub mod verify;

use clap::{Args, Subcommand};

/// Blocks written per database transaction (with the cursor), by default.
pub const BATCH_BLOCKS_DEFAULT: u64 = 64;
/// Blocks asked for in one JSON-RPC batch (the node answers at most 16 MiB by default; a
/// full block of 10,000 transfers is about 8 MB of JSON).
pub const RPC_BLOCKS_PER_CALL_DEFAULT: u64 = 16;
/// Receipts asked for in one JSON-RPC batch (the node takes up to 10,000 calls a batch).
pub const RPC_RECEIPTS_PER_CALL_DEFAULT: usize = 1_000;
/// Connect, read and write timeout of one JSON-RPC request.
pub const RPC_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// `--follow`: pause between looks at the head when nothing was new.
pub const POLL_MS_DEFAULT: u64 = 1_000;
pub const POLL_MS_MIN: u64 = 10;
pub const POLL_MS_MAX: u64 = 600_000;
/// `verify`: blocks read from the warehouse at once.
pub const VERIFY_BLOCKS_PER_ROUND_DEFAULT: u64 = 256;

/// `bcos etl --rpc URL --to sqlite:PATH|postgres://…` exports; `bcos etl verify` checks.
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EtlArgs {
    #[command(subcommand)]
    pub command: Option<EtlCommand>,
    #[command(flatten)]
    pub export: ExportArgs,
}

#[derive(Subcommand, Debug, Clone)]
pub enum EtlCommand {
    /// Recompute each exported block's transactionsRoot and receiptsRoot from the warehouse
    /// rows and compare them (and the block hash) with the chain's headers.
    Verify(VerifyArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The node's JSON-RPC URL, e.g. http://127.0.0.1:8545 (every running group) or
    /// http://127.0.0.1:8545/g/2 (group 2 only).
    #[arg(long, required = true)]
    pub rpc: Option<String>,
    /// The warehouse: sqlite:PATH or postgres://user@host:port/db.
    #[arg(long, required = true)]
    pub to: Option<String>,
    /// Keep following the head after reaching it (poll every --poll-ms).
    #[arg(long)]
    pub follow: bool,
    /// --follow: pause between looks at the head when nothing was new.
    #[arg(long, default_value_t = POLL_MS_DEFAULT)]
    pub poll_ms: u64,
    /// Blocks written per database transaction (atomically with the cursor).
    #[arg(long, default_value_t = BATCH_BLOCKS_DEFAULT)]
    pub batch_blocks: u64,
    /// Blocks per JSON-RPC batch.
    #[arg(long, default_value_t = RPC_BLOCKS_PER_CALL_DEFAULT)]
    pub rpc_blocks_per_call: u64,
    /// Receipts per JSON-RPC batch of eth_getBlockReceipts (whole blocks; a larger block
    /// goes alone), and settlement proofs per batch.
    #[arg(long, default_value_t = RPC_RECEIPTS_PER_CALL_DEFAULT)]
    pub rpc_receipts_per_call: usize,
    /// Connect, read and write timeout of a JSON-RPC request.
    #[arg(long, default_value_t = RPC_TIMEOUT_MS_DEFAULT)]
    pub rpc_timeout_ms: u64,
    /// No per-group progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The warehouse: sqlite:PATH or postgres://user@host:port/db.
    #[arg(long)]
    pub from: String,
    /// The node's JSON-RPC URL (every group of the warehouse) or URL/g/<g> (one group).
    #[arg(long)]
    pub rpc: String,
    /// Blocks read from the warehouse at once.
    #[arg(long, default_value_t = VERIFY_BLOCKS_PER_ROUND_DEFAULT)]
    pub blocks_per_round: u64,
    /// Block headers per JSON-RPC batch.
    #[arg(long, default_value_t = RPC_BLOCKS_PER_CALL_DEFAULT)]
    pub rpc_blocks_per_call: u64,
    /// Connect, read and write timeout of a JSON-RPC request.
    #[arg(long, default_value_t = RPC_TIMEOUT_MS_DEFAULT)]
    pub rpc_timeout_ms: u64,
}

/// Runs `bcos etl …`; a verify that finds a difference is an error (non-zero exit).
pub fn run(args: EtlArgs) -> anyhow::Result<()> {
    match args.command {
        Some(EtlCommand::Verify(v)) => verify::run(&v).map(|_| ()),
        None => export::run(&args.export).map(|_| ()),
    }
}
