//! The PBFT model (spec/pbft.md): the real `bcos_consensus::pbft::Pbft` core, n = 4, f = 1 by
//! default, over the reduced [`SystemModel`]. Seeded bugs (`--bug quorum-2f`, `no-lock`,
//! `commit-2f`, `lock-not-durable`) switch on the core's `SeededBug`.
//!
//! `check pbft` with no configuration runs the suite of [`super::pbft_suite`]; any flag
//! that configures a run (`--byzantine`, `--faults`, `--depth`, `--bug`, `--scenario` ...)
//! runs that one configuration instead.
//!
//! Driver behaviour modelled here: every node's pool holds transactions (work pending,
//! PBFT-R9); the leader's sealer offers `digest(leader, height, 0)`; a node executes the
//! block its current view fixed as soon as it knows it (PBFT-R19); a restarted node restores
//! its last `Persist` and its stored head, then resumes (PBFT-R2).

use super::{CheckRequest, ModelError, Report};
use crate::byzantine::Role;
use crate::core::{equivocal, roots_of, DurableRecord, ModelCore};
use crate::faults::{Faults, Restarts};
use crate::model::{ModelCfg, ModelSpec};
use crate::properties::{progress_possible, safety, SafetyNames};
use crate::runner::{depth_or, run, RunOptions};
use crate::system::{SysState, SystemModel};
use bcos_consensus::pbft::{
    Commit, CommitBody, PbftConfig, PbftMsg, PrePrepare, Prepare, SeededBug, ViewChange,
};
use bcos_consensus::{Input, NodeIndex, Output, Pbft, PbftDurable, PbftTimer, Proposal};
use bcos_types::Height;

pub const PBFT_S1: &str =
    "PBFT-S1 agreement: no two honest nodes commit different blocks at one height";
pub const PBFT_S2: &str =
    "PBFT-S2 validity: an honest node commits only a block proposed for that height";
pub const PBFT_S3: &str =
    "PBFT-S3 integrity: an honest node never commits two blocks at one height";
pub const PBFT_L1: &str = "PBFT-L1 progress: some run commits every height on every honest node";

/// Coverage probe: a view change carried a lock into a new view.
pub const PROBE_LOCK_CARRIED: &str =
    "view change carried a lock (an honest node entered view >= 1 on a new view re-proposing a locked block)";
/// Coverage probe: a view change completed.
pub const PROBE_NEW_VIEW: &str = "an honest node entered view >= 1";

/// Seeded bugs the PBFT model knows, by CLI name.
pub const BUGS: &[(&str, SeededBug)] = &[
    ("quorum-2f", SeededBug::QuorumTwoF),
    ("no-lock", SeededBug::NoLock),
    ("commit-2f", SeededBug::CommitTwoF),
    ("lock-not-durable", SeededBug::LockNotDurable),
];

pub const NODES_DEFAULT: u32 = 4;
pub const MAX_HEIGHT_DEFAULT: Height = 1;
/// Views explored by default: one view change.
pub const VIEWS_DEFAULT: u64 = 1;
/// Depth (steps of the reduced model) of a free run when `--depth` is not given.
pub const DEPTH_DEFAULT: usize = 8;
/// `--bug quorum-2f` depth (its counterexample takes 6 steps of the reduced model).
pub const QUORUM_BUG_DEPTH_DEFAULT: usize = 8;
pub const BYZANTINE_DEFAULT: (NodeIndex, Role) = (1, Role::Equivocate);

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

    fn hide_lock(msg: &PbftMsg) -> Option<PbftMsg> {
        match msg {
            PbftMsg::ViewChange(vc) if vc.prepared.is_some() => {
                Some(PbftMsg::ViewChange(ViewChange {
                    prepared: None,
                    ..vc.clone()
                }))
            }
            _ => None,
        }
    }
}

