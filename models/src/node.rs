//! One node of a model: the real core plus what the driver around it does (execute, propose,
//! persist, arm timers), as a pure function from (node state, input) to (node state, sends).
//! The core is the one the node runs (DESIGN.md "One core, three drivers"); inputs map one
//! to one (`Deliver` → `Input::Message`, `Timeout` → `Input::Timeout`, `Restart` → boot from
//! the durable record).
//!
//! Assumptions the adapter makes about a core (write them into the core's spec):
//! - `Broadcast` goes to every other node; the core accounts for its own message itself.
//! - `SetTimer` ticks are ignored: any set timer may fire at any later step.
//! - `Persist(d)` is a full snapshot of the durable state; it replaces the previous one.

use crate::byzantine::{self, Role};
use crate::core::{digest, roots_of, DurableRecord, ModelCore};
use bcos_consensus::{Input, NodeIndex, Output, Proposal};
use bcos_types::{Height, B256};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

/// Bounds a run of the pump loop; a core that keeps asking to propose the same height is a
/// bug the adapter reports rather than a hang.
const PUMP_STEPS_MAX: usize = 64;

/// The static part of one node: who it is and how it behaves.
#[derive(Debug, Clone)]
pub struct NodeSpec<P: ModelCore> {
    pub me: NodeIndex,
    pub n: u32,
    pub cfg: P::Config,
    /// The adapter proposes heights `1..=max_height` only, which bounds the state space.
    pub max_height: Height,
    pub role: Role,
}

/// A node's state: the core plus what the properties read and the driver keeps. Its hash is
/// computed once, when the state is built ([`Node::seal`]).
#[derive(Debug, Clone)]
pub struct Node<P: ModelCore> {
    pub core: P,
    /// Height → committed block hash, as the core reported it.
    pub commits: BTreeMap<Height, B256>,
    /// Set when the core committed two different hashes at one height.
    pub self_conflict: bool,
    /// The highest height the sealer offered work for since this node's last start.
    pub signalled_through: Height,
    /// Nodes this node's core produced evidence against.
    pub accused: BTreeSet<NodeIndex>,
    /// What survives a crash: the last `Persist` and the committed blocks.
    pub durable: DurableRecord<P::Durable>,
    /// Armed timers (any of them may fire at any later step).
    pub timers: BTreeSet<P::Timer>,
    hash: u64,
}

impl<P: ModelCore> PartialEq for Node<P> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.core == other.core
            && self.commits == other.commits
            && self.self_conflict == other.self_conflict
            && self.signalled_through == other.signalled_through
            && self.accused == other.accused
            && self.durable == other.durable
            && self.timers == other.timers
    }
}
impl<P: ModelCore> Eq for Node<P> {}

impl<P: ModelCore> Hash for Node<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<P: ModelCore> Node<P> {
    /// Recomputes the cached hash after the fields changed.
    fn seal(mut self) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.core.hash(&mut h);
        self.commits.hash(&mut h);
        self.self_conflict.hash(&mut h);
        self.signalled_through.hash(&mut h);
        self.accused.hash(&mut h);
        self.durable.hash(&mut h);
        self.timers.hash(&mut h);
        self.hash = h.finish();
        self
    }

    pub fn digest(&self) -> u64 {
        self.hash
    }

    /// What the properties observe of this node: its commits and the protocol's digest.
    pub fn observed(&self) -> (&BTreeMap<Height, B256>, bool, u64) {
        (&self.commits, self.self_conflict, self.core.observed())
    }
}

/// Read access to the commits of one node, for the property helpers.
pub trait CommitView {
    fn commits(&self) -> &BTreeMap<Height, B256>;
    fn self_conflict(&self) -> bool;
}

impl<P: ModelCore> CommitView for Node<P> {
    fn commits(&self) -> &BTreeMap<Height, B256> {
        &self.commits
    }
    fn self_conflict(&self) -> bool {
        self.self_conflict
    }
}

/// What a node does with one input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeInput<P: ModelCore> {
    Deliver {
        from: NodeIndex,
        msg: P::Message,
    },
    Timeout(P::Timer),
    /// Crash and immediate recovery from the durable record.
    Restart,
}

/// Messages a step sends: (destination, message).
pub type Sends<P> = Vec<(NodeIndex, <P as bcos_consensus::Protocol>::Message)>;

