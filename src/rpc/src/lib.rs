//! JSON-RPC over HTTP and WebSocket on one port: the Ethereum `eth_*`, `net_*`, `web3_*`
//! methods that unchanged clients (ethers, web3.py, cast) use exactly as against anvil, and
//! the FISCO BCOS `bcos_*` namespace.
//!
//! Serves spec/execution.md §1–§2 data (blocks, receipts, logs) in Ethereum's JSON shapes;
//! the node side is the [`ChainApi`] trait, so this crate depends on no storage or execution.
//!
//! Layout: `server` (startup), `conn` (accept loop, connection limits, per-connection
//! accounting), `middleware` (parallel batches, request permits), `blocking` (storage reads
//! and EVM calls on bounded blocking pools), `convert` (node types → alloy RPC types),
//! `eth_state`, `eth_tx`, `eth_block`, `logs`, `filters`, `subscriptions`, `bcos`
//! (method groups), `errors` (geth-compatible error objects), `config` (limits; their sum
//! is docs/memory-budget.md).

pub mod api;
mod bcos;
mod blocking;
pub mod config;
mod conn;
pub mod convert;
pub mod errors;
mod eth_block;
mod eth_state;
mod eth_tx;
mod filters;
mod logs;
mod middleware;
pub mod server;
mod subscriptions;

pub use api::{ApiError, ChainApi, JsonValue, StateAt};
pub use config::RpcConfig;
pub use errors::RpcError;
pub use server::{build_module, start, RpcHandle};
