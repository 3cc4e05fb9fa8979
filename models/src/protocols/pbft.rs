//! The PBFT model (spec/pbft.md): the real `bcos_consensus::pbft::Pbft` core, n = 4, f = 1 by
//! default, with loss, duplication, reordering, crash-restart and one Byzantine node chosen by
//! flag. Seeded bugs (`--bug quorum-2f`, `--bug no-lock`) switch on the core's `SeededBug`;
//! `--bug no-lock` runs the scripted `view-change` scenario ([`super::pbft_scenario`]) by default.
//!
//! Driver behaviour modelled here: every node's pool holds transactions (work pending,
//! PBFT-R9); the leader's sealer offers `digest(leader, height, 0)`; a node executes the
//! block its current view fixed as soon as it knows it (PBFT-R19); a restarted node restores
//! its last `Persist` and its stored head, then resumes (PBFT-R2).

use super::{CheckRequest, ModelError};
use crate::byzantine::Role;
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

/// Defaults of the free CLI run (README.md has the measured outcome): n = 4 (f = 1), one
/// height, views <= 1, all faults, node 1 (the view-0 leader) equivocating unless
/// `--byzantine` names another (`honest@0` for none), and depth 6: with every fault on, the
/// space grows about fifteenfold per step (depth 6: 174 k states, 0.9 GiB; depth 7 passes
/// 2.7 M states and 17 GiB), so deeper runs take `--depth` with fewer faults.
pub const NODES_DEFAULT: u32 = 4;
pub const MAX_HEIGHT_DEFAULT: Height = 1;
pub const DEPTH_DEFAULT: usize = 6;
/// `--bug quorum-2f` defaults to no faults and this depth (its counterexample has 9 steps;
/// properties are checked 2 below the bound).
pub const QUORUM_BUG_DEPTH_DEFAULT: usize = 11;
pub const VIEWS_DEFAULT: u64 = 1;
pub const BYZANTINE_DEFAULT: (NodeIndex, Role) = (1, Role::Equivocate);

/// Loss, duplication, reordering and one crash at a time.
pub fn default_faults() -> Faults {
    Faults::all()
}

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

/// What one PBFT check runs on: the core template, the model bounds and the faults.
#[derive(Debug, Clone)]
pub struct PbftRunCfg {
    pub template: PbftConfig,
    pub cfg: ModelCfg,
    pub faults: Faults,
}

/// Which environment a check explores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every schedule the fault flags allow (breadth-first within the bounds).
    Free,
    /// The scripted two-stage view-change search of [`super::pbft_scenario`].
    ViewChange,
}

/// Parses `--scenario`; `None` picks `view-change` for the `no-lock` bug (its shortest
/// counterexample is out of reach of free BFS) and `free` otherwise.
pub fn scenario_by_name(
    name: Option<&str>,
    bug: Option<SeededBug>,
) -> Result<Scenario, ModelError> {
    match name {
        None if bug == Some(SeededBug::NoLock) => Ok(Scenario::ViewChange),
        None | Some("free") => Ok(Scenario::Free),
        Some("view-change") => Ok(Scenario::ViewChange),
        Some(other) => Err(ModelError::Invalid(format!(
            "unknown pbft scenario {other:?} (expected free or view-change)"
        ))),
    }
}

/// Builds the run configuration of a request, defaults filled in (see README.md).
pub fn run_cfg(req: &CheckRequest, bug: Option<SeededBug>) -> Result<PbftRunCfg, ModelError> {
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
    let cfg = ModelCfg {
        n,
        byzantine: req.byzantine,
        max_height: req.max_height.unwrap_or(MAX_HEIGHT_DEFAULT),
        bound: req.bound,
    };
    Ok(PbftRunCfg {
        template,
        cfg,
        faults: req.faults.unwrap_or_else(default_faults),
    })
}

pub fn check(req: &CheckRequest) -> Result<Outcome, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    let scenario = scenario_by_name(req.scenario.as_deref(), bug)?;
    let mut rc = run_cfg(req, bug)?;
    let mut opts = req.run.clone();
    if scenario == Scenario::Free {
        if req.byzantine.is_none() {
            rc.cfg.byzantine = Some(BYZANTINE_DEFAULT);
        }
        if rc.cfg.bound.is_none() {
            rc.cfg.bound = Some(VIEWS_DEFAULT);
        }
        let quorum_bug = bug == Some(SeededBug::QuorumTwoF);
        if quorum_bug && req.faults.is_none() {
            // The 9-step split needs no fault: a FIFO network keeps the search small.
            rc.faults = Faults::default();
        }
        if opts.depth_max.is_none() {
            opts.depth_max = Some(if quorum_bug {
                QUORUM_BUG_DEPTH_DEFAULT
            } else {
                DEPTH_DEFAULT
            });
        }
    }
    if scenario == Scenario::ViewChange {
        // The scripted search's defaults: reordering only (the fault the scenario needs);
        // `--faults` adds loss, duplication or crashes to its second stage.
        if req.faults.is_none() {
            rc.faults = Faults::default();
        }
        rc.faults.reordering = true;
        rc.cfg
            .bound
            .get_or_insert(super::pbft_scenario::VIEWS_DEFAULT);
        opts.depth_max
            .get_or_insert(super::pbft_scenario::STAGE2_DEPTH_DEFAULT);
    }
    eprintln!(
        "pbft: n = {}, f = {}, scenario: {scenario:?}, faults: {}, byzantine: {:?}, heights: {}, depth: {:?}, views: {:?}",
        rc.cfg.n, rc.template.f, rc.faults, rc.cfg.byzantine, rc.cfg.max_height, opts.depth_max, rc.cfg.bound
    );
    match scenario {
        Scenario::Free => Ok(run(
            model(rc.template, rc.cfg, rc.faults),
            &opts,
            super::describe::<Pbft>,
        )),
        Scenario::ViewChange => super::pbft_scenario::check(rc, &opts),
    }
}
