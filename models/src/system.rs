//! `SystemModel<P>`: n nodes running core `P` over a modelled network, as a stateright
//! [`Model`]. The environment delivers messages (in any order the network kind allows), fires
//! armed timers, restarts nodes from their durable records and, if lossy, drops messages;
//! every step runs the real core ([`crate::node`]).
//!
//! **Reductions** (each argued in models/README.md "Reductions"):
//! - *Silent-step fusion* (Lipton). A step of node `i` is silent when it adds no message to
//!   the network and changes nothing the properties observe (`Node::observed`: commits and
//!   the protocol's digest). A silent step commutes with every step of every other node
//!   (nothing they do depends on it, and it cannot disable them), so in any execution it can
//!   be moved right until `i`'s next step, or dropped if `i` takes none. A transition here is
//!   therefore a *macro*: silent steps of one node and then one non-silent step of the same
//!   node. States just after a silent step are never stored. Off for liveness runs.
//! - *Atomic restart.* A crash and the recovery of the same node commute with every step of
//!   the other nodes in between (a crashed node receives nothing), so they form one step
//!   and states with a node down are never stored (they hold the commits of the state
//!   before the crash).
//! - *Duplicating network as a set* ([`NetKind::Set`]): every delivery order and repetition
//!   the other kinds allow, and its content is what was sent, not what is left, so it adds
//!   little to a state.
//!
//! An environment filter (`allow`) may restrict steps; it must depend only on the acting
//! node's own state and the step (scripted stages use one) so the commutations above hold.

use crate::core::ModelCore;
use crate::intern::FastHasher;
use crate::memo::{Effect, Input, Memo};
use crate::model::ModelCfg;
use crate::net::{key_dst, Key, Net, NetKind};
use crate::node::{Node, NodeSpec};
use crate::stats::Coverage;
use bcos_consensus::NodeIndex;
use stateright::{Model, Property};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

/// A state of the whole system: node states and messages by their ids in the model's
/// tables ([`Memo`]), so a state is a few small vectors.
pub struct SysState<P: ModelCore> {
    /// Node i's state id.
    pub nodes: Vec<u32>,
    pub net: Net,
    /// Restarts taken (counted only when the faults bound them).
    pub restarts: u8,
    /// Liveness runs: the faults have stopped (global stabilisation time).
    pub gst: bool,
    /// Flags the model's step check raised on the path here.
    pub flags: u8,
    /// What the step check noted on the path here.
    pub notes: Arc<BTreeMap<u64, u64>>,
    core: PhantomData<fn() -> P>,
}

impl<P: ModelCore> Clone for SysState<P> {
    fn clone(&self) -> Self {
        SysState {
            nodes: self.nodes.clone(),
            net: self.net.clone(),
            restarts: self.restarts,
            gst: self.gst,
            flags: self.flags,
            notes: Arc::clone(&self.notes),
            core: PhantomData,
        }
    }
}

impl<P: ModelCore> fmt::Debug for SysState<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysState")
            .field("nodes", &self.nodes)
            .field("net", &self.net)
            .field("restarts", &self.restarts)
            .field("gst", &self.gst)
            .field("flags", &self.flags)
            .finish()
    }
}

impl<P: ModelCore> PartialEq for SysState<P> {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
            && self.net == other.net
            && self.restarts == other.restarts
            && self.gst == other.gst
            && self.flags == other.flags
            && self.notes == other.notes
    }
}
impl<P: ModelCore> Eq for SysState<P> {}

impl<P: ModelCore> Hash for SysState<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for n in &self.nodes {
            state.write_u32(*n);
        }
        self.net.hash(state);
        state.write_u8(self.restarts);
        state.write_u8(u8::from(self.gst));
        state.write_u8(self.flags);
        if !self.notes.is_empty() {
            self.notes.hash(state);
        }
    }
}

fn digest<T: Hash>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

type FastSet = HashSet<u64, BuildHasherDefault<FastHasher>>;

/// Silent states one node's macros may pass through from one state. Silent deliveries need
/// not commute, so a node with k of them pending has up to 2^k silent states; past this
/// many, a silent state ends its macro like a non-silent one (less reduction, still sound).
const SILENT_STATES_MAX: usize = 256;

/// One step of the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The message in flight under this key is delivered to its destination.
    Deliver(Key),
    /// Node `node`'s timer (by id) fires.
    Timeout { node: NodeIndex, timer: u32 },
    /// Crash, then recovery from the durable record, as one step.
    Restart(NodeIndex),
    /// A lossy network loses the message.
    Drop(Key),
    /// Liveness runs: the faults stop from here on.
    Gst,
}

