//! The protocols the `check` binary knows, each a module that turns a [`CheckRequest`] into
//! models and runs them: `solo` (end to end), `pbft` (src/consensus/src/pbft, spec/pbft.md;
//! its default is the suite in [`pbft_suite`]), `raft` (src/consensus/src/raft,
//! spec/raft.md), `settlement` (src/settlement, spec/settlement.md: user chains, relayers and
//! the merchant chain's verifier).

pub mod pbft;
pub mod pbft_scenario;
pub mod pbft_suite;
pub mod raft;
pub mod raft_liveness;
pub mod settlement;
pub mod settlement_actors;
pub mod settlement_forge;
pub mod settlement_model;
pub mod settlement_props;
pub mod settlement_run;
pub mod solo;

use crate::byzantine::Role;
use crate::core::ModelCore;
use crate::faults::Faults;
use crate::runner::{Outcome, RunOptions, Verdict};
use crate::system::{SysState, SystemModel};
use bcos_consensus::NodeIndex;
use bcos_types::Height;
use std::fmt::Write as _;

/// One check as the CLI asks for it; `None` fields take the protocol's defaults.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub nodes: Option<u32>,
    pub max_height: Option<Height>,
    /// Protocol-specific bound on the space (pbft: highest view, raft: highest term).
    pub bound: Option<u64>,
    pub faults: Option<Faults>,
    pub byzantine: Option<(NodeIndex, Role)>,
    /// A seeded bug by name (each protocol lists its own).
    pub bug: Option<String>,
    /// A named scenario (pbft: `suite`, `free`, `view-change`, `liveness`; raft: `free`,
    /// `membership`, `liveness`); `None`: the protocol picks.
    pub scenario: Option<String>,
    /// raft: nodes whose election timer may fire.
    pub candidates: Option<u32>,
    /// `depth_max`, `search` and the limits are `None`/default unless the CLI set them.
    pub run: RunOptions,
}

impl CheckRequest {
    /// Whether the request fixes anything a suite would choose itself.
    pub fn configured(&self) -> bool {
        self.nodes.is_some()
            || self.max_height.is_some()
            || self.bound.is_some()
            || self.faults.is_some()
            || self.byzantine.is_some()
            || self.bug.is_some()
            || self.scenario.is_some()
            || self.run.depth_max.is_some()
    }
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
    #[error("unknown protocol {0:?} (expected solo, pbft, raft or settlement)")]
    UnknownProtocol(String),
}

/// The runs of one check, each with its label.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub runs: Vec<(String, Outcome)>,
}

impl Report {
    pub fn single(label: impl Into<String>, outcome: Outcome) -> Self {
        Report {
            runs: vec![(label.into(), outcome)],
        }
    }

    /// Whether every run did what it set out to do (see [`Verdict::ok`]).
    pub fn ok(&self) -> bool {
        self.runs.iter().all(|(_, o)| o.verdict().ok())
    }

    /// The outcome of the only (or first) run.
    pub fn first(&self) -> Option<&Outcome> {
        self.runs.first().map(|(_, o)| o)
    }

    /// Every run's summary, then one line per run and the overall verdict.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (label, o) in &self.runs {
            let _ = writeln!(s, "== {label}\n{}", o.render());
        }
        if self.runs.len() > 1 {
            let _ = writeln!(s, "== summary");
            for (label, o) in &self.runs {
                let v = match o.verdict() {
                    Verdict::Fail => "FAIL".to_string(),
                    Verdict::Inconclusive(_) => "INCONCLUSIVE".to_string(),
                    Verdict::Bounded(d) => format!("BOUNDED (depth {d})"),
                    Verdict::Sampled => "SAMPLED".to_string(),
                    Verdict::Pass => "PASS".to_string(),
                };
                let c = &o.coverage;
                let _ = writeln!(
                    s,
                    "  {v:<18} {label}: {} states, {} with a commit, {} with two nodes at one height, height {}, {:.1} s",
                    c.checked, c.with_commit, c.two_node_commit, c.max_height, o.elapsed.as_secs_f64()
                );
            }
            let _ = writeln!(
                s,
                "overall: {}",
                if self.ok() {
                    "every run reached its goal"
                } else {
                    "NOT every run reached its goal (see above)"
                }
            );
        }
        s
    }
}

/// Runs the named protocol's check.
pub fn check(protocol: &str, req: &CheckRequest) -> Result<Report, ModelError> {
    match protocol {
        "solo" => solo::check(req),
        "pbft" => pbft::check(req),
        "raft" => raft::check(req),
        "settlement" => settlement::check(req),
        other => Err(ModelError::UnknownProtocol(other.to_string())),
    }
}

/// Renders a system state for a counterexample: per node its role, commits and core.
pub fn describe<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> String {
    let mut out = String::new();
    for (i, st) in m.nodes(s).enumerate() {
        let commits: Vec<String> = st
            .commits
            .iter()
            .map(|(h, hash)| match crate::core::decode_digest(hash) {
                Some((node, _, v)) => format!("h{h}=block(node{node},v{v})"),
                None => format!("h{h}={hash}"),
            })
            .collect();
        let _ = writeln!(out, "    node{i}: commits [{}]", commits.join(", "));
        let _ = writeln!(out, "           core {:?}", st.core);
    }
    let _ = writeln!(out, "    in flight: {} message(s)", s.net.len());
    out
}
