//! The scripted PBFT scenario `view-change` (spec/pbft.md PBFT-S3): a block decided in view 0
//! must survive the view change to view 1. The forks the lock bugs allow (`no-lock`,
//! `lock-not-durable`, `commit-2f` with a lock hider) take 13 or more steps of the reduced
//! model across a view change, beyond breadth-first search of the free model with every
//! fault on, so the search is directed in two stages ([`crate::scenario`]); every step still
//! runs the real core, so a counterexample is a real execution of the unrestricted model.
//!
//! 1. **view 0, outsiders cut off** (BFS for a goal): the f "outsider" nodes (the leaders of
//!    the last f views, node 0 for n = 4) receive nothing, no timer fires, nothing is lost
//!    or restarts; the goal is the first state where exactly one node decided height 1, an
//!    honest one other than the view-1 leader (for `commit-2f`: and no undecided honest node
//!    holds a lock, which a 2f decision allows and a 2f + 1 one does not).
//! 2. **view change** (the checked stage, from that state): view-0 messages still in flight
//!    stay delayed past the horizon (never delivered), a node that decided hears nothing
//!    more (it left the height), and a timer fires only to leave an entered view (not to
//!    re-send a view change: in a duplicating network a re-sent view change is already
//!    there). Everything else may happen: any delivery of a view >= 1 message to an
//!    undecided node in any order, restarts (`--faults crash[=N]`; `lock-not-durable` allows
//!    one by default). Views stay <= `--views` (default 1). The properties are checked here.
//!
//! With the correct core the view-1 leader re-proposes the decided block (the locks travel
//! in the view changes of honest nodes) and the run passes; with a lock bug the new leader
//! proposes a fresh block that the other 2f + 1 nodes decide (PBFT-S1 names the fork).

use super::describe;
use super::pbft::{label, model, run_cfg, PbftRunCfg};
use super::{CheckRequest, ModelError, Report};
use crate::byzantine::Role;
use crate::faults::Restarts;
use crate::model::ModelCfg;
use crate::net::key_dst;
use crate::runner::{run, Outcome, RunOptions};
use crate::scenario::{reach, render_steps, Stage};
use crate::system::{Allow, Step, SysState, SystemModel};
use bcos_consensus::pbft::SeededBug;
use bcos_consensus::{NodeIndex, Pbft};

/// Depth bound of stage 1 (the shortest decision in view 0 takes 5 steps of the reduced
/// model for n = 4).
pub const STAGE1_DEPTH_MAX: usize = 10;
/// Depth bound of stage 2 (the forks need 8 more steps for n = 4).
pub const STAGE2_DEPTH_DEFAULT: usize = 12;
/// The lock hider the scenario runs with by default under `commit-2f` and
/// `lock-not-durable`: node 3 (n = 4), neither the view-0 nor the view-1 leader.
pub const LOCK_HIDER: (NodeIndex, Role) = (3, Role::HideLock);

/// An outsider: one of the f nodes that lead the last f views of height 1, so neither the
/// view-0 nor the view-1 leader. It hears nothing in view 0.
fn outsider(cfg: &ModelCfg, node: NodeIndex) -> bool {
    let f = (cfg.n.saturating_sub(1)) / 3;
    // leader(1, v) = (1 + v) mod n, so node i leads view (i + n - 1) mod n.
    let view = (node + cfg.n - 1) % cfg.n;
    view >= cfg.n - f
}

fn stage1_allow(m: &SystemModel<Pbft>, _s: &SysState<Pbft>, step: &Step) -> bool {
    matches!(step, Step::Deliver(k) if !outsider(&m.cfg, key_dst(*k)))
}