impl Step {
    /// The node whose state the step changes (a drop is the receiver's: it takes a message
    /// away from it).
    pub fn node(&self) -> Option<NodeIndex> {
        match self {
            Step::Deliver(k) | Step::Drop(k) => Some(key_dst(*k)),
            Step::Timeout { node, .. } | Step::Restart(node) => Some(*node),
            Step::Gst => None,
        }
    }
}

/// A transition: one node's silent steps and then its non-silent one (or one step), with
/// the state they lead to (kept so `next_state` need not run the cores again).
pub struct Macro<P: ModelCore> {
    pub steps: Vec<Step>,
    pub result: Arc<SysState<P>>,
}

impl<P: ModelCore> Clone for Macro<P> {
    fn clone(&self) -> Self {
        Macro {
            steps: self.steps.clone(),
            result: Arc::clone(&self.result),
        }
    }
}

impl<P: ModelCore> PartialEq for Macro<P> {
    fn eq(&self, other: &Self) -> bool {
        self.steps == other.steps
    }
}

impl<P: ModelCore> fmt::Debug for Macro<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.steps).finish()
    }
}

/// A condition on a system state (properties, goals, coverage probes).
pub type Cond<P> = fn(&SystemModel<P>, &SysState<P>) -> bool;
/// Which steps the environment may take (node-local, see the module docs).
pub type Allow<P> = fn(&SystemModel<P>, &SysState<P>, &Step) -> bool;
/// A step check: flags to raise for the transition from `before` to `after`; it may note
/// numbers (raft: the term each height was first committed in).
pub type StepCheck<P> =
    fn(&SystemModel<P>, &SysState<P>, &SysState<P>, &mut BTreeMap<u64, u64>) -> u8;

/// Fault and search switches of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    pub net: NetKind,
    pub loss: bool,
    /// Restarts allowed in all (`None`: any number).
    pub restarts_max: Option<u8>,
    /// Silent-step fusion (off for liveness).
    pub fuse_silent: bool,
    /// Liveness form: a `Gst` step ends the faults; after it a timer fires only when no
    /// delivery would change any node (timeouts outlast message delays).
    pub liveness: bool,
    /// Liveness form: the run starts after GST (no faults at all).
    pub gst_at_start: bool,
}

/// The model.
pub struct SystemModel<P: ModelCore> {
    pub specs: Vec<NodeSpec<P>>,
    pub cfg: ModelCfg,
    pub env: Env,
    /// States outside it are not expanded (pbft: views ≤ N; raft: terms ≤ N).
    pub bound: Cond<P>,
    pub allow: Option<Allow<P>>,
    /// Initial states (the booted cluster when empty): scripted stages start from the
    /// state an earlier stage reached.
    pub init: Vec<SysState<P>>,
    pub properties: Vec<Property<SystemModel<P>>>,
    pub on_step: Option<StepCheck<P>>,
    /// Coverage probes counted beside the standard ones (pbft: a view change carrying a
    /// lock).
    pub probes: Vec<(&'static str, Cond<P>)>,
    pub coverage: Arc<Coverage>,
    pub memo: Arc<Memo<P>>,
}

impl<P: ModelCore> Clone for SystemModel<P> {
    fn clone(&self) -> Self {
        SystemModel {
            specs: self.specs.clone(),
            cfg: self.cfg.clone(),
            env: self.env,
            bound: self.bound,
            allow: self.allow,
            init: self.init.clone(),
            properties: self.properties.clone(),
            on_step: self.on_step,
            probes: self.probes.clone(),
            coverage: Arc::clone(&self.coverage),
            memo: Arc::clone(&self.memo),
        }
    }
}

impl<P: ModelCore> SystemModel<P> {
    /// Node `i`'s state in `s`.
    pub fn node(&self, s: &SysState<P>, i: NodeIndex) -> &Node<P> {
        self.memo.node(s.nodes[i as usize])
    }

    /// Every node's state in `s`, in index order.
    pub fn nodes<'a>(&'a self, s: &'a SysState<P>) -> impl Iterator<Item = &'a Node<P>> + 'a {
        s.nodes.iter().map(|id| self.memo.node(*id))
    }

    /// The message a network key names.
    pub fn message(&self, k: Key) -> &P::Message {
        &self.memo.entry(k).msg
    }

    /// The cluster as booted: every node started fresh, its first messages in flight.
    pub fn boot(&self) -> SysState<P> {
        let mut net = Net::new(self.env.net);
        let mut nodes = Vec::with_capacity(self.specs.len());
        for spec in &self.specs {
            let (node, sends) = spec.boot(None);
            nodes.push(self.memo.intern_node(node));
            for (to, msg) in sends {
                net.send(self.memo.send_key(spec.me, to, msg));
            }
        }
        SysState {
            nodes,
            net,
            restarts: 0,
            gst: self.env.liveness && self.env.gst_at_start,
            flags: 0,
            notes: Arc::new(BTreeMap::new()),
            core: PhantomData,
        }
    }

