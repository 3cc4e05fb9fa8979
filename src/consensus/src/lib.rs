//! Sans-IO consensus cores behind one [`Protocol`] trait (DESIGN.md "One core, three drivers").
//!
//! A core is a deterministic state machine: immutable config plus plain-data state, one
//! [`Input`] in, a list of [`Output`]s back. It does no I/O, reads no clock, draws no random
//! numbers and never blocks, so the same code runs under the stateright models, the seeded
//! simulator and the node's tokio driver.
//!
//! Cores: [`solo::Solo`] (single sealer: propose, commit; spec/execution.md §5) and
//! [`pbft::Pbft`] (parallel PBFT; spec/pbft.md), [`raft::Raft`] (crash-tolerant Raft;
//! spec/raft.md).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod pbft;
pub mod protocol;
pub mod raft;
pub mod solo;

pub use pbft::{Pbft, PbftConfig, PbftDurable, PbftMsg, PbftTimer, SeededBug};
pub use protocol::{Decision, ExecutedRoots, Input, NodeIndex, Output, Proposal, Protocol};
pub use raft::{
    Raft, RaftConfig, RaftDurable, RaftError, RaftMsg, RaftTimer, SeededBug as RaftSeededBug,
};
pub use solo::{Never, Solo};
