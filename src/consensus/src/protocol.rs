//! The interface every consensus core implements and every driver drains.

use bcos_types::{Height, B256};

/// A node's position in the group's validator list.
pub type NodeIndex = u32;

/// A block the local sealer built and executed, offered for agreement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proposal {
    pub height: Height,
    pub block_hash: B256,
}

/// The result of executing a proposed block, reported back by the driver (parallel PBFT
/// votes on these roots).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutedRoots {
    pub height: Height,
    pub block_hash: B256,
    pub state_root: B256,
    pub receipts_root: B256,
}

/// A block the group has decided; the driver hands it to storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decision {
    pub height: Height,
    pub block_hash: B256,
    /// Proof of the decision (a BLS aggregate plus signer bitmap for PBFT; empty for solo).
    pub certificate: Vec<u8>,
}

/// One event into a core.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input<M, T> {
    /// A verified message from a peer.
    Message { from: NodeIndex, msg: M },
    /// A timer the core set earlier fired.
    Timeout(T),
    /// The local sealer offers a block.
    Propose(Proposal),
    /// The driver finished executing a block.
    Executed(ExecutedRoots),
}

/// One effect a driver must carry out, in the order spec/durability.md fixes: persist (and
/// fsync) first, then send, then hand commits to storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Output<M, T, D> {
    /// Make `D` durable before any later output of the same batch takes effect.
    Persist(D),
    Send {
        to: NodeIndex,
        msg: M,
    },
    Broadcast(M),
    SetTimer {
        timer: T,
        ticks: u64,
    },
    CancelTimer(T),
    Commit(Decision),
    /// Proof that a peer misbehaved (e.g. two votes for one height and view).
    Evidence {
        culprit: NodeIndex,
        reason: String,
    },
}

/// A deterministic consensus state machine.
pub trait Protocol {
    type Message: Clone + Eq + std::fmt::Debug;
    type Timer: Clone + Eq + std::fmt::Debug;
    /// What the core asks the driver to persist (term and vote, locks, ...).
    type Durable: Clone + Eq + std::fmt::Debug;

    /// The next height this core will decide.
    fn next_height(&self) -> Height;
    /// Whether the local node may propose for `next_height` now.
    fn may_propose(&self) -> bool;
    /// Feeds one input and returns the outputs it causes.
    fn handle(
        &mut self,
        input: Input<Self::Message, Self::Timer>,
    ) -> Vec<Output<Self::Message, Self::Timer, Self::Durable>>;
}
