//! Stateright models that drive the real consensus cores (DESIGN.md "One core, three
//! drivers"; spec/pbft.md PBFT-S*/L*, spec/raft.md RAFT-S*/L*).
//!
//! - [`system::SystemModel`]: n nodes running any [`core::ModelCore`] over a modelled
//!   network, with the state-space reductions models/README.md argues for (silent-step
//!   fusion, atomic restarts, the duplicating network as a set).
//! - [`node`]: one node (the real core plus what the driver does around it); [`memo`]:
//!   node steps computed once; [`net`]: the network kinds.
//! - [`core`]: the extension point a protocol fills (boot from durable state, execution,
//!   Byzantine forging hooks) and the deterministic block digests the model proposes.
//! - [`faults`]: loss, duplication, reordering, crash-restart; [`byzantine`]: equivocating
//!   leader, silent node, double voter, lock hider, each a module.
//! - [`properties`]: safety and liveness properties named by spec ID; [`stats`]: coverage
//!   (states with commits, with commits at two nodes, highest height).
//! - [`runner`]: runs a checker (BFS, DFS, random walks) and renders the verdict.
//! - [`scenario`]: scripted environments (staged, directed search) for long counterexamples.
//! - [`protocols`]: the protocols the `check` binary knows (solo, pbft, raft).

pub mod byzantine;
pub mod core;
pub mod faults;
pub mod intern;
pub mod memo;
pub mod model;
pub mod net;
pub mod node;
pub mod properties;
pub mod protocols;
pub mod runner;
pub mod scenario;
pub mod stats;
pub mod system;

pub use byzantine::Role;
pub use core::{decode_digest, digest, equivocal, roots_of, DurableRecord, ModelCore};
pub use faults::{Faults, Restarts};
pub use model::{ModelCfg, ModelSpec};
pub use node::{CommitView, Node};
pub use runner::{run, Outcome, RunOptions, Search, Verdict};
pub use system::{SysState, SystemModel};
