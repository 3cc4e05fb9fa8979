//! bcos-sim: a deterministic whole-cluster simulator (DESIGN.md, checking tier 3; issue 12).
//!
//! N production consensus drivers (`bcos_node::cluster::{pbft,raft}`, with their real cores,
//! pools, revm execution and in-memory chain stores behind the state cache) run in one
//! process on one thread, under a virtual clock, driven through the runtime seam
//! (`bcos_node::runtime`). A seeded event queue delivers their frames through a faulty
//! network (loss, delay, reordering, duplication, partitions), crashes and restarts nodes
//! (a crash keeps exactly what a correct driver made durable: the chain store and the
//! consensus record), lets simulated users submit signed transactions to random nodes, and
//! may put one PBFT node's transport in the hands of a Byzantine module. After every step,
//! checkers test the properties of spec/pbft.md, spec/raft.md and spec/durability.md
//! ([`checkers`]).
//!
//! The nodes may run several groups (spec/groups.md; [`groups`], [`group`]): each node runs
//! one driver per group it is a member of, each group with its own chain, stores, pools,
//! checkers and users, over one shared faulty network; a node crash takes down all of its
//! groups.
//!
//! With `--settlement` ([`settlement`], spec/settlement.md) group 0 is a merchant chain and
//! the other groups user chains: simulated payers, a settler and relayers (honest and
//! Byzantine) move payments across, and the settlement checker asserts exactly-once,
//! conservation and no credit beyond what was settled after every step.
//!
//! With `--membership-changes` (a single Raft group) the committee removes the last node
//! from the voters and adds it back by governance proposals (spec/governance.md GOV-R9)
//! while the faults go on; a run that never held the smaller voter set is INCONCLUSIVE.
//!
//! One seed names one run: the only randomness is [`rng::SimRng`] (xoshiro256**) seeded with it, so a
//! failing seed replays exactly (the run ends with a trace hash that a replay reproduces).

pub mod byzantine;
pub mod checkers;
pub mod client;
pub mod config;
pub mod events;
pub mod faults;
pub mod group;
pub mod groups;
pub mod net;
pub mod node;
pub mod report;
pub mod rng;
pub mod runtime;
pub mod settlement;
pub mod setup;
mod steps;
pub mod sweep;
pub mod trace;
mod traffic;
pub mod world;

pub use config::{ByzantineKind, ByzantineSpec, Protocol, SimConfig};
pub use groups::SimGroup;
pub use report::{GroupReport, GroupVerdict, Report, Verdict};
pub use world::run;
