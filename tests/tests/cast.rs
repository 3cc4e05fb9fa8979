//! Foundry's `cast` (npm `@foundry-rs/cast-linux-amd64`, unmodified) against a fresh
//! `bcos dev`: deploy the test ERC20, transfer, call, and read the Transfer logs.
//! `scripts/setup.sh` installs it into `tests/js/node_modules`.

use bcos_tests::cast::{Cast, DEV_ADDR, DEV_ADDR_1 as RECEIVER, DEV_KEY};
use bcos_tests::client::compile_token;
use bcos_tests::{json, Node};

const SUPPLY: &str = "1000000000000000000000000";

#[test]
fn cast_deploys_transacts_and_reads_logs() {
    let node = Node::start(&[]);
    let cast = Cast::new(&node);
    assert_eq!(cast.run(&["chain-id"]), "20200");

    let artifact = compile_token(&node);
    let bytecode = artifact["bytecode"].as_str().expect("bytecode");

    let deployed = cast.json(&[
        "send",
        "--json",
        "--private-key",
        DEV_KEY,
        "--create",
        bytecode,
        "constructor(uint256)",
        SUPPLY,
    ]);
    assert_eq!(deployed["status"], json!("0x1"), "{deployed}");
    let token = deployed["contractAddress"]
        .as_str()
        .expect("contractAddress")
        .to_string();
    assert_ne!(cast.run(&["code", &token]), "0x", "no code at {token}");

    let sent = cast.json(&[
        "send",
        "--json",
        "--private-key",
        DEV_KEY,
        &token,
        "transfer(address,uint256)",
        RECEIVER,
        "1234",
    ]);
    assert_eq!(sent["status"], json!("0x1"), "{sent}");
    let legacy = cast.json(&[
        "send",
        "--json",
        "--legacy",
        "--private-key",
        DEV_KEY,
        &token,
        "transfer(address,uint256)",
        RECEIVER,
        "766",
    ]);
    assert_eq!(legacy["type"], json!("0x0"), "{legacy}");

    assert_eq!(
        cast.run(&["call", &token, "balanceOf(address)(uint256)", RECEIVER]),
        "2000"
    );
    let logs = cast.json(&[
        "logs",
        "--json",
        "--from-block",
        "0",
        "--to-block",
        "latest",
        "--address",
        &token,
        "Transfer(address indexed from, address indexed to, uint256 value)",
    ]);
    let logs = logs.as_array().expect("cast logs prints an array");
    assert_eq!(logs.len(), 3, "mint + two transfers: {logs:?}");
    let from_topic = logs[1]["topics"][1]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        from_topic.ends_with(&DEV_ADDR[2..].to_lowercase()),
        "the first transfer is from dev account 0: {from_topic}"
    );
    let receipt = cast.json(&[
        "receipt",
        "--json",
        sent["transactionHash"].as_str().expect("hash"),
    ]);
    assert_eq!(
        receipt["logs"].as_array().map(Vec::len),
        Some(1),
        "{receipt}"
    );
}

/// Groups (issue 13): cast reaches a group by URL alone, signs with that group's chain id
/// (which it reads from the endpoint), and the transfer lands in that group only.
#[test]
fn cast_targets_a_group_by_url() {
    let c = bcos_tests::cluster::Cluster::start_with(1, &[0], &["--groups", "2"]);
    let node = c.node(0);
    let g1 = Cast {
        node,
        url: format!("{}/g/1", node.rpc_url),
    };
    let g0 = Cast {
        node,
        url: node.rpc_url.clone(),
    };
    assert_eq!(g1.run(&["chain-id"]), "20201");
    assert_eq!(g0.run(&["chain-id"]), "20200");
    let receipt = g1.json(&[
        "send",
        "--private-key",
        DEV_KEY,
        "--json",
        RECEIVER,
        "--value",
        "12345",
    ]);
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    let balance = |c: &Cast| c.run(&["balance", RECEIVER]);
    assert_ne!(
        balance(&g1),
        balance(&g0),
        "the transfer landed in group 0 too"
    );
    assert_eq!(g0.run(&["nonce", DEV_ADDR]), "0");
    assert_eq!(g1.run(&["nonce", DEV_ADDR]), "1");
}
