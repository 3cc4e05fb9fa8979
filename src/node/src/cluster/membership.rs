//! The consensus system contract (spec/raft.md RAFT-R15): membership changes are
//! transactions. A call from the chain's admin account to [`NODE_MANAGER`] with calldata
//! `addSealer(uint256 index)` or `removeSealer(uint256 index)` asks for a single-server
//! change; the call itself executes as a plain call to a code-less account (it only costs
//! gas). Every node reads the requests from committed blocks; the Raft leader attaches the
//! change to the next entry it proposes, and the change takes effect when that entry is in
//! a node's log.

use bcos_consensus::raft::MemberChange;
use bcos_types::{Address, RecoveredTx};

/// The reserved address of the node-management system contract.
pub const NODE_MANAGER: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x03,
]);

fn selector(signature: &str) -> [u8; 4] {
    let h = alloy_primitives::keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Calldata of a membership request (for clients and tests).
pub fn calldata(change: MemberChange) -> Vec<u8> {
    let (sig, who) = match change {
        MemberChange::Add(x) => ("addSealer(uint256)", x),
        MemberChange::Remove(x) => ("removeSealer(uint256)", x),
    };
    let mut out = selector(sig).to_vec();
    out.extend_from_slice(&[0u8; 28]);
    out.extend_from_slice(&who.to_be_bytes());
    out
}

/// The membership request a transaction makes, if it is one: to [`NODE_MANAGER`], from
/// `admin`, with well-formed calldata naming an index below `nodes`.
pub fn request(tx: &RecoveredTx, admin: Address, nodes: u32) -> Option<MemberChange> {
    if tx.sender != admin || tx.tx.to() != Some(NODE_MANAGER) {
        return None;
    }
    let input = tx.tx.input();
    if input.len() != 36 || input[4..32].iter().any(|b| *b != 0) {
        return None;
    }
    let who = u32::from_be_bytes([input[32], input[33], input[34], input[35]]);
    if who >= nodes {
        return None;
    }
    let sel = [input[0], input[1], input[2], input[3]];
    if sel == selector("addSealer(uint256)") {
        Some(MemberChange::Add(who))
    } else if sel == selector("removeSealer(uint256)") {
        Some(MemberChange::Remove(who))
    } else {
        None
    }
}
