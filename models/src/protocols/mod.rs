//! The protocols the `check` binary knows, each a module that turns a [`CheckRequest`] into a
//! model and runs it. `solo` runs end to end; `pbft` is the extension point for the PBFT core
//! (src/consensus/src/pbft, spec/pbft.md); `raft` checks the Raft core (src/consensus/src/raft,
//! spec/raft.md).

pub mod pbft;
pub mod pbft_scenario;
pub mod raft;
pub mod solo;

use crate::byzantine::Role;
use crate::core::ModelCore;
use crate::faults::Faults;
use crate::runner::RunOptions;
use bcos_consensus::NodeIndex;
use bcos_types::Height;
use stateright::actor::ActorModelState;
use std::fmt::Write as _;

/// One check as the CLI asks for it; `None` fields take the protocol's defaults.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub nodes: Option<u32>,
    pub max_height: Option<Height>,
    /// Protocol-specific bound on the space (pbft: highest view, raft: highest term explored).
    pub bound: Option<u64>,
    pub faults: Option<Faults>,
    pub byzantine: Option<(NodeIndex, Role)>,
    /// A seeded bug by name (each protocol lists its own).
    pub bug: Option<String>,
    /// A scripted environment by name (pbft: `free`, `view-change`); `None`: the protocol
    /// picks (pbft: `view-change` for `no-lock`, else `free`).
    pub scenario: Option<String>,
    pub run: RunOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    NotAvailable(String),
    #[error("protocol {protocol} has no seeded bug {bug:?}; known: {known}")]
    UnknownBug {
        protocol: &'static str,
        bug: String,
        known: String,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("unknown protocol {0:?} (expected solo, pbft or raft)")]
    UnknownProtocol(String),
}

/// Runs the named protocol's check.
pub fn check(protocol: &str, req: &CheckRequest) -> Result<crate::runner::Outcome, ModelError> {
    match protocol {
        "solo" => solo::check(req),
        "pbft" => pbft::check(req),
        "raft" => raft::check(req),
        other => Err(ModelError::UnknownProtocol(other.to_string())),
    }
}

/// Renders a model state for a counterexample: per node its role, liveness, commits and core.
pub fn describe<P: ModelCore>(s: &ActorModelState<crate::actor::ProtocolActor<P>, ()>) -> String {
    let mut out = String::new();
    for (i, st) in s.actor_states.iter().enumerate() {
        let crashed = if s.crashed.get(i).copied().unwrap_or(false) {
            " CRASHED"
        } else {
            ""
        };
        let commits: Vec<String> = st
            .commits
            .iter()
            .map(|(h, hash)| match crate::core::decode_digest(hash) {
                Some((node, _, v)) => format!("h{h}=block(node{node},v{v})"),
                None => format!("h{h}={hash}"),
            })
            .collect();
        let _ = writeln!(
            out,
            "    node{i}{crashed}: commits [{}]",
            commits.join(", ")
        );
        let _ = writeln!(out, "           core {:?}", st.core);
    }
    let _ = writeln!(out, "    in flight: {} message(s)", s.network.len());
    out
}
