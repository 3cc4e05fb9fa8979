//! Stateright models that drive the real consensus cores (DESIGN.md "One core, three
//! drivers"; spec/pbft.md PBFT-S*/PBFT-L* once the PBFT core lands).
//!
//! - [`actor::ProtocolActor`]: a stateright `Actor` over any [`core::ModelCore`].
//! - [`core`]: the extension point a protocol fills (boot from durable state, execution,
//!   Byzantine forging hooks) and the deterministic block digests the model proposes.
//! - [`faults`]: loss, duplication, reordering, crash-restart; [`byzantine`]: equivocating
//!   leader, silent node, double voter, each a module.
//! - [`properties`]: safety and liveness properties named by spec ID.
//! - [`runner`]: runs the checker with progress and renders the verdict and counterexamples.
//! - [`scenario`]: scripted environments (staged, directed search) for long counterexamples.
//! - [`partition`]: a wrapper model adding network partitions (cut one node off, heal) and
//!   transition checks; used by raft.
//! - [`protocols`]: the protocols the `check` binary knows (solo, pbft, raft).

pub mod actor;
pub mod byzantine;
pub mod core;
pub mod faults;
pub mod model;
pub mod partition;
pub mod properties;
pub mod protocols;
pub mod runner;
pub mod scenario;

pub use actor::{CommitView, NodeState, ProtocolActor};
pub use byzantine::Role;
pub use core::{decode_digest, digest, equivocal, roots_of, DurableRecord, ModelCore};
pub use faults::Faults;
pub use model::{CoreModel, ModelCfg, ModelSpec};
pub use runner::{run, Outcome, RunOptions};
