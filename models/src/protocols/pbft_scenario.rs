//! The scripted PBFT scenario `view-change` (spec/pbft.md PBFT-S3): a block decided in view 0
//! must survive the view change to view 1. The shortest run that breaks S3 under the seeded
//! `NoLock` bug has about 27 steps, far beyond breadth-first search of the free model, so
//! the search is directed in two stages ([`crate::scenario`]); every step still runs the real
//! core, so a counterexample is a real execution of the unrestricted model.
//!
//! 1. **view 0, outsiders cut off** (BFS for a goal): the f "outsider" nodes (the leaders of
//!    the last f views, node 0 for n = 4) receive nothing, no timer fires, nothing is lost or
//!    crashes; the goal is the first state where exactly one node decided height 1, an honest
//!    one other than the view-1 leader.
//! 2. **view change** (the checked stage, from that state): view-0 messages still in flight
//!    stay delayed past the horizon (they are never delivered), a node that decided hears
//!    nothing more (it left the height; its answers would be view-0 commits), and a timer
//!    fires only to leave an entered view (not to re-send a view change: retransmissions
//!    only add copies of messages already in flight). Everything else may happen: any
//!    delivery of a view >= 1 message to an undecided node in any order, and the loss,
//!    duplication and crashes `--faults` asks for. Views stay <= `--views`
//!    (default 1). The model's properties are checked here. The network always reorders
//!    here (a delayed view-0 message must not block its FIFO channel).
//!
//! With the correct core, stage 2 re-proposes the decided block (the locks travel in the view
//! changes) and passes; with `NoLock` the new leader proposes a fresh block that the other
//! 2f + 1 nodes decide (PBFT-S1 names the fork).

use super::describe;
use super::pbft::{model, PbftRunCfg};
use super::ModelError;
use crate::faults::Faults;
use crate::model::ModelCfg;
use crate::runner::{run, Outcome, RunOptions};
use crate::scenario::{reach, render_steps, Action, Scripted, Stage, State};
use bcos_consensus::{NodeIndex, Pbft};
use stateright::actor::ActorModelAction;

/// Views stage 2 explores by default: one view change.
pub const VIEWS_DEFAULT: u64 = 1;
/// Depth bound of stage 1 (the shortest decision in view 0 takes 10 steps for n = 4).
pub const STAGE1_DEPTH_MAX: usize = 16;
/// Depth bound of stage 2 (the NoLock fork needs 17 more steps for n = 4).
pub const STAGE2_DEPTH_DEFAULT: usize = 20;

/// An outsider: one of the f nodes that lead the last f views of height 1, so neither the
/// view-0 nor the view-1 leader. It hears nothing in view 0.
fn outsider(cfg: &ModelCfg, node: NodeIndex) -> bool {
    let f = (cfg.n.saturating_sub(1)) / 3;
    // leader(1, v) = (1 + v) mod n, so node i leads view (i + n - 1) mod n.
    let view = (node + cfg.n - 1) % cfg.n;
    view >= cfg.n - f
}

fn stage1_allow(cfg: &ModelCfg, _s: &State<Pbft>, a: &Action<Pbft>) -> bool {
    matches!(a, ActorModelAction::Deliver { dst, .. } if !outsider(cfg, usize::from(*dst) as NodeIndex))
}

/// Exactly one node decided, an honest one, and not the view-1 leader (a decided node has
/// left the height, so a decided view-1 leader would leave view 1 without a leader and the
/// view change could never complete within the bound).
fn one_honest_decided(cfg: &ModelCfg, s: &State<Pbft>) -> bool {
    let view1_leader = (1 + 1) % cfg.n;
    let decided: Vec<NodeIndex> = s
        .actor_states
        .iter()
        .enumerate()
        .filter(|(_, st)| !st.commits.is_empty())
        .map(|(i, _)| i as NodeIndex)
        .collect();
    matches!(decided.as_slice(), [d] if cfg.is_honest(*d) && *d != view1_leader)
}

fn stage2_allow(_cfg: &ModelCfg, s: &State<Pbft>, a: &Action<Pbft>) -> bool {
    let undecided = |id: &stateright::actor::Id| {
        s.actor_states
            .get(usize::from(*id))
            .is_some_and(|st| st.commits.is_empty())
    };
    match a {
        ActorModelAction::Deliver { msg, dst, .. } => msg.view() >= 1 && undecided(dst),
        ActorModelAction::Drop(env) => env.msg.view() >= 1,
        // Only the timeout that leaves an entered view: a node waiting for a new view would
        // only re-send its view change, and nothing is lost unless `--faults loss`.
        ActorModelAction::Timeout(id, _) => s
            .actor_states
            .get(usize::from(*id))
            .is_some_and(|st| st.core.state().view_active),
        _ => true,
    }
}

/// Runs the two stages; `opts.depth_max` bounds stage 2.
pub fn check(run_cfg: PbftRunCfg, opts: &RunOptions) -> Result<Outcome, ModelError> {
    let PbftRunCfg {
        template,
        mut cfg,
        faults,
    } = run_cfg;
    cfg.bound = Some(cfg.bound.unwrap_or(VIEWS_DEFAULT));
    // Delayed view-0 messages must not block a FIFO channel, so the network reorders.
    let faults = Faults {
        reordering: true,
        ..faults
    };
    let inner = model(template, cfg, faults);
    let stage1 = Stage::<Pbft> {
        name: "stage 1: view 0 with the outsiders cut off, until one honest node (not the view-1 leader) decides",
        allow: stage1_allow,
        goal: Some(one_honest_decided),
        depth_max: STAGE1_DEPTH_MAX,
    };
    eprintln!("{} ...", stage1.name);
    let path = reach(&inner, Vec::new(), &stage1, opts.threads).ok_or_else(|| {
        ModelError::NotAvailable(format!(
            "{}: no decision within {} steps (the configuration admits no view-0 quorum \
             without the outsiders)",
            stage1.name, stage1.depth_max
        ))
    })?;
    let steps = path.clone().into_actions().len();
    let stage2_name = "stage 2: view change, view-0 messages in flight stay delayed";
    eprintln!("  reached in {steps} steps; {stage2_name}");
    let prefix = format!(
        "  -- {} --\n{}  -- {stage2_name} --\n",
        stage1.name,
        render_steps(&inner, &path, 1)
    );
    let scripted = Scripted {
        inner,
        init: vec![path.last_state().clone()],
        allow: stage2_allow,
        goal: None,
    };
    let mut opts = opts.clone();
    opts.depth_max = Some(opts.depth_max.unwrap_or(STAGE2_DEPTH_DEFAULT));
    opts.trace_prefix = Some((prefix, steps));
    Ok(run(scripted, &opts, describe::<Pbft>))
}
