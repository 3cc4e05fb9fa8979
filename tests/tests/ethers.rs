//! Clients nobody here wrote: the ethers v6 / solc-js scenarios in `tests/js`, each run with
//! `node` against a fresh `bcos dev`. `scripts/setup.sh` installs `tests/js/node_modules`.

use bcos_tests::client::{run_client, tests_dir};
use bcos_tests::Node;
use std::process::Command;

fn run_scenario(script: &str) {
    let dir = tests_dir().join("js");
    assert!(
        dir.join("node_modules/ethers").is_dir() && dir.join("node_modules/solc").is_dir(),
        "{}/node_modules is missing: run scripts/setup.sh (npm ci --prefix tests/js)",
        dir.display()
    );
    let node = Node::start(&[]);
    let mut cmd = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
    cmd.arg(dir.join(script))
        .arg(&node.rpc_url)
        .arg(&node.ws_url)
        .current_dir(&dir);
    let out = run_client(cmd, script, &node);
    eprint!("{}", out.stdout);
}

#[test]
fn ethers_erc20_scenario() {
    run_scenario("erc20.mjs");
}

#[test]
fn ethers_websocket_scenario() {
    run_scenario("ws.mjs");
}

#[test]
fn json_rpc_batch_scenario() {
    run_scenario("batch.mjs");
}

#[test]
fn ethers_cns_scenario() {
    run_scenario("cns.mjs");
}