fn within_views(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> bool {
    match m.cfg.bound {
        Some(v) => m.nodes(s).all(|st| st.core.view() <= v),
        None => true,
    }
}

fn lock_carried(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> bool {
    crate::properties::honest(m, s).any(|(_, st)| {
        st.core
            .state()
            .new_views
            .iter()
            .any(|(v, re)| *v >= 1 && re.is_some())
    })
}

fn new_view(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> bool {
    crate::properties::honest(m, s)
        .any(|(_, st)| st.core.view() >= 1 && st.core.state().view_active)
}

/// The PBFT model with its safety properties, the L1 reachability check, views bounded by
/// `cfg.bound` and the coverage probes.
pub fn model(template: PbftConfig, cfg: ModelCfg, faults: Faults) -> SystemModel<Pbft> {
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
    m.bound = within_views;
    m.probes = vec![
        (PROBE_NEW_VIEW, new_view),
        (PROBE_LOCK_CARRIED, lock_carried),
    ];
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
        bound: Some(req.bound.unwrap_or(VIEWS_DEFAULT)),
    };
    Ok(PbftRunCfg {
        template,
        cfg,
        faults: req.faults.unwrap_or_else(Faults::safety),
    })
}

/// The label of a run: its configuration in words.
pub fn label(rc: &PbftRunCfg, opts: &RunOptions, what: &str) -> String {
    let byz = match rc.cfg.byzantine {
        Some((b, r)) if !r.is_honest() => format!("{r}@{b}"),
        _ => "all honest".to_string(),
    };
    format!(
        "pbft {what}: n = {}, {byz}, faults {}, heights {}, views <= {}, {:?}{}",
        rc.cfg.n,
        rc.faults,
        rc.cfg.max_height,
        rc.cfg.bound.unwrap_or(0),
        opts.search,
        opts.depth_max
            .map_or(String::new(), |d| format!(", depth {d}"))
    )
}

/// One free run of `rc`.
pub fn free_run(rc: PbftRunCfg, opts: &RunOptions) -> (String, crate::runner::Outcome) {
    let label = label(&rc, opts, "free");
    eprintln!("{label} ...");
    let out = run(
        model(rc.template, rc.cfg, rc.faults),
        opts,
        super::describe::<Pbft>,
    );
    (label, out)
}

pub fn check(req: &CheckRequest) -> Result<Report, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    let scenario = req.scenario.as_deref().unwrap_or(match bug {
        None if !req.configured() => "suite",
        Some(SeededBug::QuorumTwoF) | None => "free",
        Some(_) => "view-change",
    });
    match scenario {
        "suite" => super::pbft_suite::check(req),
        "view-change" => super::pbft_scenario::check(
            req,
            bug,
            super::pbft_scenario::Script::ViewChange { strict: false },
        ),
        "liveness" => super::pbft_suite::liveness(req, bug),
        "free" => {
            let mut rc = run_cfg(req, bug)?;
            if req.byzantine.is_none() {
                rc.cfg.byzantine = Some(BYZANTINE_DEFAULT);
            }
            let quorum_bug = bug == Some(SeededBug::QuorumTwoF);
            if quorum_bug && req.faults.is_none() {
                // The split needs no fault beyond reordering.
                rc.faults = Faults {
                    restarts: Restarts::None,
                    ..Faults::safety()
                };
            }
            if quorum_bug && req.bound.is_none() {
                // ... and no view change: the equivocating view-0 leader's two blocks each
                // gather 2f prepares and commits in view 0.
                rc.cfg.bound = Some(0);
            }
            let mut opts = req.run.clone();
            let default = if quorum_bug {
                QUORUM_BUG_DEPTH_DEFAULT
            } else {
                DEPTH_DEFAULT
            };
            opts.depth_max = depth_or(opts.depth_max, Some(default));
            let (label, out) = free_run(rc, &opts);
            Ok(Report::single(label, out))
        }
        other => Err(ModelError::Invalid(format!(
            "unknown pbft scenario {other:?} (expected suite, free, view-change or liveness)"
        ))),
    }
}
