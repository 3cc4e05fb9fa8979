//! Groups (issue 13, spec/groups.md) with real `bcos node` processes: 4 nodes in 3 groups,
//! group 1 of nodes {0, 1, 2} under PBFT and group 2 under Raft. Transactions commit in
//! their own group only and each group's members agree; a transaction signed for one group
//! is refused by another; a non-member serves no RPC for a group and receives none of its
//! frames; a killed node's groups go on and it catches up in every group; a group stopped
//! on every node restarts with its chain intact while the others keep committing.

use bcos_tests::cluster::{wait_agreement_on, Cluster};
use bcos_tests::*;
use serde_json::{json, Value};

const BASE_CHAIN_ID: u64 = 20200;
const ALL: [usize; 4] = [0, 1, 2, 3];
const GROUP1: [usize; 3] = [0, 1, 2];

fn start() -> Cluster {
    Cluster::start_with(
        4,
        &ALL,
        &[
            "--groups",
            "3",
            "--group-consensus",
            "2=raft",
            "--group-members",
            "1=0,1,2",
        ],
    )
}

fn members(g: u32) -> &'static [usize] {
    if g == 1 {
        &GROUP1
    } else {
        &ALL
    }
}

/// `count` transfers in group `g` from dev account `acct`, through node `via`.
fn transfers(c: &Cluster, via: usize, g: u32, acct: usize, nonce: u64, count: u64) -> Vec<String> {
    let to = address_of(&unfunded_key(acct as u8 + 1));
    (nonce..nonce + count)
        .map(|n| {
            let raw = TxSpec {
                chain_id: BASE_CHAIN_ID + u64::from(g),
                nonce: n,
                to,
                value: alloy_primitives::U256::from(1_000u64),
                ..TxSpec::default()
            }
            .raw(&dev_key(acct));
            send_raw(&c.rpc(via).group(g), &raw)
                .unwrap_or_else(|e| panic!("node {via} group {g} refused a transfer: {e:?}"))
        })
        .collect()
}

fn committed_in(c: &Cluster, via: usize, g: u32, hashes: &[String]) -> u64 {
    committed_top(&c.rpc(via).group(g), hashes)
}

fn receipt(rpc: &Rpc, hash: &str) -> Value {
    rpc.ok("eth_getTransactionReceipt", json!([hash]))
}

fn node_info(c: &Cluster, i: usize) -> Value {
    c.rpc(i).ok("bcos_getNodeInfo", json!([]))
}

/// Sends through every member of every group, awaits the receipts, and checks agreement
/// per group; returns each group's agreed head.
fn commit_everywhere(c: &Cluster, acct_base: usize, nonce: u64) -> Vec<u64> {
    (0..3u32)
        .map(|g| {
            let mut top = 0;
            for &via in members(g) {
                if c.nodes[via].is_none() {
                    continue;
                }
                let hashes = transfers(c, via, g, acct_base + via, nonce, 3);
                top = top.max(committed_in(c, via, g, &hashes));
            }
            c.wait_group_agreement(g, members(g), top).0
        })
        .collect()
}

