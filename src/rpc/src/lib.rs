//! JSON-RPC over HTTP and WebSocket on one port: the Ethereum `eth_*`, `net_*`, `web3_*`
//! methods that unchanged clients (ethers, web3.py, cast) use exactly as against anvil, and
//! the FISCO BCOS `bcos_*` namespace.
//!
//! Serves spec/execution.md §1–§2 data (blocks, receipts, logs) in Ethereum's JSON shapes;
//! the node side is the [`ChainApi`] trait, so this crate depends on no storage or execution.
//!
//! One node may serve several groups (chains), each at `/g/<group>` on the same port, `/`
//! being group 0; a separate loopback-only listener (`admin`) lets an operator generate,
//! start, stop and remove groups.
//!
//! Layout: `server` (startup), `groups` (per-request routing to a group's method table),
//! `admin` (the group lifecycle listener), `conn` (accept loop, connection limits,
//! per-connection accounting), `middleware` (parallel batches, request permits), `raw_tx_batch` (batches of
//! eth_sendRawTransaction admitted together),
//! `blocking` (storage reads and EVM calls on bounded blocking pools), `convert` (node
//! types → alloy RPC types), `eth_state`, `eth_tx`, `eth_block`, `logs`, `filters`,
//! `subscriptions`, `bcos` (method groups), `errors` (geth-compatible error objects),
//! `pages` (`/metrics` and the `/browser/` files, `browser`), `config` (limits; their sum is docs/memory-budget.md, times the groups served for the
//! per-group ones).

pub mod admin;
pub mod amop;
pub mod amop_client;
pub mod api;
mod bcos;
mod blocking;
mod browser;
pub mod client;
mod cns;
pub mod config;
mod conn;
pub mod convert;
pub mod errors;
mod eth_block;
mod eth_state;
mod eth_tx;
mod filters;
mod groups;
mod logs;
mod middleware;
mod pages;
mod raw_tx_batch;
pub mod server;
mod subscriptions;

pub use admin::{start_admin, AdminHandle, GroupAdmin, GroupStatus};
pub use api::{ApiError, ChainApi, JsonValue, StateAt, Verdicts};
pub use config::RpcConfig;
pub use errors::RpcError;
pub use pages::MetricsSource;
pub use server::{build_module, start, start_groups, RpcHandle};
