//! The default `check pbft` (`--scenario suite`): the runs that together cover what
//! spec/pbft.md's safety and liveness rules are about, each with its own verdict and
//! coverage (models/README.md "The default pbft check" has the measured table), and the
//! fair-form liveness run (`--scenario liveness`).
//!
//! The suite fixes its own configurations; `--threads`, `--states-max` and `--time-limit`
//! still apply to every run.

use super::pbft::{label, model, run_cfg, PbftRunCfg, PBFT_L1};
use super::pbft_scenario::{run_script, Script, LOCK_HIDER};
use super::{CheckRequest, ModelError, Report};
use crate::byzantine::Role;
use crate::faults::{Faults, Restarts};
use crate::properties::progress_always;
use crate::runner::{depth_or, run, Outcome, RunOptions, Search};
use crate::system::SystemModel;
use bcos_consensus::pbft::SeededBug;
use bcos_consensus::{NodeIndex, Pbft};
use stateright::Expectation;

pub const PBFT_L1_FAIR: &str =
    "PBFT-L1 progress (fair form): after GST every run commits every height on every honest node";

/// Views the liveness runs allow: a faulty view-0 or view-1 leader is replaced within them.
pub const LIVENESS_VIEWS: u64 = 2;

/// The fair-form liveness model of `rc`: no silent-step fusion (it preserves reachable
/// commits, not every terminal state), `eventually` L1, faults (restarts, loss, timers at
/// any time) only before a `Gst` step, or none at all with `gst_at_start`.
pub fn liveness_model(rc: PbftRunCfg, gst_at_start: bool) -> SystemModel<Pbft> {
    let mut m = model(rc.template, rc.cfg, rc.faults);
    m.properties
        .retain(|p| !(p.expectation == Expectation::Sometimes && p.name == PBFT_L1));
    m.properties.push(progress_always(PBFT_L1_FAIR));
    m.env.liveness = true;
    m.env.gst_at_start = gst_at_start;
    m.env.fuse_silent = false;
    m.bound = views_with_room;
    m
}

/// Views up to the bound after GST, one fewer before it: the faults must leave the fair
/// part room for one more view change, or a run cut by the bound would look stuck.
fn views_with_room(m: &SystemModel<Pbft>, s: &crate::system::SysState<Pbft>) -> bool {
    let limit = match m.cfg.bound {
        Some(v) if s.gst => v,
        Some(v) => v.saturating_sub(1),
        None => return true,
    };
    m.nodes(s).all(|st| st.core.view() <= limit)
}

fn with(
    req: &CheckRequest,
    byzantine: Option<(NodeIndex, Role)>,
    faults: Faults,
    views: u64,
    heights: u64,
) -> Result<PbftRunCfg, ModelError> {
    let mut rc = run_cfg(req, None)?;
    rc.cfg.byzantine = byzantine;
    rc.faults = faults;
    rc.cfg.bound = Some(views);
    rc.cfg.max_height = heights;
    Ok(rc)
}

fn opts(req: &CheckRequest, search: Search, depth: Option<usize>) -> RunOptions {
    RunOptions {
        search,
        depth_max: depth,
        ..req.run.clone()
    }
}

fn safety(restarts: Restarts) -> Faults {
    Faults {
        restarts,
        ..Faults::safety()
    }
}

type Run = (String, Outcome);

fn free(rc: PbftRunCfg, o: RunOptions, what: &str) -> Run {
    let label = label(&rc, &o, what);
    eprintln!("{label} ...");
    let out = run(
        model(rc.template, rc.cfg, rc.faults),
        &o,
        super::describe::<Pbft>,
    );
    (label, out)
}

fn scripted(rc: PbftRunCfg, o: RunOptions, script: Script, what: &str) -> Result<Run, ModelError> {
    let label = label(&rc, &o, what);
    eprintln!("{label} ...");
    Ok((label, run_script(rc, &o, script)?))
}

