//! `ProtocolActor`: a stateright [`Actor`] over any [`ModelCore`], so the model checks the very
//! core the node runs. Inputs map one to one (`on_msg` → `Input::Message`, `on_timeout` →
//! `Input::Timeout`); outputs become stateright commands (sends, timers, `save` for the
//! durable record); commits are recorded in the actor state for the properties.
//!
//! Assumptions the adapter makes about a core (write them into the core's spec):
//! - `Broadcast` goes to every other node; the core accounts for its own message itself.
//! - `SetTimer` ticks are ignored: any set timer may fire at any later step.
//! - `Persist(d)` is a full snapshot of the durable state; it replaces the previous one.

use crate::byzantine::{self, Role};
use crate::core::{digest, roots_of, DurableRecord, ModelCore};
use bcos_consensus::{Input, NodeIndex, Output, Proposal};
use bcos_types::{Height, B256};
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Bounds a run of the pump loop; a core that keeps asking to propose the same height is a
/// bug the adapter reports rather than a hang.
const PUMP_STEPS_MAX: usize = 64;

/// One node of the model.
#[derive(Debug, Clone)]
pub struct ProtocolActor<P: ModelCore> {
    pub me: NodeIndex,
    pub n: u32,
    pub cfg: P::Config,
    /// The adapter proposes heights `1..=max_height` only, which bounds the state space.
    pub max_height: Height,
    pub role: Role,
}

/// The actor's volatile state: the core plus what the properties read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeState<P: ModelCore> {
    pub core: P,
    /// Height → committed block hash, as the core reported it.
    pub commits: BTreeMap<Height, B256>,
    /// Set when the core committed two different hashes at one height.
    pub self_conflict: bool,
    /// The highest height the sealer offered work for since this node's last start.
    pub signalled_through: Height,
    /// Nodes this node's core produced evidence against.
    pub accused: BTreeSet<NodeIndex>,
    /// A copy of what `save` last stored, so a later `Persist` or `Commit` can extend it.
    pub durable: DurableRecord<P::Durable>,
}

/// Read access to the commits of one node, for the property helpers.
pub trait CommitView {
    fn commits(&self) -> &BTreeMap<Height, B256>;
    fn self_conflict(&self) -> bool;
}

impl<P: ModelCore> CommitView for NodeState<P> {
    fn commits(&self) -> &BTreeMap<Height, B256> {
        &self.commits
    }
    fn self_conflict(&self) -> bool {
        self.self_conflict
    }
}

impl<P: ModelCore> ProtocolActor<P> {
    pub fn new(me: NodeIndex, n: u32, cfg: P::Config, max_height: Height, role: Role) -> Self {
        ProtocolActor {
            me,
            n,
            cfg,
            max_height,
            role,
        }
    }

    /// Feeds one input, applies its outputs, then lets the node execute and propose as the
    /// core allows.
    fn step(&self, st: &mut NodeState<P>, input: Input<P::Message, P::Timer>, o: &mut Out<Self>) {
        let outs = st.core.handle(input.clone());
        self.apply(st, outs, o);
        self.pump(st, Some(&input), o);
    }

    /// Execution results and proposals the driver would offer on its own.
    fn pump(
        &self,
        st: &mut NodeState<P>,
        handled: Option<&Input<P::Message, P::Timer>>,
        o: &mut Out<Self>,
    ) {
        if let Some(p) = handled.and_then(|i| st.core.to_execute(i)) {
            // Executing may itself enable a proposal; the loop below picks it up.
            let outs = st.core.handle(Input::Executed(roots_of(&p)));
            self.apply(st, outs, o);
        }
        for _ in 0..PUMP_STEPS_MAX {
            let h = st.core.next_height();
            if h > self.max_height {
                return;
            }
            // The core alone says whether it may propose (once per view for PBFT); the
            // step bound catches a core that never stops asking.
            let propose = st.core.may_propose();
            let signal = P::SIGNAL_PENDING_WORK && st.signalled_through < h;
            if !(propose || signal) {
                return;
            }
            st.signalled_through = st.signalled_through.max(h);
            let input = Input::Propose(Proposal {
                height: h,
                block_hash: digest(self.me, h, 0),
            });
            let outs = st.core.handle(input.clone());
            self.apply(st, outs, o);
            if let Some(p) = st.core.to_execute(&input) {
                let outs = st.core.handle(Input::Executed(roots_of(&p)));
                self.apply(st, outs, o);
            }
            if !propose {
                return;
            }
        }
    }