#[test]
fn each_group_commits_its_own_transactions_and_refuses_the_others() {
    let c = start();
    for g in 0..3u32 {
        assert_eq!(
            as_u64(&c.rpc(0).group(g).ok("eth_chainId", json!([]))),
            BASE_CHAIN_ID + u64::from(g)
        );
    }
    assert_eq!(
        c.rpc(0).group(2).ok("bcos_getConsensusStatus", json!([]))["protocol"],
        "raft"
    );
    commit_everywhere(&c, 0, 0);

    // A transaction committed in group 1 exists in group 1 only.
    let h = transfers(&c, 0, 1, 9, 0, 1);
    committed_in(&c, 0, 1, &h);
    for g in [0u32, 2] {
        assert_eq!(receipt(&c.rpc(0).group(g), &h[0]), Value::Null, "group {g}");
    }

    // Signed for group 1, sent to group 2: refused for its chain id (no cross-group replay).
    let raw = TxSpec {
        chain_id: BASE_CHAIN_ID + 1,
        nonce: 1,
        ..TxSpec::default()
    }
    .raw(&dev_key(9));
    let err = send_raw(&c.rpc(1).group(2), &raw).expect_err("a group-1 transaction in group 2");
    assert!(err.message.contains("chain id"), "{err}");

    // Node 3 is not in group 1: it serves no RPC for it and was sent none of its frames.
    let (status, body) = c
        .rpc(3)
        .group(1)
        .post_raw(br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#)
        .expect("HTTP");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(!node_dir_has_group(&c, 3, 1));
    let dispatch = &node_info(&c, 3)["dispatch"];
    // (frames of groups 0 and 2 that arrived before they started are counted too)
    assert_eq!(dispatch["unknownByGroup"].get("1"), None, "{dispatch}");
    let list = c.admin(3).ok("bcos_getGroupList", json!([]));
    let g1 = list
        .as_array()
        .and_then(|a| a.iter().find(|s| s["group"] == 1))
        .cloned();
    assert_eq!(
        g1.map(|s| s["status"].clone()),
        Some(json!("not-member")),
        "{list}"
    );
    // and a path that is no group at all is refused the same way
    let (status, _) = c.rpc(0).at_path("/g/x").post_raw(b"{}").expect("HTTP");
    assert_eq!(status, 404);
}

fn node_dir_has_group(c: &Cluster, i: usize, g: u32) -> bool {
    bcos_tests::cluster::node_dir(&c.out(), i)
        .join("data/groups")
        .join(g.to_string())
        .exists()
}

#[test]
fn a_killed_node_catches_up_in_every_group_while_the_groups_go_on() {
    let mut c = start();
    commit_everywhere(&c, 0, 0);
    // Node 3 is in groups 0 (PBFT, 4 nodes: one may fail) and 2 (Raft, 4 nodes).
    c.node_mut(3).kill9();
    c.nodes[3] = None;
    let heads = commit_everywhere(&c, 0, 3);
    c.start_node(3);
    for g in [0u32, 2] {
        let (h, hash, _) = c.wait_group_agreement(g, &ALL, heads[g as usize]);
        assert!(h >= heads[g as usize]);
        let b = block(&c.rpc(3).group(g), h, false).expect("head");
        assert_eq!(b["hash"].as_str(), Some(hash.as_str()), "group {g}");
    }
    // accounts 4..8: node 3's account missed a round in groups 0 and 2
    commit_everywhere(&c, 4, 0);
}

#[test]
fn a_group_stopped_everywhere_restarts_intact_while_the_others_go_on() {
    let c = start();
    let before = commit_everywhere(&c, 0, 0);
    let g2_head = block(&c.rpc(0).group(2), before[2], false).expect("group 2 head");
    for i in ALL {
        let s = c.admin(i).ok("bcos_stopGroup", json!([2]));
        assert_eq!(s["status"], "stopped", "node {i}: {s}");
        let (status, _) = c.rpc(i).group(2).post_raw(b"{}").expect("HTTP");
        assert_eq!(status, 404, "node {i} still serves a stopped group");
    }
    // group 0 and group 1 keep committing meanwhile
    for g in [0u32, 1] {
        let h = transfers(&c, 0, g, 0, 3, 2);
        let top = committed_in(&c, 0, g, &h);
        c.wait_group_agreement(g, members(g), top);
    }
    // group 0 cannot be stopped (it is the node's own chain)
    assert!(c.admin(0).call("bcos_stopGroup", json!([0])).is_err());
    for i in ALL {
        let s = c.admin(i).ok("bcos_startGroup", json!([2]));
        assert_eq!(s["status"], "running", "node {i}: {s}");
    }
    let rpcs: Vec<Rpc> = ALL.iter().map(|&i| c.rpc(i).group(2)).collect();
    wait_agreement_on(&rpcs, before[2]);
    for i in ALL {
        let b = block(&c.rpc(i).group(2), before[2], false).expect("kept block");
        assert_eq!(b["hash"], g2_head["hash"], "node {i} lost group 2's chain");
    }
    // and it commits again
    let h = transfers(&c, 1, 2, 1, 3, 2);
    let top = committed_in(&c, 1, 2, &h);
    c.wait_group_agreement(2, &ALL, top);
    let status = c.admin(0).ok("bcos_queryGroupStatus", json!([2]));
    assert!(as_u64(&status["blockNumber"]) >= top, "{status}");
}

/// Named threads a group adds at most: its ingress (pool admission), consensus driver,
/// doorbell relay and block-sync server (spec/groups.md GRP-R2). Sender recovery, RocksDB's
/// background pool, the async runtime, P2P and RPC are the node's, shared by every group.
const NAMED_THREADS_PER_GROUP_MAX: usize = 4;
/// The kernel's io_uring workers (`iou-wrk-*`) a group's segment files may have at once:
/// the kernel starts them on demand, one per blocking request in flight, and ends them
/// when idle (one group showed 1 or 2 in test runs).
const IOU_WORKERS_PER_GROUP_MAX: usize = 2;

/// Threads started on demand and ended when idle, whose number at one instant is not a
/// group's: the io_uring workers, and tokio's blocking pool, which shares its threads'
/// name with the runtime's fixed workers (a fresh-clone run counted 4 with one group and
/// 5 with eight).
fn on_demand(name: &str) -> bool {
    name.starts_with("iou-wrk-") || name == "tokio-rt-worker"
}

fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the node's /proc entry")
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    names.sort();
    names
}