fn fair(rc: PbftRunCfg, o: RunOptions, gst_at_start: bool, what: &str) -> Run {
    let label = label(&rc, &o, what);
    eprintln!("{label} ...");
    let out = run(
        liveness_model(rc, gst_at_start),
        &o,
        super::describe::<Pbft>,
    );
    (label, out)
}

/// Steps of each random walk.
pub const WALK_DEPTH: usize = 80;
/// States each random-walk run visits (with repeats).
pub const WALK_STATES: usize = 100_000;

pub fn check(req: &CheckRequest) -> Result<Report, ModelError> {
    let bfs = Search::Bfs;
    let walks = Search::Simulation { seed: 1 };
    let every_fault = safety(Restarts::Any);
    let mut runs = vec![
        // Every state of view 0 with every fault: agreement on every commit a single view
        // can produce.
        free(
            with(req, None, safety(Restarts::UpTo(1)), 0, 1)?,
            opts(req, bfs, None),
            "view 0, every state",
        ),
        // Two heights: the vote cleanup and `last_commit` of height 1 (PBFT-R16, R18).
        free(
            with(req, Some((0, Role::Silent)), every_fault, 0, 2)?,
            opts(req, bfs, None),
            "two heights, every state",
        ),
        // A double voter counts towards two quorums (PBFT-R11).
        free(
            with(
                req,
                Some((2, Role::DoubleVote)),
                safety(Restarts::None),
                0,
                1,
            )?,
            opts(req, bfs, Some(5)),
            "double voter",
        ),
        // View changes, every state within the depth: locks carried, decisions after them.
        free(
            with(
                req,
                Some((0, Role::Silent)),
                safety(Restarts::UpTo(1)),
                1,
                1,
            )?,
            opts(req, bfs, Some(6)),
            "one view change",
        ),
        // A decided block across a view change with a lock hider among the voters.
        scripted(
            with(req, Some(LOCK_HIDER), safety(Restarts::UpTo(1)), 1, 1)?,
            opts(req, bfs, None),
            Script::ViewChange { strict: false },
            "view-change scenario",
        )?,
        // PBFT-L1/L2 in the fair form: a silent view-0 leader is replaced and the next
        // leader's block commits everywhere, on every fair schedule.
        fair(
            with(
                req,
                Some((1, Role::Silent)),
                safety(Restarts::None),
                LIVENESS_VIEWS,
                1,
            )?,
            opts(req, bfs, None),
            true,
            "liveness, fair form",
        ),
    ];
    // Deep random walks with every fault, one per Byzantine role (the exhaustive runs
    // above stop before an equivocating view-0 leader's split is resolved).
    for byz in [
        (1, Role::Equivocate),
        (2, Role::DoubleVote),
        (3, Role::HideLock),
        (0, Role::Honest),
    ] {
        let mut o = opts(req, walks, Some(WALK_DEPTH));
        o.states_max = Some(
            req.run
                .states_max
                .map_or(WALK_STATES, |n| n.min(WALK_STATES)),
        );
        runs.push(free(
            with(req, Some(byz), every_fault, 2, 2)?,
            o,
            "random walks",
        ));
    }
    Ok(Report { runs })
}

/// `--scenario liveness`: PBFT-L1 in the fair form for the requested configuration (by
/// default all honest, faults before GST: restarts and timers at any time).
pub fn liveness(req: &CheckRequest, bug: Option<SeededBug>) -> Result<Report, ModelError> {
    let mut rc = run_cfg(req, bug)?;
    rc.cfg.bound = Some(req.bound.unwrap_or(LIVENESS_VIEWS));
    if req.faults.is_none() {
        rc.faults = safety(Restarts::UpTo(1));
    }
    // GST at the start when no fault would stop: duplication and reordering do not.
    let gst_at_start = rc.faults.restarts == Restarts::None && !rc.faults.loss;
    let o = RunOptions {
        depth_max: depth_or(req.run.depth_max, None),
        ..req.run.clone()
    };
    let (label, out) = fair(rc, o, gst_at_start, "liveness (fair form)");
    Ok(Report::single(label, out))
}
