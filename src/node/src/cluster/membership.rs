//! Raft membership through governance (spec/raft.md RAFT-R15, spec/governance.md GOV-R9):
//! a passed proposal whose action is `setSealer(node, sealer)` asks for a single-server
//! change. Every node reads the requests from committed blocks (their `ProposalPassed`
//! events); the Raft leader attaches the change to the next entry it proposes, and the
//! change takes effect when that entry is in a node's log.

use alloy_sol_types::{SolCall, SolInterface};
use bcos_consensus::raft::MemberChange;
use bcos_storage::StateReader;
use bcos_types::governance::IGovernanceActions::{self, IGovernanceActionsCalls as A};
use bcos_types::Receipt;

/// The governance action of a membership request (for clients and tests).
pub fn action(change: MemberChange) -> Vec<u8> {
    let (node, sealer) = match change {
        MemberChange::Add(x) => (x, true),
        MemberChange::Remove(x) => (x, false),
    };
    IGovernanceActions::setSealerCall { node, sealer }.abi_encode()
}

/// The membership request a passed action makes, if it is one naming a node below `nodes`.
pub fn request(action: &[u8], nodes: u32) -> Option<MemberChange> {
    match A::abi_decode(action).ok()? {
        A::setSealer(c) if c.node < nodes => Some(if c.sealer {
            MemberChange::Add(c.node)
        } else {
            MemberChange::Remove(c.node)
        }),
        _ => None,
    }
}

/// The membership requests of a committed block, in the order it passed them; `state`
/// must hold the block.
pub fn requests(
    receipts: &[Receipt],
    state: &dyn StateReader,
    nodes: u32,
) -> anyhow::Result<Vec<MemberChange>> {
    Ok(bcos_execution::governance::passed_actions(receipts, state)?
        .iter()
        .filter_map(|(_, action)| request(action, nodes))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_other_actions_are_not_requests() {
        for change in [MemberChange::Add(3), MemberChange::Remove(0)] {
            assert_eq!(request(&action(change), 4), Some(change));
        }
        assert_eq!(
            request(&action(MemberChange::Add(4)), 4),
            None,
            "out of range"
        );
        let other = IGovernanceActions::setSendListCall { on: true }.abi_encode();
        assert_eq!(request(&other, 4), None);
        assert_eq!(request(&[1, 2, 3], 4), None);
    }
}
