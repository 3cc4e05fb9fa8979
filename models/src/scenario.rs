//! Scripted environments: directed search for bugs whose shortest counterexample is too long
//! for plain breadth-first search (DESIGN.md "One core, three drivers").
//!
//! A scripted stage is the ordinary [`SystemModel`] with two restrictions, both of the
//! *environment* only: `allow` filters which deliveries, timer firings and restarts the
//! scheduler may take in a state, and `init` may start from a state an earlier stage
//! reached. Every step still runs the real core, so every path a scripted model finds is a
//! real execution of the unrestricted model (a subset of its schedules). The price is
//! completeness: a scripted run that passes says nothing about the schedules it filtered out.
//!
//! A search runs in stages: each stage but the last is a BFS for a `goal` state under its
//! own `allow`; the next stage starts from the goal state found; the last stage checks the
//! model's properties. [`Stage`] describes one, [`reach`] runs one.

use crate::core::ModelCore;
use crate::system::{Allow, Cond, Macro, SysState, SystemModel};
use stateright::{Checker, HasDiscoveries, Model, Path, Property};
use std::fmt::Write as _;

/// One stage of a scripted search: a goal to reach (`None` for the last stage, which checks
/// the model's own properties) under an environment restriction.
#[derive(Clone, Copy)]
pub struct Stage<P: ModelCore> {
    /// Shown in traces and progress ("view 0: node 0 cut off").
    pub name: &'static str,
    pub allow: Allow<P>,
    pub goal: Option<Cond<P>>,
    /// BFS depth bound of this stage (in steps of the reduced model).
    pub depth_max: usize,
}

/// Runs a goal stage from `init` (the booted cluster when empty): BFS under `stage.allow`
/// until a state meets the goal. Returns the path to it, or `None` if no such state lies
/// within the stage's depth bound.
pub fn reach<P: ModelCore>(
    model: &SystemModel<P>,
    init: Vec<SysState<P>>,
    stage: &Stage<P>,
    threads: usize,
) -> Option<Path<SysState<P>, Macro<P>>> {
    let goal = stage.goal?;
    let mut m = model.clone();
    m.init = init;
    m.allow = Some(stage.allow);
    m.properties = vec![Property::sometimes(stage.name, goal)];
    // Properties are checked only below the target depth (see runner).
    let checker = m
        .checker()
        .threads(threads.max(1))
        .target_max_depth(stage.depth_max + 2)
        .finish_when(HasDiscoveries::Any)
        .spawn_bfs()
        .join();
    checker.discovery(stage.name)
}

/// Renders the steps of `path` numbered from `first`, as the runner renders a
/// counterexample; returns the text and the number of steps.
pub fn render_steps<P: ModelCore>(
    model: &SystemModel<P>,
    path: &Path<SysState<P>, Macro<P>>,
    first: usize,
) -> (String, usize) {
    let mut s = String::new();
    let mut k = first;
    for a in path.clone().into_actions() {
        for step in &a.steps {
            let _ = writeln!(s, "  {k:>3}. {}", model.format_step(step));
            k += 1;
        }
    }
    (s, k - first)
}
