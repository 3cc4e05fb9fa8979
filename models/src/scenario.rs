//! Scripted environments: directed search for bugs whose shortest counterexample is too long
//! for plain breadth-first search (DESIGN.md "One core, three drivers").
//!
//! A [`Scripted`] model is the ordinary [`CoreModel`] with two restrictions, both of the
//! *environment* only: `allow` filters which deliveries, drops, timer firings and crashes the
//! scheduler may pick in a state, and `init` may start from a state an earlier stage reached.
//! Every step still goes through the real core via the inner model's `next_state`, so every
//! path a scripted model finds is a real execution of the unrestricted model (a subset of its
//! schedules). The price is completeness: a scripted run that passes says nothing about the
//! schedules it filtered out.
//!
//! A search runs in stages: each stage but the last is a BFS for a `goal` state (a `sometimes`
//! property) under its own `allow`; the next stage starts from the goal state found; the last
//! stage checks the inner model's properties. [`Stage`] describes one, [`reach`] runs one.

use crate::actor::ProtocolActor;
use crate::core::ModelCore;
use crate::model::{CoreModel, ModelCfg};
use stateright::actor::{ActorModelAction, ActorModelState};
use stateright::{Checker, HasDiscoveries, Model, Path, Property};
use std::fmt::Write as _;

/// A state of the PBFT/solo models.
pub type State<P> = ActorModelState<ProtocolActor<P>, ()>;
/// An environment action of those models.
pub type Action<P> = ActorModelAction<
    <P as bcos_consensus::Protocol>::Message,
    <P as bcos_consensus::Protocol>::Timer,
    (),
>;
/// Which actions the scripted environment may take in a state.
pub type Allow<P> = fn(&ModelCfg, &State<P>, &Action<P>) -> bool;
/// A stage's goal.
pub type Goal<P> = fn(&ModelCfg, &State<P>) -> bool;

/// One stage of a scripted search: a goal to reach (`None` for the last stage, which checks
/// the model's own properties) under an environment restriction.
#[derive(Clone, Copy)]
pub struct Stage<P: ModelCore> {
    /// Shown in traces and progress ("view 0: node 0 cut off").
    pub name: &'static str,
    pub allow: Allow<P>,
    pub goal: Option<Goal<P>>,
    /// BFS depth bound of this stage.
    pub depth_max: usize,
}

/// The inner model restricted by `allow`, starting from `init` (the inner model's initial
/// states when empty).
#[derive(Clone)]
pub struct Scripted<P: ModelCore> {
    pub inner: CoreModel<P>,
    pub init: Vec<State<P>>,
    pub allow: Allow<P>,
    /// `Some`: the only property is `sometimes goal` (named by the stage); `None`: the inner
    /// model's properties.
    pub goal: Option<(&'static str, Goal<P>)>,
}

/// How many inner properties a scripted model can carry (fn pointers cannot capture an
/// index, so each index has its own monomorphised lifter).
const LIFTED_MAX: usize = 8;

fn lifted<const I: usize, P: ModelCore>(m: &Scripted<P>, s: &State<P>) -> bool {
    m.inner
        .properties
        .get(I)
        .is_none_or(|p| (p.condition)(&m.inner, s))
}

type Cond<P> = fn(&Scripted<P>, &State<P>) -> bool;

fn lifters<P: ModelCore>() -> [Cond<P>; LIFTED_MAX] {
    [
        lifted::<0, P>,
        lifted::<1, P>,
        lifted::<2, P>,
        lifted::<3, P>,
        lifted::<4, P>,
        lifted::<5, P>,
        lifted::<6, P>,
        lifted::<7, P>,
    ]
}

fn goal_met<P: ModelCore>(m: &Scripted<P>, s: &State<P>) -> bool {
    m.goal.is_some_and(|(_, g)| g(&m.inner.cfg, s))
}

impl<P: ModelCore> Model for Scripted<P> {
    type State = State<P>;
    type Action = Action<P>;

    fn init_states(&self) -> Vec<Self::State> {
        if self.init.is_empty() {
            self.inner.init_states()
        } else {
            self.init.clone()
        }
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut all = Vec::new();
        self.inner.actions(state, &mut all);
        actions.extend(
            all.into_iter()
                .filter(|a| (self.allow)(&self.inner.cfg, state, a)),
        );
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        self.inner.next_state(last, action)
    }

    fn format_action(&self, action: &Self::Action) -> String {
        self.inner.format_action(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        if let Some((name, _)) = self.goal {
            return vec![Property::sometimes(name, goal_met::<P>)];
        }
        let lift = lifters::<P>();
        self.inner
            .properties
            .iter()
            .take(LIFTED_MAX)
            .enumerate()
            .map(|(i, p)| Property {
                expectation: p.expectation.clone(),
                name: p.name,
                condition: lift[i],
            })
            .collect()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        Model::within_boundary(&self.inner, state)
    }
}

/// Runs a goal stage from `init`: BFS under `stage.allow` until a state meets the goal.
/// Returns the path to it, or `None` if no such state lies within the stage's depth bound.
pub fn reach<P: ModelCore>(
    inner: &CoreModel<P>,
    init: Vec<State<P>>,
    stage: &Stage<P>,
    threads: usize,
) -> Option<Path<State<P>, Action<P>>> {
    let goal = stage.goal?;
    let m = Scripted {
        inner: inner.clone(),
        init,
        allow: stage.allow,
        goal: Some((stage.name, goal)),
    };
    // Properties are checked only below the bound, hence the + 2 (as in runner).
    let checker = m
        .checker()
        .threads(threads.max(1))
        .target_max_depth(stage.depth_max + 2)
        .finish_when(HasDiscoveries::Any)
        .spawn_bfs()
        .join();
    checker.discovery(stage.name)
}

/// Renders the steps of `path` numbered from `first`, as the runner renders a counterexample.
pub fn render_steps<P: ModelCore>(
    inner: &CoreModel<P>,
    path: &Path<State<P>, Action<P>>,
    first: usize,
) -> String {
    let mut s = String::new();
    for (i, a) in path.clone().into_actions().iter().enumerate() {
        let _ = writeln!(s, "  {:>3}. {}", first + i, inner.format_action(a));
    }
    s
}
