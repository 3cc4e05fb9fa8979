//! Real `bcos node` processes running Raft (issue #4's real-process tests): a killed leader
//! is replaced and commits continue; a restarted follower catches up; a node added by a
//! governance proposal (`setSealer`) joins and replicates; a removed node stops receiving
//! blocks.

use bcos_tests::cluster::{membership_tx, send_transfers, top_block, wait_members, Cluster};
use bcos_tests::*;
use std::time::Duration;

#[test]
fn killed_raft_leader_is_replaced_and_a_restarted_follower_catches_up() {
    let mut c = Cluster::start_with(3, &[0, 1, 2], &["--consensus", "raft"]);
    let leader = c.wait_leader(None);
    assert_eq!(c.status(leader)["protocol"], "raft");
    let first = send_transfers(&c, (leader + 1) % 3, 1, 0, 10);
    let top = top_block(&c, leader, &first);
    c.wait_agreement(top);

    c.node_mut(leader).kill9();
    c.nodes[leader] = None;
    let next = c.wait_leader(Some(leader));
    assert_ne!(next, leader);
    let follower = (0..3)
        .find(|i| *i != leader && *i != next)
        .expect("a follower");
    let during = send_transfers(&c, follower, 2, 0, 10);
    let top = top_block(&c, follower, &during);
    c.wait_agreement(top);

    // A follower dies, misses blocks, restarts and catches up to the same head and root.
    c.node_mut(follower).kill9();
    c.nodes[follower] = None;
    c.start_node(leader); // the old leader rejoins as a follower meanwhile
    let more = send_transfers(&c, next, 2, 10, 10);
    let top = top_block(&c, next, &more);
    c.start_node(follower);
    let (h, hash, root) = c.wait_agreement(top);
    let b = block(c.rpc(follower), h, false).expect("head");
    assert_eq!(
        (b["hash"].as_str(), b["stateRoot"].as_str()),
        (Some(hash.as_str()), Some(root.as_str()))
    );
}

#[test]
fn node_added_by_transaction_joins_and_a_removed_node_stops_receiving_blocks() {
    // Four nodes configured, three voting from genesis; node 3 runs but is no member.
    let c = Cluster::start_with(4, &[0, 1, 2, 3], &["--consensus", "raft", "--voters", "3"]);
    let leader = c.wait_leader_among(&[0, 1, 2], None);
    wait_members(&c, leader, &[0, 1, 2]);
    let first = send_transfers(&c, leader, 1, 0, 5);
    let top = top_block(&c, leader, &first);
    assert_eq!(head(c.rpc(3)), 0, "a non-member gets no blocks");

    // Governance (the dev committee) adds node 3: it joins and replicates everything.
    let add = membership_tx(&c, leader, 0, true, 3);
    assert!(
        status_ok(&wait_receipt(c.rpc(leader), &add)),
        "the proposal passes"
    );
    wait_members(&c, leader, &[0, 1, 2, 3]);
    let after_add = send_transfers(&c, leader, 1, 5, 5);
    let top = top_block(&c, leader, &after_add).max(top);
    let (h, hash, _) = c.wait_agreement(top);
    assert_eq!(
        block(c.rpc(3), h, false).expect("head")["hash"].as_str(),
        Some(hash.as_str())
    );

    // Governance removes node 3: the others go on, node 3 stops receiving blocks.
    let leader = c.wait_leader_among(&[0, 1, 2, 3], Some(3));
    let remove = membership_tx(&c, leader, 1, false, 3);
    assert!(
        status_ok(&wait_receipt(c.rpc(leader), &remove)),
        "the proposal passes"
    );
    wait_members(&c, leader, &[0, 1, 2]);
    let removed_at = head(c.rpc(leader));
    let later = send_transfers(&c, leader, 2, 0, 10);
    let top = top_block(&c, leader, &later);
    assert!(top > removed_at);
    for i in 0..3 {
        c.wait_head(i, top);
    }
    // Several status rounds pass (the others' heads are known to it) without blocks.
    let status_rounds_ms = 4 * 500;
    std::thread::sleep(Duration::from_millis(status_rounds_ms));
    let h3 = head(c.rpc(3));
    assert!(h3 <= removed_at + 1, "node 3 kept receiving blocks after removal: at {h3}, removed at {removed_at}, others at {top}\n{}", c.node(3).log_tail());

    // GOV-R7: the least election timeout is a setting every voter takes.
    use alloy_sol_types::SolCall;
    let action = bcos_types::governance::IGovernanceActions::setSettingCall {
        key: "consensus_timeout_ms".into(),
        value: U256::from(700u64),
    }
    .abi_encode();
    let timeout = bcos_tests::cluster::proposal_tx(&c, leader, 2, action);
    assert!(status_ok(&wait_receipt(c.rpc(leader), &timeout)));
    for i in 0..3 {
        c.wait_status(i, "timeoutMs", 700);
    }
}
