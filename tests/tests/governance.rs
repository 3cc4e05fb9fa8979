//! Governance and RegTech through ethers on a 4-node PBFT cluster (spec/governance.md):
//! `tests/js/governance.mjs` proposes, votes and checks every rule against node 0 and reads
//! the result from every node. The committee is dev accounts 0, 1 and 2 (threshold 2),
//! proposals live 4 blocks, dev account 3 is the regulator.

use bcos_tests::client::{run_client, tests_dir};
use bcos_tests::cluster::Cluster;
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
}
