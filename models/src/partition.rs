//! `Partitioned<P>`: a stateright [`Model`] around a [`CoreModel`] that adds network
//! partitions and transition checks, without changing the wrapped model.
//!
//! - **Partitions.** While `cut` is `Some(c)`, no message crosses between node `c` and the
//!   others: such deliveries are disabled (they wait, or are dropped if the network is
//!   lossy). The environment cuts a node off at most `partitions_max` times and may heal the
//!   cut at any step. Stateright's `ActorModel` has no environment actions of its own, so
//!   the wrapper adds `Cut(node)` and `Heal`.
//! - **Action filter.** `allow` may disable actions of the wrapped model (raft: which nodes
//!   may time out), a documented restriction of the environment that keeps the space small.
//! - **Transition checks.** Properties see one state; some safety properties (a leader never
//!   rewrites its log, a new leader holds every committed entry) are about a step. `on_step`
//!   sees the states before and after each step, may note numbers in the state's `memo`
//!   (raft: the term each height was first committed in) and returns flags that stay set in
//!   the state, so an `always` property can test them.

use crate::actor::ProtocolActor;
use crate::core::ModelCore;
use crate::model::CoreModel;
use bcos_consensus::NodeIndex;
use stateright::actor::{ActorModelAction, ActorModelState};
use stateright::{Model, Property};
use std::collections::BTreeMap;

/// The wrapped model's state and action.
pub type InnerState<P> = ActorModelState<ProtocolActor<P>, ()>;
pub type InnerAction<P> = ActorModelAction<
    <P as bcos_consensus::Protocol>::Message,
    <P as bcos_consensus::Protocol>::Timer,
    (),
>;

/// A step check: flags to set after the step from `before` to `after`; it may update `memo`.
pub type StepCheck<P> =
    fn(&CoreModel<P>, &InnerState<P>, &InnerState<P>, &mut BTreeMap<u64, u64>) -> u8;

/// Whether the wrapped model's action may be taken in a state.
pub type ActionFilter<P> = fn(&CoreModel<P>, &InnerState<P>, &InnerAction<P>) -> bool;

/// The wrapper model.
pub struct Partitioned<P: ModelCore> {
    pub inner: CoreModel<P>,
    pub partitions_max: u8,
    pub properties: Vec<Property<Partitioned<P>>>,
    pub on_step: StepCheck<P>,
    pub allow: ActionFilter<P>,
}

impl<P: ModelCore> Clone for Partitioned<P> {
    fn clone(&self) -> Self {
        Partitioned {
            inner: self.inner.clone(),
            partitions_max: self.partitions_max,
            properties: self.properties.clone(),
            on_step: self.on_step,
            allow: self.allow,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PState<P: ModelCore> {
    pub inner: InnerState<P>,
    /// The node cut off from all others, if any.
    pub cut: Option<NodeIndex>,
    pub cuts_used: u8,
    /// Flags `on_step` raised on the path to this state.
    pub flags: u8,
    /// What `on_step` noted on the path to this state.
    pub memo: BTreeMap<u64, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PAction<P: ModelCore> {
    Env(InnerAction<P>),
    Cut(NodeIndex),
    Heal,
}

impl<P: ModelCore> Partitioned<P> {
    fn crosses(cut: Option<NodeIndex>, a: usize, b: usize) -> bool {
        match cut {
            Some(c) => (a == c as usize) != (b == c as usize),
            None => false,
        }
    }
}

impl<P: ModelCore> Model for Partitioned<P> {
    type State = PState<P>;
    type Action = PAction<P>;

    fn init_states(&self) -> Vec<Self::State> {
        self.inner
            .init_states()
            .into_iter()
            .map(|inner| PState {
                inner,
                cut: None,
                cuts_used: 0,
                flags: 0,
                memo: BTreeMap::new(),
            })
            .collect()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut inner = Vec::new();
        self.inner.actions(&state.inner, &mut inner);
        for a in inner {
            if let ActorModelAction::Deliver { src, dst, .. } = &a {
                if Self::crosses(state.cut, usize::from(*src), usize::from(*dst)) {
                    continue;
                }
            }
            if (self.allow)(&self.inner, &state.inner, &a) {
                actions.push(PAction::Env(a));
            }
        }
        match state.cut {
            Some(_) => actions.push(PAction::Heal),
            None if state.cuts_used < self.partitions_max => {
                for i in 0..state.inner.actor_states.len() {
                    actions.push(PAction::Cut(i as NodeIndex));
                }
            }
            None => {}
        }
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        match action {
            PAction::Env(a) => {
                let inner = self.inner.next_state(&last.inner, a)?;
                let mut memo = last.memo.clone();
                let flags =
                    last.flags | (self.on_step)(&self.inner, &last.inner, &inner, &mut memo);
                Some(PState {
                    inner,
                    flags,
                    memo,
                    ..last.clone()
                })
            }
            PAction::Cut(c) => Some(PState {
                cut: Some(c),
                cuts_used: last.cuts_used + 1,
                ..last.clone()
            }),
            PAction::Heal => Some(PState {
                cut: None,
                ..last.clone()
            }),
        }
    }

    fn format_action(&self, action: &Self::Action) -> String {
        match action {
            PAction::Env(a) => Model::format_action(&self.inner, a),
            PAction::Cut(c) => format!("PARTITION: node{c} cut off from the others"),
            PAction::Heal => "HEAL: the partition ends".to_string(),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        Model::within_boundary(&self.inner, &state.inner)
    }
}