impl<P: ModelCore> NodeSpec<P> {
    /// A node starting (`restored` = `None`) or restarting from its durable record.
    pub fn boot(&self, restored: Option<&DurableRecord<P::Durable>>) -> (Node<P>, Sends<P>) {
        let core = P::boot(&self.cfg, self.me, self.n, restored);
        let durable = restored.cloned().unwrap_or_default();
        let mut st = Node {
            core,
            commits: durable.commits.clone(),
            self_conflict: false,
            signalled_through: 0,
            accused: BTreeSet::new(),
            durable,
            timers: BTreeSet::new(),
            hash: 0,
        };
        let mut sends = Vec::new();
        if self.role != Role::Silent {
            let outs = st.core.after_boot(restored.is_some());
            self.apply(&mut st, outs, &mut sends);
            self.pump(&mut st, None, &mut sends);
        }
        (st.seal(), sends)
    }

    /// The node's next state and sends after `input`; `None` when the input changes
    /// nothing and sends nothing (a no-op the model skips).
    pub fn step(&self, node: &Node<P>, input: &NodeInput<P>) -> Option<(Node<P>, Sends<P>)> {
        if self.role == Role::Silent {
            return None;
        }
        let (next, sends) = match input {
            NodeInput::Restart => self.boot(Some(&node.durable)),
            NodeInput::Deliver { from, msg } => {
                let mut st = node.clone();
                let mut sends = Vec::new();
                self.feed(
                    &mut st,
                    Input::Message {
                        from: *from,
                        msg: msg.clone(),
                    },
                    &mut sends,
                );
                (st.seal(), sends)
            }
            NodeInput::Timeout(timer) => {
                if !node.timers.contains(timer) {
                    return None;
                }
                let mut st = node.clone();
                st.timers.remove(timer);
                let mut sends = Vec::new();
                self.feed(&mut st, Input::Timeout(timer.clone()), &mut sends);
                (st.seal(), sends)
            }
        };
        if sends.is_empty() && next == *node {
            return None;
        }
        Some((next, sends))
    }

    /// Feeds one input, applies its outputs, then lets the node execute and propose as the
    /// core allows.
    fn feed(&self, st: &mut Node<P>, input: Input<P::Message, P::Timer>, sends: &mut Sends<P>) {
        let outs = st.core.handle(input.clone());
        self.apply(st, outs, sends);
        self.pump(st, Some(&input), sends);
    }

    /// Execution results and proposals the driver would offer on its own.
    fn pump(
        &self,
        st: &mut Node<P>,
        handled: Option<&Input<P::Message, P::Timer>>,
        sends: &mut Sends<P>,
    ) {
        if let Some(p) = handled.and_then(|i| st.core.to_execute(i)) {
            // Executing may itself enable a proposal; the loop below picks it up.
            let outs = st.core.handle(Input::Executed(roots_of(&p)));
            self.apply(st, outs, sends);
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
            if propose {
                st.core.before_propose(&self.cfg, h);
            }
            let input = Input::Propose(Proposal {
                height: h,
                block_hash: digest(self.me, h, 0),
            });
            let outs = st.core.handle(input.clone());
            self.apply(st, outs, sends);
            if let Some(p) = st.core.to_execute(&input) {
                let outs = st.core.handle(Input::Executed(roots_of(&p)));
                self.apply(st, outs, sends);
            }
            if !propose {
                return;
            }
        }
    }

    fn apply(
        &self,
        st: &mut Node<P>,
        outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
        sends: &mut Sends<P>,
    ) {
        for out in byzantine::transform::<P>(self.role, self.me, self.n, outs) {
            match out {
                Output::Persist(d) => st.durable.last = Some(d),
                Output::Send { to, msg } => sends.push((to, msg)),
                Output::Broadcast(msg) => {
                    for peer in (0..self.n).filter(|j| *j != self.me) {
                        sends.push((peer, msg.clone()));
                    }
                }
                Output::SetTimer { timer, .. } => {
                    st.timers.insert(timer);
                }
                Output::CancelTimer(timer) => {
                    st.timers.remove(&timer);
                }
                Output::Commit(d) => {
                    if let Some(prev) = st.commits.insert(d.height, d.block_hash) {
                        if prev != d.block_hash {
                            st.self_conflict = true;
                        }
                    }
                    st.durable.commits.insert(d.height, d.block_hash);
                }
                Output::Evidence { culprit, .. } => {
                    st.accused.insert(culprit);
                }
            }
        }
    }
}