    fn apply(
        &self,
        st: &mut NodeState<P>,
        outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
        o: &mut Out<Self>,
    ) {
        for out in byzantine::transform::<P>(self.role, self.me, self.n, outs) {
            match out {
                Output::Persist(d) => {
                    st.durable.last = Some(d);
                    o.save(st.durable.clone());
                }
                Output::Send { to, msg } => o.send(Id::from(to as usize), msg),
                Output::Broadcast(msg) => {
                    for peer in (0..self.n).filter(|j| *j != self.me) {
                        o.send(Id::from(peer as usize), msg.clone());
                    }
                }
                Output::SetTimer { timer, .. } => o.set_timer(timer, model_timeout()),
                Output::CancelTimer(timer) => o.cancel_timer(timer),
                Output::Commit(d) => {
                    if let Some(prev) = st.commits.insert(d.height, d.block_hash) {
                        if prev != d.block_hash {
                            st.self_conflict = true;
                        }
                    }
                    st.durable.commits.insert(d.height, d.block_hash);
                    o.save(st.durable.clone());
                }
                Output::Evidence { culprit, .. } => {
                    st.accused.insert(culprit);
                }
            }
        }
    }

    /// Runs `f` on a copy of the state and keeps the copy only if something changed, so
    /// stateright sees no-ops as no-ops and prunes them.
    fn update(
        &self,
        state: &mut Cow<NodeState<P>>,
        o: &mut Out<Self>,
        f: impl FnOnce(&mut NodeState<P>, &mut Out<Self>),
    ) {
        let mut next = (**state).clone();
        let mut out = Out::new();
        f(&mut next, &mut out);
        if next != **state {
            *state = Cow::Owned(next);
        }
        o.append(&mut out);
    }
}

impl<P: ModelCore> Actor for ProtocolActor<P> {
    type Msg = P::Message;
    type Timer = P::Timer;
    type State = NodeState<P>;
    type Storage = DurableRecord<P::Durable>;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<Self::Storage>, o: &mut Out<Self>) -> Self::State {
        let core = P::boot(&self.cfg, self.me, self.n, storage.as_ref());
        let durable = storage.clone().unwrap_or_default();
        let mut st = NodeState {
            core,
            commits: durable.commits.clone(),
            self_conflict: false,
            signalled_through: 0,
            accused: BTreeSet::new(),
            durable,
        };
        if self.role != Role::Silent {
            let outs = st.core.after_boot(storage.is_some());
            self.apply(&mut st, outs, o);
            self.pump(&mut st, None, o);
        }
        st
    }

    fn on_msg(
        &self,
        _id: Id,
        state: &mut Cow<Self::State>,
        src: Id,
        msg: Self::Msg,
        o: &mut Out<Self>,
    ) {
        if self.role == Role::Silent {
            return;
        }
        let from = usize::from(src) as NodeIndex;
        self.update(state, o, |st, o| {
            self.step(st, Input::Message { from, msg }, o)
        });
    }

    fn on_timeout(
        &self,
        _id: Id,
        state: &mut Cow<Self::State>,
        timer: &Self::Timer,
        o: &mut Out<Self>,
    ) {
        if self.role == Role::Silent {
            return;
        }
        self.update(state, o, |st, o| {
            self.step(st, Input::Timeout(timer.clone()), o)
        });
    }

    fn name(&self) -> String {
        format!("node{}{}", self.me, self.role.suffix())
    }
}
