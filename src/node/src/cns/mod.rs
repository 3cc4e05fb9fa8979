//! `bcos cns` (spec/execution.md §7): the contract naming service from the command line.
//!
//! - `client.rs`: the JSON-RPC client (deploy and register, resolve, list, routes);
//! - `command.rs`: the subcommands and their arguments.

pub mod client;
pub mod command;

pub use client::{route_key, Artifact, CnsClient};
pub use command::{run, CnsArgs};
