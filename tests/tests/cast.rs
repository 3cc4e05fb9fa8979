//! Foundry's `cast` (npm `@foundry-rs/cast-linux-amd64`, unmodified) against a fresh
//! `bcos dev`: deploy the test ERC20, transfer, call, and read the Transfer logs.
//! `scripts/setup.sh` installs it into `tests/js/node_modules`.

use bcos_tests::client::{run_client, tests_dir};
use bcos_tests::{json, Node, Value};
use std::process::Command;

/// Dev account 0's key and account 1's address (the test mnemonic).
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const DEV_ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const RECEIVER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SUPPLY: &str = "1000000000000000000000000";

struct Cast<'a> {
    node: &'a Node,
    /// The endpoint: the node's RPC URL, or a group's (`…/g/<g>`).
    url: String,
}

impl Cast<'_> {
    fn run(&self, args: &[&str]) -> String {
        let bin = tests_dir().join("js/node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/setup.sh (npm ci --prefix tests/js)",
            bin.display()
        );
        let mut cmd = Command::new(bin);
        // The subcommand, then the endpoint, then its arguments: trailing positional
        // arguments (a constructor's) would swallow a flag placed after them.
        let (sub, rest) = args.split_first().expect("a cast subcommand");
        cmd.arg(sub)
            .args(["--rpc-url", &self.url])
            .args(rest)
            // No telemetry, no update checks, no config from the user's home.
            .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "1")
            .env("HOME", tests_dir());
        let what = format!("cast {}", args.first().copied().unwrap_or(""));
        run_client(cmd, &what, self.node).stdout.trim().to_string()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("cast {args:?}: not JSON ({e}): {out}"))
    }
}

#[test]
fn cast_deploys_transacts_and_reads_logs() {
    let node = Node::start(&[]);
    let cast = Cast {
        node: &node,
        url: node.rpc_url.clone(),
    };
    assert_eq!(cast.run(&["chain-id"]), "20200");

    let compiled = run_client(
        {
            let mut c = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
            c.arg(tests_dir().join("js/compile.mjs"));
            c
        },
        "compile.mjs",
        &node,
    );
    let artifact: Value = serde_json::from_str(&compiled.stdout).expect("compile.mjs prints JSON");
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