fn decided(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> Vec<NodeIndex> {
    m.nodes(s)
        .enumerate()
        .filter(|(_, st)| !st.commits.is_empty())
        .map(|(i, _)| i as NodeIndex)
        .collect()
}

/// Exactly one node decided, an honest one, and not the view-1 leader (a decided node has
/// left the height, so a decided view-1 leader would leave view 1 without a leader and the
/// view change could never complete within the bound).
fn one_honest_decided(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> bool {
    let view1_leader = (1 + 1) % m.cfg.n;
    matches!(decided(m, s).as_slice(), [d] if m.cfg.is_honest(*d) && *d != view1_leader)
}

/// As [`one_honest_decided`], and every other honest node is unlocked.
fn one_decided_others_unlocked(m: &SystemModel<Pbft>, s: &SysState<Pbft>) -> bool {
    one_honest_decided(m, s)
        && m.nodes(s).enumerate().all(|(i, st)| {
            !m.cfg.is_honest(i as NodeIndex)
                || !st.commits.is_empty()
                || st.core.state().lock.is_none()
        })
}

fn stage2_allow(m: &SystemModel<Pbft>, s: &SysState<Pbft>, step: &Step) -> bool {
    let undecided = |i: NodeIndex| m.node(s, i).commits.is_empty();
    match *step {
        Step::Deliver(k) => m.message(k).view() >= 1 && undecided(key_dst(k)),
        Step::Drop(k) => m.message(k).view() >= 1,
        // Only the timeout that leaves an entered view: a node waiting for a new view would
        // only re-send its view change.
        Step::Timeout { node, .. } => m.node(s, node).core.state().view_active,
        Step::Restart(node) => undecided(node),
        Step::Gst => false,
    }
}

/// The scenario's defaults for `bug`: the Byzantine role and restarts the fork needs.
pub fn defaults(req: &CheckRequest, bug: Option<SeededBug>) -> Result<PbftRunCfg, ModelError> {
    let mut rc = run_cfg(req, bug)?;
    let hider = matches!(bug, Some(SeededBug::CommitTwoF | SeededBug::LockNotDurable));
    if req.byzantine.is_none() && hider {
        rc.cfg.byzantine = Some(LOCK_HIDER);
    }
    if req.faults.is_none() {
        rc.faults.restarts = if bug == Some(SeededBug::LockNotDurable) {
            Restarts::UpTo(1)
        } else {
            Restarts::None
        };
    }
    Ok(rc)
}

/// The scripted searches this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A block decided in view 0 must survive the view change; `strict` (for `commit-2f`):
    /// stage 1 also wants every undecided honest node unlocked.
    ViewChange { strict: bool },
}

pub fn check(
    req: &CheckRequest,
    bug: Option<SeededBug>,
    script: Script,
) -> Result<Report, ModelError> {
    let rc = defaults(req, bug)?;
    let mut opts = req.run.clone();
    opts.depth_max = match opts.depth_max {
        None => Some(STAGE2_DEPTH_DEFAULT),
        Some(0) => None,
        d => d,
    };
    let script = match script {
        Script::ViewChange { .. } => Script::ViewChange {
            strict: bug == Some(SeededBug::CommitTwoF),
        },
    };
    let label = label(&rc, &opts, "view-change scenario");
    let out = run_script(rc, &opts, script)?;
    Ok(Report::single(label, out))
}

/// Runs the two stages of `script`; `opts.depth_max` bounds stage 2.
pub fn run_script(
    rc: PbftRunCfg,
    opts: &RunOptions,
    script: Script,
) -> Result<Outcome, ModelError> {
    let PbftRunCfg {
        template,
        cfg,
        faults,
    } = rc;
    let inner = model(template, cfg, faults);
    let (stage1, stage2_name, stage2): (Stage<Pbft>, &str, Allow<Pbft>) = match script {
        Script::ViewChange { strict } => (
            Stage {
                name: "stage 1: view 0 with the outsiders cut off, until one honest node (not the view-1 leader) decides",
                allow: stage1_allow,
                goal: Some(if strict { one_decided_others_unlocked } else { one_honest_decided }),
                depth_max: STAGE1_DEPTH_MAX,
            },
            "stage 2: view change, view-0 messages in flight stay delayed",
            stage2_allow,
        ),
    };
    eprintln!("  {} ...", stage1.name);
    let path = reach(&inner, Vec::new(), &stage1, opts.threads).ok_or_else(|| {
        ModelError::NotAvailable(format!(
            "{}: no such state within {} steps",
            stage1.name, stage1.depth_max
        ))
    })?;
    let (steps_text, steps) = render_steps(&inner, &path, 1);
    eprintln!("  reached in {steps} steps; {stage2_name}");
    let prefix = format!(
        "  -- {} --\n{steps_text}  -- {stage2_name} --\n",
        stage1.name
    );
    let mut scripted = inner;
    scripted.init = vec![path.last_state().clone()];
    scripted.allow = Some(stage2);
    let mut opts = opts.clone();
    opts.trace_prefix = Some((prefix, steps));
    Ok(run(scripted, &opts, describe::<Pbft>))
}
