//! The PBFT model (spec/pbft.md): the real `bcos_consensus::pbft::Pbft` core, n = 4, f = 1 by
//! default, with loss, duplication, reordering, crash-restart and one Byzantine node chosen by
//! flag. Seeded bugs (`--bug quorum-2f`, `--bug no-lock`) switch on the core's `SeededBug`.
//!
//! Driver behaviour modelled here: every node's pool holds transactions (work pending,
//! PBFT-R9); the leader's sealer offers `digest(leader, height, 0)`; a node executes the
//! block its current view fixed as soon as it knows it (PBFT-R19); a restarted node restores
//! its last `Persist` and its stored head, then resumes (PBFT-R2).

use super::{CheckRequest, ModelError};
use crate::core::{equivocal, roots_of, DurableRecord, ModelCore};
use crate::faults::Faults;
use crate::model::{CoreModel, ModelCfg, ModelSpec};
use crate::properties::{progress_possible, safety, SafetyNames};
use crate::runner::{run, Outcome};
use bcos_consensus::pbft::{
    Commit, CommitBody, PbftConfig, PbftMsg, PrePrepare, Prepare, SeededBug,
};
use bcos_consensus::{Input, NodeIndex, Output, Pbft, PbftDurable, PbftTimer, Proposal};
use bcos_types::Height;

pub const PBFT_S1: &str =
    "PBFT-S1 agreement: no two honest nodes commit different blocks at one height";
pub const PBFT_S2: &str =
    "PBFT-S2 validity: an honest node commits only a block proposed for that height";
pub const PBFT_S3: &str =
    "PBFT-S3 integrity: an honest node never commits two blocks at one height";
pub const PBFT_L1: &str =
    "PBFT-L1 progress: some run commits every height on every live honest node";

/// Seeded bugs the PBFT model knows, by CLI name.
pub const BUGS: &[(&str, SeededBug)] = &[
    ("quorum-2f", SeededBug::QuorumTwoF),
    ("no-lock", SeededBug::NoLock),
];

/// Defaults of the CLI run: n = 4 (f = 1), one height, depth 24 (a view change and a second
/// proposal fit), reordering and one crash at a time.
pub const NODES_DEFAULT: u32 = 4;
pub const MAX_HEIGHT_DEFAULT: Height = 1;
pub const DEPTH_DEFAULT: usize = 24;

/// The model's config: the template `PbftConfig` (its `me` is replaced per node).
#[derive(Debug, Clone)]
pub struct PbftModelCfg {
    pub template: PbftConfig,
}

impl ModelCore for Pbft {
    type Config = PbftModelCfg;
    const SIGNAL_PENDING_WORK: bool = true;

    fn boot(
        cfg: &PbftModelCfg,
        me: NodeIndex,
        _n: u32,
        restored: Option<&DurableRecord<PbftDurable>>,
    ) -> Self {
        let c = PbftConfig {
            me,
            ..cfg.template.clone()
        };
        let head = restored.map_or(0, |r| r.next_height() - 1);
        let durable = restored.and_then(|r| r.last.clone());
        // `check` validated the template, and the record holds the node's own commits and
        // snapshot, so restore cannot refuse; if it ever does, the model itself is wrong.
        match Pbft::restore(c, head, durable) {
            Ok(p) => p,
            Err(e) => panic!("PBFT model misconfigured for node {me}: {e}"),
        }
    }

    fn after_boot(&mut self, restored: bool) -> Vec<Output<PbftMsg, PbftTimer, PbftDurable>> {
        if restored {
            self.resume()
        } else {
            Vec::new()
        }
    }

    /// PBFT-R19: execute the block the current view fixed, once.
    fn to_execute(&self, _handled: &Input<PbftMsg, PbftTimer>) -> Option<Proposal> {
        let st = self.state();
        st.proposals
            .get(&st.view)
            .filter(|b| !st.executed.contains_key(*b))
            .map(|b| Proposal {
                height: st.height,
                block_hash: *b,
            })
    }

    fn forge_proposal(msg: &PbftMsg) -> Option<PbftMsg> {
        match msg {
            PbftMsg::PrePrepare(p) => Some(PbftMsg::PrePrepare(PrePrepare {
                block_hash: equivocal(&p.block_hash),
                ..*p
            })),
            _ => None,
        }
    }

    fn forge_vote(msg: &PbftMsg) -> Option<PbftMsg> {
        match msg {
            PbftMsg::Prepare(p) => Some(PbftMsg::Prepare(Prepare {
                block_hash: equivocal(&p.block_hash),
                ..*p
            })),
            PbftMsg::Commit(c) => {
                let r = roots_of(&Proposal {
                    height: c.height,
                    block_hash: equivocal(&c.body.block_hash),
                });
                let body = CommitBody {
                    block_hash: r.block_hash,
                    state_root: r.state_root,
                    receipts_root: r.receipts_root,
                };
                Some(PbftMsg::Commit(Commit { body, ..*c }))
            }
            _ => None,
        }
    }
}

/// The PBFT model with its safety properties and the L1 reachability check.
pub fn model(template: PbftConfig, cfg: ModelCfg, faults: Faults) -> CoreModel<Pbft> {
    let spec = ModelSpec::<Pbft> {
        core: PbftModelCfg { template },
        cfg,
        faults,
    };
    let mut props = safety(SafetyNames {
        agreement: PBFT_S1,
        validity: PBFT_S2,
        integrity: PBFT_S3,
    });
    props.push(progress_possible(PBFT_L1));
    let mut m = spec.build(props);
    // `--views N`: do not expand states where some node is past view N. View-change churn
    // dominates the space; a bug across one view change needs views 0 and 1 only.
    m.within_boundary = |cfg, s| match cfg.bound {
        Some(v) => s.actor_states.iter().all(|st| st.core.view() <= v),
        None => true,
    };
    m
}

/// Parses a `--bug` name.
pub fn bug_by_name(name: &str) -> Result<SeededBug, ModelError> {
    BUGS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .ok_or_else(|| ModelError::UnknownBug {
            protocol: "pbft",
            bug: name.to_string(),
            known: BUGS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })
}

pub fn check(req: &CheckRequest) -> Result<Outcome, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    let n = req.nodes.unwrap_or(NODES_DEFAULT);
    let template = PbftConfig {
        bug,
        ..PbftConfig::new(n, 0)
    };
    template
        .validate()
        .map_err(|e| ModelError::Invalid(e.to_string()))?;
    if let Some((b, _)) = req.byzantine {
        if b >= n {
            return Err(ModelError::Invalid(format!(
                "Byzantine node {b} is not below n = {n}"
            )));
        }
    }
    let faults = req.faults.unwrap_or(Faults {
        reordering: true,
        crashes_max: 1,
        ..Faults::default()
    });
    let cfg = ModelCfg {
        n,
        byzantine: req.byzantine,
        max_height: req.max_height.unwrap_or(MAX_HEIGHT_DEFAULT),
        bound: req.bound,
    };
    let mut opts = req.run.clone();
    if opts.depth_max.is_none() {
        opts.depth_max = Some(DEPTH_DEFAULT);
    }
    eprintln!(
        "pbft: n = {n}, f = {}, faults: {faults}, byzantine: {:?}, heights: {}, depth: {:?}, views: {:?}",
        template.f, req.byzantine, cfg.max_height, opts.depth_max, cfg.bound
    );
    Ok(run(
        model(template, cfg, faults),
        &opts,
        super::describe::<Pbft>,
    ))
}
