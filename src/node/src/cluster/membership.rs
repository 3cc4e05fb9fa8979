//! Raft membership through governance (spec/raft.md RAFT-R15, spec/governance.md GOV-R9):
//! a passed proposal whose action is `setSealer(node, sealer)` records, at the next block
//! boundary, whether governance wants that node to be a voter. After every block it stores,
//! a node compares its configuration with those wishes; the Raft leader attaches the first
//! missing single-server change to the next entry it proposes, and the change takes effect
//! when that entry is in a node's log.

use alloy_sol_types::SolCall;
use bcos_consensus::raft::MemberChange;
use bcos_storage::StateReader;
use bcos_types::governance::IGovernanceActions;

/// The governance action of a membership request (for clients and tests).
pub fn action(change: MemberChange) -> Vec<u8> {
    let (node, sealer) = match change {
        MemberChange::Add(x) => (x, true),
        MemberChange::Remove(x) => (x, false),
    };
    IGovernanceActions::setSealerCall { node, sealer }.abi_encode()
}

/// The single-server changes that would bring `members` (the voters of a configuration) to
/// what governance wants (GOV-R9), for nodes below `nodes`; read from a committed state,
/// so a driver that restarts or newly leads finds them again.
pub fn wanted(
    state: &dyn StateReader,
    nodes: u32,
    members: &std::collections::BTreeSet<u32>,
) -> anyhow::Result<std::collections::BTreeSet<MemberChange>> {
    Ok(bcos_execution::governance::sealer_wishes(state)?
        .into_iter()
        .filter(|(node, _)| *node < nodes)
        .filter_map(|(node, voter)| match (voter, members.contains(&node)) {
            (true, false) => Some(MemberChange::Add(node)),
            (false, true) => Some(MemberChange::Remove(node)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolInterface;
    use bcos_types::governance::IGovernanceActions::IGovernanceActionsCalls as A;

    #[test]
    fn actions_encode_the_change() {
        for (change, node, sealer) in [
            (MemberChange::Add(3), 3, true),
            (MemberChange::Remove(0), 0, false),
        ] {
            match A::abi_decode(&action(change)).unwrap() {
                A::setSealer(c) => assert_eq!((c.node, c.sealer), (node, sealer)),
                other => panic!("{other:?}"),
            }
        }
    }
}
