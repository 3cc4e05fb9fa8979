//! Property builders whose names carry spec IDs ("PBFT-S1 agreement", "PBFT-L1 ..."), generic
//! over any core: they read the commits each node reported. Each protocol picks its own IDs
//! and texts; the conditions are shared. Only honest nodes' commits are judged.
//!
//! Map (see README.md): `agreement` → *-S1, `validity` → *-S2, `integrity` → *-S3,
//! `all_commit_max_height` → *-L1.

use crate::core::{decode_digest, ModelCore};
use crate::node::Node;
use crate::system::{SysState, SystemModel};
use bcos_consensus::NodeIndex;
use bcos_types::{Height, B256};
use stateright::Property;
use std::collections::BTreeMap;

/// The honest nodes of `s` with their states.
pub fn honest<'a, P: ModelCore>(
    m: &'a SystemModel<P>,
    s: &'a SysState<P>,
) -> impl Iterator<Item = (NodeIndex, &'a Node<P>)> + 'a {
    m.nodes(s)
        .enumerate()
        .map(|(i, st)| (i as NodeIndex, st))
        .filter(|(i, _)| m.cfg.is_honest(*i))
}

/// No two honest nodes commit different blocks at one height.
pub fn agreement<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> bool {
    let mut seen: BTreeMap<Height, B256> = BTreeMap::new();
    for (_, st) in honest(m, s) {
        for (h, hash) in &st.commits {
            if *seen.entry(*h).or_insert(*hash) != *hash {
                return false;
            }
        }
    }
    true
}

/// Every block an honest node commits was proposed for that height, and is a proposer's
/// honest block unless the proposer is the Byzantine node.
pub fn validity<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> bool {
    honest(m, s).all(|(_, st)| {
        st.commits
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
pub fn integrity<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> bool {
    honest(m, s).all(|(_, st)| !st.self_conflict)
}

/// Every honest node has committed every height up to the model's `max_height`.
pub fn all_commit_max_height<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> bool {
    honest(m, s).all(|(_, st)| (1..=m.cfg.max_height).all(|h| st.commits.contains_key(&h)))
}

/// Names of the safety properties of one protocol.
#[derive(Debug, Clone, Copy)]
pub struct SafetyNames {
    pub agreement: &'static str,
    pub validity: &'static str,
    pub integrity: &'static str,
}

/// The safety set: agreement, validity, integrity under `names` (they must be `'static`, as
/// stateright keys discoveries by them).
pub fn safety<P: ModelCore>(names: SafetyNames) -> Vec<Property<SystemModel<P>>> {
    vec![
        Property::always(names.agreement, agreement::<P>),
        Property::always(names.validity, validity::<P>),
        Property::always(names.integrity, integrity::<P>),
    ]
}

/// `sometimes`: some run commits every height on every honest node (a reachability check:
/// the model is not vacuous).
pub fn progress_possible<P: ModelCore>(name: &'static str) -> Property<SystemModel<P>> {
    Property::sometimes(name, all_commit_max_height::<P>)
}

/// `eventually`: every maximal run commits every height on every honest node. Meaningful
/// only in the liveness form (`Env::liveness`: after GST timers wait for quiet networks,
/// so maximal runs are fair and finite; stateright judges `eventually` at terminal states).
pub fn progress_always<P: ModelCore>(name: &'static str) -> Property<SystemModel<P>> {
    Property::eventually(name, all_commit_max_height::<P>)
}

/// The spec ID a property name starts with ("PBFT-S1 agreement" → "PBFT-S1").
pub fn spec_id(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or("")
}