    fn faults_on(&self, s: &SysState<P>) -> bool {
        !(self.env.liveness && s.gst)
    }

    /// Whether no delivery would change any node (liveness: timers wait for this).
    pub fn quiescent(&self, s: &SysState<P>) -> bool {
        let mut keys = Vec::new();
        self.specs.iter().all(|spec| {
            keys.clear();
            s.net.deliverable(spec.me, &mut keys);
            keys.iter().all(|k| {
                let before = s.nodes[spec.me as usize];
                self.memo
                    .step(spec, before, Input::Deliver(*k))
                    .is_none_or(|e| !self.changes(s, before, &e))
            })
        })
    }

    /// The steps node `i` may take in `s`.
    pub fn steps_of(&self, s: &SysState<P>, i: NodeIndex, out: &mut Vec<Step>) {
        let start = out.len();
        let faults = self.faults_on(s);
        let mut keys = Vec::new();
        s.net.deliverable(i, &mut keys);
        for k in keys {
            if self.env.loss && faults {
                out.push(Step::Drop(k));
            }
            out.push(Step::Deliver(k));
        }
        let node = self.node(s, i);
        if !node.timers.is_empty() && (faults || self.quiescent(s)) {
            for timer in &node.timers {
                out.push(Step::Timeout {
                    node: i,
                    timer: self.memo.timers.intern(timer.clone()),
                });
            }
        }
        let restarts_left = self.env.restarts_max.is_none_or(|m| s.restarts < m);
        if faults && restarts_left {
            out.push(Step::Restart(i));
        }
        if let Some(allow) = self.allow {
            let mut k = start;
            while k < out.len() {
                if allow(self, s, &out[k]) {
                    k += 1;
                } else {
                    out.remove(k);
                }
            }
        }
    }

    /// Takes one step: the next state (`None` for a no-op or a state outside the bound)
    /// and whether the step was silent. Nothing is copied for a no-op.
    pub fn apply(&self, s: &SysState<P>, step: &Step) -> Option<(SysState<P>, bool)> {
        let (next, silent) = match *step {
            Step::Gst => {
                let mut next = s.clone();
                next.gst = true;
                (next, false)
            }
            Step::Drop(k) => {
                let mut next = s.clone();
                next.net.remove(k);
                (next, false)
            }
            Step::Deliver(k) => {
                let consumed = (s.net.kind() != NetKind::Set).then_some(k);
                match self.node_step(s, key_dst(k), Input::Deliver(k), consumed, false) {
                    Some(done) => done,
                    // A FIFO channel must move past a message its receiver ignores, or it
                    // blocks; unordered networks leave an ignored message where it is.
                    None if s.net.kind() == NetKind::Fifo => {
                        let mut next = s.clone();
                        next.net.consume(k);
                        (next, true)
                    }
                    None => return None,
                }
            }
            Step::Timeout { node, timer } => {
                self.node_step(s, node, Input::Timeout(timer), None, false)?
            }
            Step::Restart(node) => self.node_step(s, node, Input::Restart, None, true)?,
        };
        if !(self.bound)(self, &next) {
            return None;
        }
        Some((next, silent))
    }

    /// Node `i` takes `input` in `s`: the next state and whether the step was silent, or
    /// `None` when nothing at all would change.
    fn node_step(
        &self,
        s: &SysState<P>,
        i: NodeIndex,
        input: Input,
        consumed: Option<Key>,
        restart: bool,
    ) -> Option<(SysState<P>, bool)> {
        let spec = &self.specs[i as usize];
        let before = s.nodes[i as usize];
        let effect = self.memo.step(spec, before, input)?;
        let same_node = before == effect.node;
        let grows = self.grows(s, &effect);
        if same_node && !grows && consumed.is_none() {
            return None;
        }
        let observed_same = same_node
            || self.memo.node(before).observed() == self.memo.node(effect.node).observed();
        let mut next = SysState {
            nodes: s.nodes.clone(),
            net: s.net.copy_with_room(effect.sends.len()),
            restarts: s.restarts,
            gst: s.gst,
            flags: s.flags,
            notes: Arc::clone(&s.notes),
            core: PhantomData,
        };
        if let Some(k) = consumed {
            next.net.consume(k);
        }
        for k in effect.sends.iter() {
            next.net.send(*k);
        }
        next.nodes[i as usize] = effect.node;
        if restart && self.env.restarts_max.is_some() {
            next.restarts = next.restarts.saturating_add(1);
        }
        Some((next, !grows && observed_same))
    }

