//! bcos-loadgen: drives bcos nodes with pre-signed workloads over JSON-RPC batches and
//! certifies a machine against a hardware profile (issue 5, "Certification pipeline").
//!
//! Layout: `workload/` builds and pre-signs transactions (transfer, hf-account — the
//! whitepaper's high-frequency account scenario — and erc20); `engine/` sends them open-loop
//! (target rate, latency from the scheduled send time) or closed-loop (fixed in-flight count)
//! and tracks commits per block; `target` starts embedded nodes (one `bcos dev` node, or a PBFT cluster
//! laid out by `cluster`) or attaches to `--url`s; `groups` splits a level over the chains
//! (groups) one cluster runs; `settlement` measures high-frequency accounts over user chains
//! (settlement lag, conservation) with `relayers` carrying records to the merchant chain;
//! `profile` reads hardware-profiles/*.toml; `certify` ties it together into [`results`]
//! (judged by `verdict` against the profile's thresholds and goal), which `report` renders;
//! `compare` measures bcos against anvil with the same workload and client (issue 15); `ab`
//! measures one node variant against another, side by side.

pub mod ab;
pub mod accounts;
pub mod amop;
pub mod certify;
pub mod cluster;
pub mod compare;
pub mod cryptobound;
pub mod engine;
pub mod error;
#[cfg(test)]
mod fake_rpc;
pub mod groups;
pub mod machine;
pub mod node_info;
pub mod profile;
pub mod progress;
pub mod relayers;
pub mod report;
pub mod results;
/// The blocking JSON-RPC client lives in bcos-rpc, shared with `bcos relay`.
pub use bcos_rpc::client as rpc_client;
pub mod runner;
pub mod settlement;
pub mod target;
pub mod transfer;
pub mod verdict;
pub mod workload;
pub mod writeback;

pub use error::UsageError;
