//! A node restarts from whatever it stored durably and catches up by sync, even when a
//! crash left its consensus record ahead of its block store (issue 10 item 7):
//! - PBFT: the core moves to h + 1 in the same output batch as the decision of h, so a vote
//!   at h + 1 can be persisted before block h is stored; kill -9 in that gap used to make
//!   every restart fail with "durable state is ahead".
//! - Raft: the log was compacted past the stored head when a node lagged in storing, and a
//!   restart refused the same way.
//! Each test kills a node with SIGKILL, writes the record such a crash leaves (the crash
//! point cannot be hit on demand in a real process), restarts it and checks it rejoins.

use bcos_tests::cluster::{node_dir, send_transfers, top_block, Cluster};
use bcos_tests::*;

fn state_file(c: &Cluster, i: usize, name: &str) -> std::path::PathBuf {
    node_dir(&c.out(), i).join("data").join(name)
}

#[test]
fn pbft_node_with_a_vote_persisted_ahead_of_its_store_restarts_and_catches_up() {
    let mut c = Cluster::start(4, &[0, 1, 2, 3]);
    let first = send_transfers(&c, 0, 2, 0, 3);
    let top = top_block(&c, 0, &first);
    let (h, _, _) = c.wait_agreement(top);

    // Node 2 dies; the others commit more.
    c.node_mut(2).kill9();
    let mut down = c.nodes[2].take().expect("node 2 was running");
    let more = send_transfers(&c, 0, 3, 0, 3);
    let top = top_block(&c, 0, &more);
    let (h2, _, _) = c.wait_agreement(top);
    assert!(h2 > h);

    // Its record as a crash in the window leaves it: a prepare at a height whose
    // predecessors (h + 1 ..= h2) it never stored.
    let ahead = h2 + 1;
    let record = json!({
        "height": ahead,
        "view": 0,
        "view_active": true,
        "lock": null,
        "my_prepare": {"height": ahead, "view": 0, "block_hash": format!("0x{}", "ab".repeat(32))},
        "my_commit": null,
        "my_view_change": null,
    });
    std::fs::write(state_file(&c, 2, "pbft-state.json"), record.to_string()).expect("write record");

    down.restart();
    c.nodes[2] = Some(down);
    let (h3, hash, root) = c.wait_agreement(h2);
    let b = block(c.rpc(2), h3, false).expect("node 2 has the head");
    assert_eq!(
        (b["hash"].as_str(), b["stateRoot"].as_str()),
        (Some(hash.as_str()), Some(root.as_str()))
    );
    // And it takes part again.
    let after = send_transfers(&c, 2, 4, 0, 3);
    let top = top_block(&c, 2, &after);
    c.wait_agreement(top);
}

#[test]
fn raft_node_whose_log_was_compacted_past_its_store_restarts_and_catches_up() {
    let mut c = Cluster::start_with(3, &[0, 1, 2], &["--consensus", "raft"]);
    let leader = c.wait_leader(None);
    let follower = (leader + 1) % 3;
    let first = send_transfers(&c, leader, 1, 0, 3);
    let top = top_block(&c, leader, &first);
    c.wait_agreement(top);

    c.node_mut(follower).kill9();
    let mut down = c.nodes[follower].take().expect("follower was running");
    let more = send_transfers(&c, leader, 2, 0, 5);
    let top = top_block(&c, leader, &more);
    let (h, _, _) = c.wait_agreement(top);

    // Its record with the log compacted up to the cluster's head, which its store lacks.
    let term = as_u64(&c.status(leader)["view"]);
    let path = state_file(&c, follower, "raft-state.json");
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("raft record")).expect("json");
    record["log"]["base"] = json!({"index": h, "term": term});
    record["log"]["entries"] = json!([]);
    std::fs::write(&path, record.to_string()).expect("write record");

    down.restart();
    c.nodes[follower] = Some(down);
    let (h2, hash, root) = c.wait_agreement(h);
    let b = block(c.rpc(follower), h2, false).expect("the follower has the head");
    assert_eq!(
        (b["hash"].as_str(), b["stateRoot"].as_str()),
        (Some(hash.as_str()), Some(root.as_str()))
    );
    let after = send_transfers(&c, follower, 3, 0, 3);
    let top = top_block(&c, follower, &after);
    c.wait_agreement(top);
}