    /// Whether `effect` adds a message to the network of `s`.
    fn grows(&self, s: &SysState<P>, effect: &Effect) -> bool {
        match s.net.kind() {
            NetKind::Set => effect.sends.iter().any(|k| !s.net.holds(*k)),
            _ => !effect.sends.is_empty(),
        }
    }

    /// Whether a node in state `before` taking a step with `effect` changes the system
    /// state `s` (the same test `node_step` applies).
    fn changes(&self, s: &SysState<P>, before: u32, effect: &Effect) -> bool {
        before != effect.node || self.grows(s, effect)
    }

    /// Every macro of node `i` from `s` (see the module docs): the node's steps, each
    /// followed through silent steps of the same node (depth first, each intermediate state
    /// once) until a non-silent step ends it. A chain of silent steps that no step of the
    /// node continues is dropped.
    fn expand(&self, s: &SysState<P>, i: NodeIndex, out: &mut Vec<Macro<P>>, seen: &mut FastSet) {
        let mut steps = Vec::new();
        self.steps_of(s, i, &mut steps);
        let mut inside = FastSet::default();
        let mut stack: Vec<(SysState<P>, Vec<Step>)> = Vec::new();
        for first in steps.drain(..) {
            let Some((next, silent)) = self.apply(s, &first) else {
                continue;
            };
            if silent && self.env.fuse_silent {
                if inside.insert(digest(&next)) {
                    stack.push((next, vec![first]));
                }
            } else {
                self.finish(s, vec![first], next, out, seen);
            }
        }
        while let Some((state, path)) = stack.pop() {
            self.steps_of(&state, i, &mut steps);
            for step in steps.drain(..) {
                let Some((after, silent)) = self.apply(&state, &step) else {
                    continue;
                };
                let mut longer = Vec::with_capacity(path.len() + 1);
                longer.extend_from_slice(&path);
                longer.push(step);
                if !silent {
                    self.finish(s, longer, after, out, seen);
                } else if inside.len() >= SILENT_STATES_MAX {
                    // Enough silent states followed: keep this one as an ordinary state
                    // (less reduction, same soundness: all its successors are explored).
                    self.finish(s, longer, after, out, seen);
                } else if inside.insert(digest(&after)) {
                    stack.push((after, longer));
                }
            }
        }
    }

    /// Completes a macro: runs the step check and keeps it unless an equal end state is
    /// already offered.
    fn finish(
        &self,
        start: &SysState<P>,
        steps: Vec<Step>,
        mut end: SysState<P>,
        out: &mut Vec<Macro<P>>,
        seen: &mut FastSet,
    ) {
        if let Some(check) = self.on_step {
            let mut notes = (*end.notes).clone();
            end.flags |= check(self, start, &end, &mut notes);
            if notes != *end.notes {
                end.notes = Arc::new(notes);
            }
        }
        if seen.insert(digest(&end)) {
            out.push(Macro {
                steps,
                result: Arc::new(end),
            });
        }
    }

    /// A step in words, as a counterexample shows it.
    pub fn format_step(&self, step: &Step) -> String {
        match *step {
            Step::Deliver(k) => {
                let e = self.memo.entry(k);
                format!("node{} → {:?} → node{}", e.src, e.msg, e.dst)
            }
            Step::Timeout { node, timer } => {
                format!("TIMEOUT node{node}: {:?}", self.memo.timers.get(timer))
            }
            Step::Restart(node) => format!("RESTART node{node} (crash, recover from storage)"),
            Step::Drop(k) => {
                let e = self.memo.entry(k);
                format!("LOST node{} → {:?} → node{}", e.src, e.msg, e.dst)
            }
            Step::Gst => "GST: faults stop (no restarts, no loss; timers fire only when no delivery would change a node)".to_string(),
        }
    }
}

impl<P: ModelCore> Model for SystemModel<P> {
    type State = SysState<P>;
    type Action = Macro<P>;

    fn init_states(&self) -> Vec<Self::State> {
        if self.init.is_empty() {
            vec![self.boot()]
        } else {
            self.init.clone()
        }
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut seen = FastSet::default();
        for i in 0..self.specs.len() {
            self.expand(state, i as NodeIndex, actions, &mut seen);
        }
        if self.env.liveness && !state.gst {
            if let Some((next, _)) = self.apply(state, &Step::Gst) {
                self.finish(state, vec![Step::Gst], next, actions, &mut seen);
            }
        }
    }

    fn next_state(&self, _last: &Self::State, action: Self::Action) -> Option<Self::State> {
        Some((*action.result).clone())
    }

    fn format_action(&self, action: &Self::Action) -> String {
        action
            .steps
            .iter()
            .map(|s| self.format_step(s))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        (self.bound)(self, state)
    }
}
