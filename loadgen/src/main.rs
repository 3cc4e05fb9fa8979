//! `loadgen`: drives a bcos node with pre-signed workloads over JSON-RPC.

mod accounts;
mod rpc_client;
mod transfer;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for bcos nodes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pre-signed ETH transfers among many accounts; prints committed TPS.
    Transfer(transfer::TransferArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Transfer(args) => transfer::run(&args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
