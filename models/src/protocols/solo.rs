//! Solo through the adapter (spec/execution.md §5): one node proposes and commits every height
//! up to `max_height`. Trivial, but it runs the whole path: boot, propose, commit, properties,
//! runner. `bcos_consensus::solo::Never` lacks `Ord`, which stateright needs for messages, so
//! a thin wrapper swaps in a local uninhabited type.

use super::{CheckRequest, ModelError, Report};
use crate::core::{DurableRecord, ModelCore};
use crate::faults::{Faults, Restarts};
use crate::model::{ModelCfg, ModelSpec};
use crate::properties::{progress_possible, safety, SafetyNames};
use crate::runner::run;
use crate::system::SystemModel;
use bcos_consensus::{Input, NodeIndex, Output, Protocol, Solo};
use bcos_types::Height;

/// Solo has no messages, timers or durable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Nothing {}

/// [`Solo`] with [`Nothing`] for its message, timer and durable types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SoloCore(pub Solo);

impl Protocol for SoloCore {
    type Message = Nothing;
    type Timer = Nothing;
    type Durable = Nothing;

    fn next_height(&self) -> Height {
        self.0.next_height()
    }
    fn may_propose(&self) -> bool {
        self.0.may_propose()
    }
    fn handle(&mut self, input: Input<Nothing, Nothing>) -> Vec<Output<Nothing, Nothing, Nothing>> {
        let input = match input {
            Input::Propose(p) => Input::Propose(p),
            Input::Executed(e) => Input::Executed(e),
            Input::Message { msg, .. } => match msg {},
            Input::Timeout(t) => match t {},
        };
        self.0
            .handle(input)
            .into_iter()
            .map(|o| match o {
                Output::Commit(d) => Output::Commit(d),
                Output::Evidence { culprit, reason } => Output::Evidence { culprit, reason },
                Output::Persist(n) => match n {},
                Output::Send { msg, .. } | Output::Broadcast(msg) => match msg {},
                Output::SetTimer { timer, .. } | Output::CancelTimer(timer) => match timer {},
            })
            .collect()
    }
}

impl ModelCore for SoloCore {
    type Config = ();
    fn boot(_: &(), _: NodeIndex, _: u32, restored: Option<&DurableRecord<Nothing>>) -> Self {
        SoloCore(Solo::new(restored.map_or(1, DurableRecord::next_height)))
    }
}

pub const SOLO_S1: &str =
    "SOLO-S1 agreement: no two honest nodes commit different blocks at one height";
pub const SOLO_S2: &str = "SOLO-S2 validity: a committed block is the one proposed for its height";
pub const SOLO_S3: &str = "SOLO-S3 integrity: a node never commits two blocks at one height";
pub const SOLO_L1: &str = "SOLO-L1 progress: every height up to the bound commits";

/// Default heights for the CLI run.
pub const MAX_HEIGHT_DEFAULT: Height = 3;

/// The solo model: one node, crash-restart if asked (it resumes after its stored head).
pub fn model(max_height: Height, restarts: Restarts) -> SystemModel<SoloCore> {
    let spec = ModelSpec::<SoloCore> {
        core: (),
        cfg: ModelCfg {
            n: 1,
            byzantine: None,
            max_height,
            bound: None,
        },
        faults: Faults {
            restarts,
            ..Default::default()
        },
    };
    let mut props = safety(SafetyNames {
        agreement: SOLO_S1,
        validity: SOLO_S2,
        integrity: SOLO_S3,
    });
    props.push(progress_possible(SOLO_L1));
    spec.build(props)
}

pub fn check(req: &CheckRequest) -> Result<Report, ModelError> {
    if let Some(bug) = &req.bug {
        return Err(ModelError::UnknownBug {
            protocol: "solo",
            bug: bug.clone(),
            known: "(none)".into(),
        });
    }
    if req.nodes.is_some_and(|n| n != 1) {
        return Err(ModelError::Invalid(
            "solo runs exactly one node (--nodes 1)".into(),
        ));
    }
    if req.byzantine.is_some() {
        return Err(ModelError::Invalid(
            "solo has no peers to lie to; drop --byzantine".into(),
        ));
    }
    let restarts = req.faults.map_or(Restarts::None, |f| f.restarts);
    let m = model(req.max_height.unwrap_or(MAX_HEIGHT_DEFAULT), restarts);
    let mut opts = req.run.clone();
    if opts.depth_max == Some(0) {
        opts.depth_max = None;
    }
    Ok(Report::single(
        "solo",
        run(m, &opts, super::describe::<SoloCore>),
    ))
}
