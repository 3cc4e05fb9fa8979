//! PBFT validator sets changed by governance, with real `bcos node` processes (issue 17;
//! spec/pbft.md PBFT-R20, spec/governance.md GOV-R9): a node outside the set follows the
//! chain by block sync, checking each certificate against the set of its height; added by a
//! `setSealer` proposal, it votes (its signature is in certificates); removed again, the
//! other three decide alone and it keeps following, across a kill -9 and restart. The view
//! timeout follows the governed `consensus_timeout_ms` on every node (GOV-R7).

#![allow(clippy::unwrap_used)]

use bcos_tests::cluster::{
    membership_tx, proposal_tx, send_transfers, top_block, wait_members, Cluster,
    CLUSTER_POLL_ATTEMPTS, CLUSTER_POLL_MS,
};
use bcos_tests::*;
use std::time::Duration;

/// The member indices that signed block `n`'s certificate, as node `i` names them.
fn signers(c: &Cluster, i: usize, n: u64) -> Vec<u64> {
    let cert = c.rpc(i).ok("bcos_getBlockCertificate", json!([n]));
    cert["signers"]
        .as_array()
        .unwrap_or_else(|| panic!("node {i} does not know the set of block {n}: {cert}"))
        .iter()
        .map(as_u64)
        .collect()
}

#[test]
fn a_validator_added_by_governance_votes_and_a_removed_one_stops() {
    // Four nodes, three validators from genesis; node 3 observes.
    let mut c = Cluster::start_with(4, &[0, 1, 2, 3], &["--voters", "3"]);
    for i in 0..4 {
        wait_members(&c, i, &[0, 1, 2]);
    }
    let first = send_transfers(&c, 0, 1, 0, 5);
    let top = top_block(&c, 0, &first);
    c.wait_head(3, top);
    for n in 1..=top {
        assert!(signers(&c, 0, n).iter().all(|s| *s < 3), "block {n}");
    }

    // Governance adds node 3: from the next height every node runs with four validators,
    // and node 3's own certificates carry its vote.
    let add = membership_tx(&c, 0, 0, true, 3);
    let added_in = as_u64(&wait_receipt(c.rpc(0), &add)["blockNumber"]);
    for i in 0..4 {
        wait_members(&c, i, &[0, 1, 2, 3]);
    }
    let mut nonce = 5;
    let mut voted = None;
    for _ in 0..CLUSTER_POLL_ATTEMPTS {
        let sent = send_transfers(&c, 0, 1, nonce, 2);
        nonce += 2;
        let top = top_block(&c, 0, &sent);
        c.wait_head(3, top);
        voted = (added_in + 1..=top).find(|n| signers(&c, 3, *n).contains(&3));
        if voted.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
    }
    assert!(
        voted.is_some(),
        "node 3 never signed a certificate after joining"
    );

    // Governance removes it: the other three decide alone; node 3 follows by sync.
    let remove = membership_tx(&c, 0, 1, false, 3);
    let removed_in = as_u64(&wait_receipt(c.rpc(0), &remove)["blockNumber"]);
    for i in 0..4 {
        wait_members(&c, i, &[0, 1, 2]);
    }
    let later = send_transfers(&c, 0, 1, nonce, 10);
    let top = top_block(&c, 0, &later);
    let (h, hash, _) = c.wait_agreement(top);
    assert_eq!(
        block(c.rpc(3), h, false).expect("node 3 follows")["hash"].as_str(),
        Some(hash.as_str())
    );
    // The action applies at the start of the block after the vote; the set changes at
    // the height after that one (PBFT-R20).
    assert!(top >= removed_in + 2, "no block under the smaller set");
    for n in removed_in + 2..=top {
        let s = signers(&c, 0, n);
        assert!(
            !s.contains(&3),
            "block {n} signed by the removed node: {s:?}"
        );
        assert_eq!(
            signers(&c, 3, n),
            s,
            "node 3 checked block {n} against another set"
        );
    }

    // GOV-R7: the view timeout is a setting; every node takes it from the next block.
    use alloy_sol_types::SolCall;
    let action = bcos_types::governance::IGovernanceActions::setSettingCall {
        key: "consensus_timeout_ms".into(),
        value: bcos_tests::U256::from(400u64),
    }
    .abi_encode();
    let timeout = proposal_tx(&c, 0, 2, action);
    assert!(status_ok(&wait_receipt(c.rpc(0), &timeout)));
    for i in 0..4 {
        c.wait_status(i, "timeoutMs", 400);
    }

    // Killed and restarted, each side reads its set from the state: node 3 observes and
    // follows, and validator 0 rejoins the three.
    c.node_mut(3).kill9();
    c.node_mut(0).kill9();
    c.start_node(3);
    c.start_node(0);
    for i in 0..4 {
        wait_members(&c, i, &[0, 1, 2]);
    }
    let last = send_transfers(&c, 1, 1, nonce + 10, 3);
    let top = top_block(&c, 1, &last);
    c.wait_agreement(top);
    c.wait_status(0, "timeoutMs", 400);
}