/// A one-node cluster with `groups` groups, once every group has committed a block.
fn threads_with(groups: u32) -> Vec<String> {
    let c = Cluster::start_with(1, &[0], &["--groups", &groups.to_string()]);
    for g in 0..groups {
        let h = transfers(&c, 0, g, 0, 0, 1);
        committed_in(&c, 0, g, &h);
    }
    thread_names(c.node(0).pid().expect("running"))
}

#[test]
fn eight_groups_add_a_few_threads_each_not_eight_times_the_node() {
    let one = threads_with(1);
    let eight = threads_with(8);
    eprintln!(
        "1 group: {} threads {one:?}\n8 groups: {} threads {eight:?}",
        one.len(),
        eight.len()
    );
    let named = |t: &[String]| t.iter().filter(|n| !on_demand(n)).count();
    assert!(
        named(&eight) <= named(&one) + 7 * NAMED_THREADS_PER_GROUP_MAX,
        "8 groups: {} named threads, 1 group: {}",
        named(&eight),
        named(&one)
    );
    let iou = |t: &[String]| t.iter().filter(|n| n.starts_with("iou-wrk-")).count();
    assert!(iou(&eight) <= 8 * IOU_WORKERS_PER_GROUP_MAX, "{eight:?}");
    assert!(eight.len() < 8 * one.len());
    // the recovery pool is the node's: as many recovery threads with 8 groups as with 1
    let recover = |t: &[String]| t.iter().filter(|n| n.starts_with("bcos-recover")).count();
    assert_eq!(recover(&eight), recover(&one));
}

#[test]
fn a_generated_group_runs_on_its_members_and_a_removed_one_is_moved_aside() {
    let c = start();
    let description = json!({"chainId": 30_005, "consensus": "raft", "members": [0, 1, 2]});
    for i in ALL {
        let s = c.admin(i).ok("bcos_generateGroup", json!([5, description]));
        assert_eq!(
            s["status"],
            if i == 3 { "not-member" } else { "stopped" },
            "node {i}: {s}"
        );
        // a second description for the same group is refused
        assert!(c
            .admin(i)
            .call("bcos_generateGroup", json!([5, description]))
            .is_err());
    }
    for i in GROUP1 {
        assert_eq!(
            c.admin(i).ok("bcos_startGroup", json!([5]))["status"],
            "running"
        );
    }
    assert!(
        c.admin(3).call("bcos_startGroup", json!([5])).is_err(),
        "node 3 is no member"
    );
    let raw = TxSpec {
        chain_id: 30_005,
        to: address_of(&unfunded_key(1)),
        value: alloy_primitives::U256::from(1u64),
        ..TxSpec::default()
    }
    .raw(&dev_key(0));
    let h = send_raw(&c.rpc(1).group(5), &raw).expect("group 5 takes its transaction");
    let top = committed_in(&c, 1, 5, &[h]);
    c.wait_group_agreement(5, &GROUP1, top);

    for i in GROUP1 {
        assert_eq!(
            c.admin(i).ok("bcos_removeGroup", json!([5]))["status"],
            "removed"
        );
        let (status, _) = c.rpc(i).group(5).post_raw(b"{}").expect("HTTP");
        assert_eq!(status, 404);
        let groups = bcos_tests::cluster::node_dir(&c.out(), i).join("data/groups");
        let aside = std::fs::read_dir(&groups)
            .expect("groups dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("removed-5-"));
        assert!(aside, "node {i}: group 5's data was not moved aside");
    }
    // the other groups are untouched
    commit_everywhere(&c, 0, 0);
    assert!(c.admin(0).call("bcos_removeGroup", json!([0])).is_err());
}
