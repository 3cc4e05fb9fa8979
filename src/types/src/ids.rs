//! Identifiers shared by every crate.

/// A block number; the genesis block is height 0.
pub type BlockNumber = u64;
/// Consensus height: the block number a consensus instance decides.
pub type Height = u64;
/// PBFT view number.
pub type View = u64;
/// Raft term.
pub type Term = u64;
/// A group (chain) hosted by the node; each group has its own chain id.
pub type GroupId = u32;
