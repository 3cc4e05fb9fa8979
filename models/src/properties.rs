//! Property builders whose names carry spec IDs ("PBFT-S1 agreement", "PBFT-L1 ..."), generic
//! over any actor whose state exposes its commits ([`CommitView`]). Each protocol picks its
//! own IDs and texts; the conditions are shared. Only honest nodes' commits are judged.
//!
//! Map (see README.md): `agreement` → *-S1, `validity` → *-S2, `integrity` → *-S3,
//! `all_commit_max_height` → *-L1.

use crate::actor::CommitView;
use crate::core::decode_digest;
use crate::model::ModelCfg;
use bcos_consensus::NodeIndex;
use bcos_types::{Height, B256};
use stateright::actor::{Actor, ActorModel, ActorModelState};
use stateright::Property;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

type M<A, H> = ActorModel<A, ModelCfg, H>;
type S<A, H> = ActorModelState<A, H>;

fn honest<'a, A, H>(
    m: &'a M<A, H>,
    s: &'a S<A, H>,
) -> impl Iterator<Item = (NodeIndex, &'a A::State)> + 'a
where
    A: Actor,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    s.actor_states
        .iter()
        .enumerate()
        .map(|(i, st)| (i as NodeIndex, &**st))
        .filter(|(i, _)| m.cfg.is_honest(*i))
}

/// No two honest nodes commit different blocks at one height.
pub fn agreement<A, H>(m: &M<A, H>, s: &S<A, H>) -> bool
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    let mut seen: BTreeMap<Height, B256> = BTreeMap::new();
    for (_, st) in honest(m, s) {
        for (h, hash) in st.commits() {
            if *seen.entry(*h).or_insert(*hash) != *hash {
                return false;
            }
        }
    }
    true
}

/// Every block an honest node commits was proposed for that height, and is a proposer's
/// honest block unless the proposer is the Byzantine node.
pub fn validity<A, H>(m: &M<A, H>, s: &S<A, H>) -> bool
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    honest(m, s).all(|(_, st)| {
        st.commits()
            .iter()
            .all(|(h, hash)| match decode_digest(hash) {
                Some((node, height, variant)) => {
                    height == *h && node < m.cfg.n && (variant == 0 || !m.cfg.is_honest(node))
                }
                None => false,
            })
    })
}

/// No honest node commits two different blocks at one height.
pub fn integrity<A, H>(m: &M<A, H>, s: &S<A, H>) -> bool
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    honest(m, s).all(|(_, st)| !st.self_conflict())
}

/// Every honest node that is up has committed every height up to the model's `max_height`.
pub fn all_commit_max_height<A, H>(m: &M<A, H>, s: &S<A, H>) -> bool
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    honest(m, s)
        .filter(|(i, _)| !s.crashed.get(*i as usize).copied().unwrap_or(false))
        .all(|(_, st)| (1..=m.cfg.max_height).all(|h| st.commits().contains_key(&h)))
}

/// The safety set: `[prefix]-S1 agreement`, `-S2 validity`, `-S3 integrity`, with `names`
/// giving the full names (they must be `'static`, as stateright keys discoveries by them).
pub fn safety<A, H>(names: SafetyNames) -> Vec<Property<M<A, H>>>
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    vec![
        Property::always(names.agreement, agreement::<A, H>),
        Property::always(names.validity, validity::<A, H>),
        Property::always(names.integrity, integrity::<A, H>),
    ]
}

/// Names of the safety properties of one protocol.
#[derive(Debug, Clone, Copy)]
pub struct SafetyNames {
    pub agreement: &'static str,
    pub validity: &'static str,
    pub integrity: &'static str,
}

/// `sometimes`: some run commits every height on every live honest node (a reachability
/// check: the model is not vacuous).
pub fn progress_possible<A, H>(name: &'static str) -> Property<M<A, H>>
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    Property::sometimes(name, all_commit_max_height::<A, H>)
}

/// `eventually`: every maximal run commits every height on every live honest node. Only
/// meaningful without loss and with a depth bound past the longest run (stateright checks
/// `eventually` on acyclic paths only).
pub fn progress_always<A, H>(name: &'static str) -> Property<M<A, H>>
where
    A: Actor<State: CommitView>,
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    Property::eventually(name, all_commit_max_height::<A, H>)
}

/// The spec ID a property name starts with ("PBFT-S1 agreement" → "PBFT-S1").
pub fn spec_id(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or("")
}
