//! The extension point every protocol core fills to be model-checked (DESIGN.md "One core,
//! three drivers"): how to boot it (fresh or from its durable record), which inputs make the
//! driver execute a block, and how a Byzantine node forges a message. The `Protocol` trait
//! itself has no constructor, so this trait supplies one; it is implemented here in
//! `bcos-models` for foreign cores (the orphan rule allows a local trait on a foreign type).

use bcos_consensus::{ExecutedRoots, Input, NodeIndex, Output, Proposal, Protocol};
use bcos_types::{Height, B256};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

/// What travels on the modelled network or tags a timer: stateright orders actions, so Ord.
pub trait Wire: Clone + Eq + Ord + Hash + Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Ord + Hash + Debug + Send + Sync + 'static> Wire for T {}

/// What a core persists: it must be hashable because it is part of the model state.
pub trait Stored: Clone + Eq + Hash + Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> Stored for T {}

/// Everything of a node that survives a crash: the last `Persist` payload (taken as a full
/// snapshot that replaces the previous one) and the committed blocks (storage keeps those).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DurableRecord<D> {
    pub last: Option<D>,
    pub commits: BTreeMap<Height, B256>,
}

impl<D> Default for DurableRecord<D> {
    fn default() -> Self {
        DurableRecord {
            last: None,
            commits: BTreeMap::new(),
        }
    }
}

impl<D> DurableRecord<D> {
    /// The height a restarted core resumes at: one past the highest stored block.
    pub fn next_height(&self) -> Height {
        self.commits.keys().next_back().map_or(1, |h| h + 1)
    }
}

/// A consensus core the models can drive.
pub trait ModelCore:
    Protocol<Message: Wire, Timer: Wire, Durable: Stored>
    + Clone
    + Eq
    + Hash
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Immutable per-model configuration (group size, seeded bug switches, ...).
    type Config: Clone + Debug + Send + Sync + 'static;

    /// Builds node `me` of `n`; `restored` is `Some` after a crash-restart.
    fn boot(
        cfg: &Self::Config,
        me: NodeIndex,
        n: u32,
        restored: Option<&DurableRecord<Self::Durable>>,
    ) -> Self;

    /// Whether the sealer offers `Input::Propose` to a node that may not propose, once per
    /// height and start, meaning "transactions are pending" (PBFT arms its view timer on
    /// it, PBFT-R9). Off for cores that treat every `Propose` as a proposal.
    const SIGNAL_PENDING_WORK: bool = false;

    /// Outputs right after `boot` (a restarted PBFT node re-sends its latest votes).
    fn after_boot(
        &mut self,
        restored: bool,
    ) -> Vec<Output<Self::Message, Self::Timer, Self::Durable>> {
        let _ = restored;
        Vec::new()
    }

    /// After `handled` went in, the block the driver must now execute, if any (parallel PBFT
    /// replicas execute the pre-prepared block while they vote). The adapter feeds the result
    /// back at once as `Input::Executed` with [`roots_of`].
    fn to_execute(&self, handled: &Input<Self::Message, Self::Timer>) -> Option<Proposal> {
        let _ = handled;
        None
    }

    /// Byzantine hook: a conflicting copy of a proposal message (another block digest for the
    /// same height and view, see [`equivocal`]), or `None` if `msg` is no proposal.
    fn forge_proposal(msg: &Self::Message) -> Option<Self::Message> {
        let _ = msg;
        None
    }

    /// Byzantine hook: a vote for another digest at the same height and view, or `None` if
    /// `msg` is no vote.
    fn forge_vote(msg: &Self::Message) -> Option<Self::Message> {
        let _ = msg;
        None
    }

    /// Byzantine hook: the message with any lock it carries removed (a view change that
    /// claims no prepared certificate), or `None` if `msg` carries no lock. A Byzantine node
    /// can always do this: nothing forces it to prove a lock it holds.
    fn hide_lock(msg: &Self::Message) -> Option<Self::Message> {
        let _ = msg;
        None
    }

    /// A digest of whatever the protocol's properties read from the core besides the
    /// commits (which every protocol's properties read). A step that sends nothing and
    /// changes neither the commits nor this digest is *silent*: the reduced model may fuse
    /// it with the node's next step (see `reduction` in system.rs). 0 when properties read
    /// commits only.
    fn observed(&self) -> u64 {
        0
    }

    /// Called right before the adapter offers `Input::Propose` for `height` to a node that
    /// may propose (the node's sealer sealing a block): Raft queues a membership change
    /// that rides on that block (RAFT-R15).
    fn before_propose(&mut self, cfg: &Self::Config, height: Height) {
        let _ = (cfg, height);
    }
}

const DIGEST_TAG: u8 = 0xB1;

/// The block digest node `node` proposes at `height`; `variant` 0 is the honest block, other
/// variants are the conflicting blocks a Byzantine node forges. Structured so that properties
/// can tell which proposal a committed hash came from.
pub fn digest(node: NodeIndex, height: Height, variant: u8) -> B256 {
    let mut b = [0u8; 32];
    b[0] = DIGEST_TAG;
    b[1..5].copy_from_slice(&node.to_be_bytes());
    b[5..13].copy_from_slice(&height.to_be_bytes());
    b[13] = variant;
    B256::from(b)
}

/// Inverse of [`digest`]: `(node, height, variant)`, or `None` for a hash no node proposed.
pub fn decode_digest(hash: &B256) -> Option<(NodeIndex, Height, u8)> {
    let b = hash.as_slice();
    if b[0] != DIGEST_TAG || b[14..].iter().any(|x| *x != 0) {
        return None;
    }
    let node = NodeIndex::from_be_bytes([b[1], b[2], b[3], b[4]]);
    let mut h = [0u8; 8];
    h.copy_from_slice(&b[5..13]);
    Some((node, Height::from_be_bytes(h), b[13]))
}

/// A conflicting digest for the same proposer and height (variant + 1); a hash that is no
/// model digest gets its last byte flipped so it still differs.
pub fn equivocal(hash: &B256) -> B256 {
    match decode_digest(hash) {
        Some((node, height, variant)) => digest(node, height, variant.wrapping_add(1)),
        None => {
            let mut b = hash.0;
            b[31] ^= 0xff;
            B256::from(b)
        }
    }
}

/// Deterministic execution: the roots a correct executor reports for `p` (every honest node
/// computes the same ones, so only a Byzantine node can vote on other roots).
pub fn roots_of(p: &Proposal) -> ExecutedRoots {
    let mut state = p.block_hash.0;
    state[31] ^= 0x51;
    let mut receipts = p.block_hash.0;
    receipts[31] ^= 0x52;
    ExecutedRoots {
        height: p.height,
        block_hash: p.block_hash,
        state_root: B256::from(state),
        receipts_root: B256::from(receipts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_and_equivocal_differs() {
        let d = digest(3, 7, 0);
        assert_eq!(decode_digest(&d), Some((3, 7, 0)));
        assert_eq!(decode_digest(&equivocal(&d)), Some((3, 7, 1)));
        assert_eq!(decode_digest(&B256::ZERO), None);
        assert_ne!(equivocal(&B256::ZERO), B256::ZERO);
    }
}
