//! RAFT-L1 in the fair bounded form (`check raft --scenario liveness`): after GST (no
//! restarts, no loss; a timer fires only when no delivery would change any node, i.e.
//! timeouts outlast message delays) every maximal run commits every height on every node.
//! Silent-step fusion is off: it preserves the commits a run can reach, not every state a
//! run can get stuck in. GST is at the start unless `--faults` asks for restarts or loss,
//! which then happen before a `GST` step the environment takes when it likes.

use super::raft::{label, model_with, RaftModelCfg, CANDIDATES_DEFAULT, RAFT_L1};
use super::{CheckRequest, ModelError, Report};
use crate::faults::{Faults, Restarts};
use crate::model::ModelCfg;
use crate::properties::progress_always;
use crate::runner::{depth_or, run};
use crate::system::{SysState, SystemModel};
use bcos_consensus::raft::SeededBug;
use bcos_consensus::{Raft, RaftConfig};
use stateright::Expectation;

pub const RAFT_L1_FAIR: &str =
    "RAFT-L1 progress (fair form): after GST every run commits every height on every node";

/// Heights the liveness run proposes by default.
pub const HEIGHTS_DEFAULT: u64 = 1;
/// Terms it allows: elections after GST are sequential (a second candidate's timer waits
/// for the first election to settle), so one more term than the faults used suffices.
pub const TERMS_DEFAULT: u64 = 4;

pub fn check(req: &CheckRequest, bug: Option<SeededBug>) -> Result<Report, ModelError> {
    let n = req.nodes.unwrap_or(super::raft::NODES_DEFAULT);
    let template = RaftConfig {
        bug,
        ..RaftConfig::new(n, 0)
    };
    template
        .validate()
        .map_err(|e| ModelError::Invalid(e.to_string()))?;
    let faults = req.faults.unwrap_or(Faults {
        restarts: Restarts::None,
        ..Faults::safety()
    });
    let cfg = ModelCfg {
        n,
        byzantine: None,
        max_height: req.max_height.unwrap_or(HEIGHTS_DEFAULT),
        bound: Some(req.bound.unwrap_or(TERMS_DEFAULT)),
    };
    let core = RaftModelCfg {
        template,
        candidates: req.candidates.unwrap_or(CANDIDATES_DEFAULT),
        plan: Vec::new(),
        heartbeats: true,
    };
    let mut opts = req.run.clone();
    opts.depth_max = depth_or(opts.depth_max, None);
    let label = label(&core, &cfg, faults, &opts, "liveness (fair form)");
    eprintln!("{label} ...");
    let mut m = model_with(core, cfg, faults);
    m.properties
        .retain(|p| !(p.expectation == Expectation::Sometimes && p.name == RAFT_L1));
    m.properties.push(progress_always(RAFT_L1_FAIR));
    m.env.liveness = true;
    m.env.gst_at_start = faults.restarts == Restarts::None && !faults.loss;
    m.env.fuse_silent = false;
    m.bound = terms_with_room;
    let out = run(m, &opts, super::raft::describe);
    Ok(Report::single(label, out))
}

/// Terms up to the bound after GST, one fewer before it: the faults must leave the fair
/// part room for one more election, or a run cut by the bound would look stuck.
fn terms_with_room(m: &SystemModel<Raft>, s: &SysState<Raft>) -> bool {
    let limit = match m.cfg.bound {
        Some(t) if s.gst => t,
        Some(t) => t.saturating_sub(1),
        None => return true,
    };
    m.nodes(s).all(|st| st.core.term() <= limit)
}
