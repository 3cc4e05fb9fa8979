//! Governance and RegTech through ethers on a 4-node PBFT cluster (spec/governance.md):
//! `tests/js/governance.mjs` proposes, votes and checks every rule against node 0 and reads
//! the result from every node. The committee is dev accounts 0, 1 and 2 (threshold 2),
//! proposals live 4 blocks, dev account 3 is the regulator. A second CA: a node it
//! certifies joins once governance trusts it and is cut off once governance removes it.

use bcos_tests::client::{run_client, tests_dir};
use bcos_tests::cluster::{
    node_dir, send_transfers, top_block, wait_agreement_on, Cluster, CLUSTER_POLL_ATTEMPTS,
    CLUSTER_POLL_MS,
};
use bcos_tests::{
    as_u64, decode_hex, dev_key, head, json, send_raw, status_ok, transfer, wait_receipt, Address,
    Value, U256,
};
use std::process::Command;

/// The test mnemonic's accounts 0..3 (m/44'/60'/0'/0/i).
const DEV: [&str; 4] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
];

#[test]
fn committee_permissions_and_rules_through_ethers_on_every_node() {
    let dir = tests_dir().join("js");
    assert!(
        dir.join("node_modules/ethers").is_dir(),
        "{}/node_modules is missing: run scripts/setup.sh",
        dir.display()
    );
    let committee = format!("{}:1,{}:1,{}:1", DEV[0], DEV[1], DEV[2]);
    let c = Cluster::start_with(
        4,
        &[0, 1, 2, 3],
        &[
            "--committee",
            &committee,
            "--committee-threshold",
            "2",
            "--proposal-lifetime-blocks",
            "4",
            "--regulator",
            DEV[3],
        ],
    );
    c.wait_agreement(0);
    let mut cmd = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
    cmd.arg(dir.join("governance.mjs")).current_dir(&dir);
    for i in 0..4 {
        cmd.arg(&c.node(i).rpc_url);
    }
    let out = run_client(cmd, "governance.mjs", c.node(0));
    eprint!("{}", out.stdout);
    // REG-R5: every refusal at admission is in node 0's journal, numbered, with its rule.
    let journal = c.rpc(0).ok("bcos_getInterceptions", json!([0]));
    let entries = journal["interceptions"]
        .as_array()
        .expect("entries")
        .clone();
    let counted =
        as_u64(&c.rpc(0).ok("bcos_getNodeInfo", json!([]))["stages"]["admit"]["intercepted"]);
    assert!(counted > 0, "the client drew no interception at node 0");
    assert_eq!(entries.len() as u64, counted, "{journal}");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(as_u64(&e["seq"]), i as u64);
        assert!(e["rule"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
        assert!(e["hash"].as_str().is_some_and(|h| h.len() == 66), "{e}");
    }
    assert_eq!(as_u64(&journal["next"]), counted);
}

/// Waits (polling, bounded) until `ready` holds for node `i`'s `bcos_getNodeInfo`.
fn wait_info(c: &Cluster, i: usize, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let mut info = Value::Null;
    for _ in 0..CLUSTER_POLL_ATTEMPTS {
        info = c.rpc(i).ok("bcos_getNodeInfo", json!([]));
        if ready(&info) {
            return info;
        }
        std::thread::sleep(std::time::Duration::from_millis(CLUSTER_POLL_MS));
    }
    panic!(
        "node {i}: {what} never happened; last p2p {} at block {}",
        info["p2p"], info["blockNumber"]
    );
}

fn peers_connected(info: &Value) -> u64 {
    info["p2p"]["peersConnected"].as_u64().unwrap_or(0)
}

/// Sends a proposal from the dev committee (account 0 alone: it passes at once), then a
/// transfer, whose block is the one the action applies in; returns that block's number.
fn enact(c: &Cluster, nonce: &mut u64, action: Vec<u8>) -> u64 {
    let key = dev_key(0);
    let hash = bcos_tests::cluster::proposal_tx(c, 0, *nonce, action);
    assert!(
        status_ok(&wait_receipt(c.rpc(0), &hash)),
        "the proposal passes"
    );
    let transfer = transfer(&key, *nonce + 1, Address::repeat_byte(0x77), U256::from(1));
    let hash = send_raw(c.rpc(0), &transfer).expect("transfer");
    *nonce += 2;
    as_u64(&wait_receipt(c.rpc(0), &hash)["blockNumber"])
}

/// spec/governance.md GOV-R8, whitepaper §4.2: a node certified by a second CA joins once
/// governance trusts that CA, and is disconnected (without a restart of anyone) once
/// governance removes it; the others go on.
#[test]
fn a_second_cas_node_joins_and_is_cut_off_when_the_ca_is_removed() {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::IGovernanceActions;
    let mut c = Cluster::start(4, &[0, 1, 2]);
    c.wait_agreement(0);
    // Institution B's own CA certifies node 3 (same index and node id).
    let cb = c.dir.path().join("cb");
    let run = |args: &[&str]| {
        let out = Command::new(bcos_tests::bcos_bin())
            .args(args)
            .output()
            .expect("run bcos ca");
        assert!(
            out.status.success(),
            "bcos {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown: Value = serde_json::from_str(
        run(&[
            "ca",
            "new",
            "--out",
            cb.to_str().unwrap(),
            "--name",
            "Institution B CA",
        ])
        .trim(),
    )
    .expect("bcos ca new prints JSON");
    let keys3 = node_dir(&c.out(), 3).join("keys");
    run(&[
        "ca",
        "issue",
        "--ca",
        cb.to_str().unwrap(),
        "--keys",
        keys3.to_str().unwrap(),
    ]);
    let der = decode_hex(shown["der"].as_str().unwrap());
    let hash: [u8; 32] = decode_hex(shown["hash"].as_str().unwrap())
        .try_into()
        .expect("32-byte hash");

    let mut nonce = 0;
    let applied = enact(
        &c,
        &mut nonce,
        IGovernanceActions::addCaCall {
            certificate: der.into(),
        }
        .abi_encode(),
    );
    c.wait_agreement(applied);
    c.start_node(3);
    // Node 3 joins: every node connects to it and it catches up.
    for i in 0..4 {
        wait_info(&c, i, "all three peers connected", |info| {
            peers_connected(info) == 3
        });
    }
    let (head, _, _) = c.wait_agreement(applied);

    let removed = enact(
        &c,
        &mut nonce,
        IGovernanceActions::removeCaCall {
            certificateHash: hash.into(),
        }
        .abi_encode(),
    );
    assert!(removed > head);
    // Within a status interval each of nodes 0..2 closes node 3's connections and cannot
    // reconnect; nobody restarted.
    for i in 0..3 {
        let info = wait_info(&c, i, "node 3 disconnected", |info| {
            peers_connected(info) == 2
                && info["p2p"]["connectionsClosedDenied"].as_u64().unwrap_or(0) >= 1
        });
        assert!(info["p2p"]["handshakesFailedOutbound"].as_u64().is_some());
    }
    // The chain goes on without it.
    let hashes = send_transfers(&c, 0, 1, 0, 3);
    let top = top_block(&c, 0, &hashes);
    let rpcs: Vec<_> = (0..3).map(|i| c.rpc(i).clone()).collect();
    wait_agreement_on(&rpcs, top);
    assert!(
        head_of(&c, 3) < top,
        "node 3 ({}) got block {top} though no peer trusts it",
        head_of(&c, 3)
    );
}

fn head_of(c: &Cluster, i: usize) -> u64 {
    head(c.rpc(i))
}
