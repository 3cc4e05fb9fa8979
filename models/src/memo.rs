//! The model's tables and memoised node steps. A node's step is a pure function of (node,
//! node state, input), and one node state appears in many system states (the other nodes'
//! states vary), so each step is computed once: the cache maps (node, state id, input) to
//! the next state id and the keys of the messages sent.

use crate::core::ModelCore;
use crate::intern::{content_hash, FastMap, Interner};
use crate::net::{key, Entry, Key};
use crate::node::{Node, NodeInput, NodeSpec};
use bcos_consensus::{NodeIndex, Protocol};
use std::sync::{Arc, Mutex, PoisonError};

const SHARDS: usize = 64;
/// Cached steps kept per shard before the shard is cleared (memory guard: about 8 M steps
/// in all, under a hundred bytes each).
const SHARD_STEPS_MAX: usize = 131_072;

/// What a step did: the node's next state and the messages it sent.
#[derive(Debug)]
pub struct Effect {
    pub node: u32,
    pub sends: Box<[Key]>,
}

/// A node's input, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// The message named by this network key (its entry id).
    Deliver(Key),
    /// The timer with this id.
    Timeout(u32),
    Restart,
}

impl Input {
    fn code(self) -> u64 {
        match self {
            Input::Deliver(k) => u64::from(crate::net::key_entry(k)),
            Input::Timeout(t) => (1 << 40) | u64::from(t),
            Input::Restart => 2 << 40,
        }
    }
}

type StepKey = (u32, u32, u64);

/// Node states, messages and timers of one model, and its step cache.
pub struct Memo<P: ModelCore> {
    pub nodes: Interner<Node<P>>,
    pub entries: Interner<Entry<<P as Protocol>::Message>>,
    pub timers: Interner<<P as Protocol>::Timer>,
    steps: Vec<Mutex<FastMap<StepKey, Option<Arc<Effect>>>>>,
}

impl<P: ModelCore> Default for Memo<P> {
    fn default() -> Self {
        Memo {
            nodes: Interner::default(),
            entries: Interner::default(),
            timers: Interner::default(),
            steps: (0..SHARDS)
                .map(|_| Mutex::new(FastMap::default()))
                .collect(),
        }
    }
}

impl<P: ModelCore> Memo<P> {
    pub fn node(&self, id: u32) -> &Node<P> {
        self.nodes.get(id)
    }

    pub fn entry(&self, k: Key) -> &Entry<<P as Protocol>::Message> {
        self.entries.get(crate::net::key_entry(k))
    }

    pub fn intern_node(&self, node: Node<P>) -> u32 {
        let h = node.digest();
        self.nodes.intern_hashed(node, h)
    }

    /// The network key of a message from `src` to `dst`.
    pub fn send_key(&self, src: NodeIndex, dst: NodeIndex, msg: <P as Protocol>::Message) -> Key {
        let e = Entry { src, dst, msg };
        let h = content_hash(&e);
        key(src, dst, self.entries.intern_hashed(e, h))
    }

    /// Node `spec.me` in state `node` takes `input`: the cached effect, or computed now.
    /// `None`: a no-op.
    pub fn step(&self, spec: &NodeSpec<P>, node: u32, input: Input) -> Option<Arc<Effect>> {
        let k: StepKey = (spec.me, node, input.code());
        let shard = &self.steps[(node as usize ^ (input.code() as usize)) % SHARDS];
        if let Some(hit) = shard.lock().unwrap_or_else(PoisonError::into_inner).get(&k) {
            return hit.clone();
        }
        let node_input = match input {
            Input::Deliver(key) => {
                let e = self.entry(key);
                NodeInput::Deliver {
                    from: e.src,
                    msg: e.msg.clone(),
                }
            }
            Input::Timeout(t) => NodeInput::Timeout(self.timers.get(t).clone()),
            Input::Restart => NodeInput::Restart,
        };
        let effect = spec
            .step(self.node(node), &node_input)
            .map(|(next, sends)| {
                Arc::new(Effect {
                    node: self.intern_node(next),
                    sends: sends
                        .into_iter()
                        .map(|(to, msg)| self.send_key(spec.me, to, msg))
                        .collect(),
                })
            });
        let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= SHARD_STEPS_MAX {
            map.clear();
        }
        map.insert(k, effect.clone());
        effect
    }
}
