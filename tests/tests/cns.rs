//! The contract naming service end to end (spec/execution.md §7) against a fresh `bcos dev`:
//! `bcos cns deploy` deploys and registers, `bcos cns resolve|list|route|set-route` and the
//! `bcos_resolve` RPC read it back, and Foundry's `cast` (unmodified) calls the same contract
//! through its ABI, including the reverts a non-owner and a re-registered version get.

use bcos_tests::cast::{Cast, DEV_ADDR, DEV_KEY, DEV_KEY_1};
use bcos_tests::client::{compile_token, run_client, run_client_failing};
use bcos_tests::{bcos_bin, json, Node, Rpc, Value};
use std::process::Command;

const CNS: &str = "0x0000000000000000000000000000000000001004";
/// `uint256 1000`, the token's constructor argument, ABI-encoded.
const SUPPLY_ARGS: &str = "0x00000000000000000000000000000000000000000000000000000000000003e8";

fn bcos_cns(node: &Node, args: &[&str]) -> Command {
    let mut cmd = Command::new(bcos_bin());
    cmd.args(["cns", "--rpc", &node.rpc_url]).args(args);
    cmd
}

/// What `bcos cns args…` printed (one JSON value); panics unless it succeeds.
fn cli(node: &Node, args: &[&str]) -> Value {
    let out = run_client(bcos_cns(node, args), "bcos cns", node).stdout;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("bcos cns {args:?}: {e}: {out}"))
}

fn address(v: &Value) -> String {
    v["address"].as_str().expect("an address").to_lowercase()
}

#[test]
fn cli_rpc_and_cast_register_resolve_route_and_refuse_through_the_cns() {
    let node = Node::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("token.json");
    std::fs::write(&artifact, compile_token(&node).to_string()).expect("write the artifact");
    let artifact = artifact.to_str().expect("utf-8 path");

    // Deploy and register two versions in one command each.
    let deploy = |version: &str| {
        cli(
            &node,
            &[
                "--dev-account",
                "0",
                "deploy",
                "--name",
                "Token",
                "--version",
                version,
                "--constructor-args",
                SUPPLY_ARGS,
                artifact,
            ],
        )
    };
    let v1 = address(&deploy("1.0"));
    let v2 = address(&deploy("2.0"));
    assert_ne!(v1, v2);
    let cast = Cast::new(&node);
    // The deployed contract is the token, constructed with its argument.
    assert_eq!(cast.run(&["call", &v1, "totalSupply()(uint256)"]), "1000");

    // Resolve: the CLI, the RPC and cast agree.
    let latest = cli(&node, &["resolve", "Token"]);
    assert_eq!(
        (latest["version"].as_str(), address(&latest)),
        (Some("2.0"), v2.clone())
    );
    assert_eq!(address(&cli(&node, &["resolve", "Token", "1.0"])), v1);
    let rpc = Rpc::new(&node.rpc_url);
    let resolved = rpc.ok("bcos_resolve", json!(["Token", "latest"]));
    assert_eq!(resolved["version"], json!("2.0"));
    assert_eq!(address(&resolved), v2);
    assert_eq!(
        address(&rpc.ok("bcos_resolve", json!(["Token", "1.0"]))),
        v1
    );
    let missing = rpc
        .call("bcos_resolve", json!(["Token", "9.9"]))
        .unwrap_err();
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (-32000, "cns: Token 9.9 is not registered")
    );
    let bad = rpc
        .call("bcos_resolve", json!(["no spaces allowed"]))
        .unwrap_err();
    assert_eq!(bad.code, -32602, "{}", bad.message);
    assert_eq!(
        cast.run(&[
            "call",
            CNS,
            "resolve(string,string)(address)",
            "Token",
            "1.0"
        ])
        .to_lowercase(),
        v1
    );
    let last = cast.run(&["call", CNS, "latest(string)(string,address)", "Token"]);
    assert_eq!(last.to_lowercase(), format!("\"2.0\"\n{v2}"), "{last}");

    // The ABI went with each version.
    let abi = cast.run(&["call", CNS, "abiOf(string,string)(string)", "Token", "1.0"]);
    assert!(abi.contains("totalSupply"), "{abi}");

    // Listed with owner and versions.
    let list = cli(&node, &["list"]);
    assert_eq!(list[0]["name"], json!("Token"));
    assert_eq!(list[0]["versions"], json!(["1.0", "2.0"]));
    assert_eq!(
        list[0]["owner"].as_str().map(str::to_lowercase),
        Some(DEV_ADDR.to_lowercase())
    );

    // Refusals, with their reasons: a non-owner (CLI and cast), a re-registered version.
    let out = run_client_failing(
        bcos_cns(
            &node,
            &[
                "--dev-account",
                "1",
                "register",
                "--name",
                "Token",
                "--version",
                "3.0",
                "--address",
                &v1,
            ],
        ),
        "bcos cns register by a non-owner",
    );
    assert!(out.stderr.contains("is owned by"), "{}", out.stderr);
    let err = cast.fails(&[
        "send",
        "--private-key",
        DEV_KEY_1,
        CNS,
        "register(string,string,address,string)",
        "Token",
        "3.0",
        &v1,
        "",
    ]);
    assert!(err.contains("is owned by"), "{err}");
    let err = cast.fails(&[
        "send",
        "--private-key",
        DEV_KEY,
        CNS,
        "register(string,string,address,string)",
        "Token",
        "1.0",
        &v2,
        "",
    ]);
    assert!(err.contains("already registered"), "{err}");
    assert_eq!(address(&cli(&node, &["resolve", "Token", "1.0"])), v1);

    // Registered through cast by the owner: a third version, not deployed by the CLI.
    let sent = cast.json(&[
        "send",
        "--json",
        "--private-key",
        DEV_KEY,
        CNS,
        "register(string,string,address,string)",
        "Token",
        "3.0",
        &v1,
        "[]",
    ]);
    assert_eq!(sent["status"], json!("0x1"), "{sent}");
    assert_eq!(cli(&node, &["resolve", "Token"])["version"], json!("3.0"));

    // The canary route: set by the owner; each key stays on its version; the CLI's text
    // key is its keccak256.
    let route = cli(
        &node,
        &[
            "--dev-account",
            "0",
            "set-route",
            "Token",
            "--stable",
            "1.0",
            "--canary",
            "2.0",
            "--permille",
            "500",
        ],
    );
    assert_eq!(route["canaryPermille"], json!(500));
    let mut landed = std::collections::BTreeSet::new();
    for user in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let by_cli = address(&cli(&node, &["route", "Token", "--key", user]));
        assert!(by_cli == v1 || by_cli == v2, "{user} routed to {by_cli}");
        let key = alloy_primitives::keccak256(user.as_bytes()).to_string();
        let by_cast = cast.run(&["call", CNS, "route(string,bytes32)(address)", "Token", &key]);
        assert_eq!(by_cast.to_lowercase(), by_cli, "{user}");
        assert_eq!(
            address(&cli(&node, &["route", "Token", "--key", user])),
            by_cli
        );
        landed.insert(by_cli);
    }
    assert_eq!(
        landed.len(),
        2,
        "eight keys at 50 % all landed on one version"
    );
}
