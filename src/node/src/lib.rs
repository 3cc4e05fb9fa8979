//! The node: the tokio shell around the pure crates. It wires storage, execution, the
//! transaction pool, the sealer and its consensus driver, and JSON-RPC into one process, and
//! provides the `bcos` command line.
//!
//! Implements spec/execution.md §5 (sealing) and spec/durability.md's commit order from the
//! driver's side: a block is executed, decided by the consensus core, made durable, and only
//! then announced to RPC subscribers and removed from the pool.

pub mod amop;
pub mod api;
pub mod block_exec;
pub mod cluster;
pub mod cns;
pub mod config;
pub mod exporter;
pub mod flow;
pub mod genesis;
pub mod groups;
pub mod keyfile;
pub mod metrics;
pub mod node;
pub mod pool;
pub mod runtime;
pub mod settlement;
pub mod supervise;

pub use config::NodeConfig;
pub use node::{Node, NodeHandle};
