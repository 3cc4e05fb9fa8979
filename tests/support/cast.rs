//! Foundry's `cast` (npm `@foundry-rs/cast-linux-amd64`, unmodified) as a test client;
//! `scripts/setup.sh` installs it into `tests/js/node_modules`.

use crate::client::{run_client, run_client_failing, tests_dir};
use crate::node::Node;
use serde_json::Value;
use std::process::Command;

/// Dev account 0's key and address, and account 1's (the test mnemonic).
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const DEV_ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const DEV_KEY_1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const DEV_ADDR_1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

pub struct Cast<'a> {
    pub node: &'a Node,
    /// The endpoint: the node's RPC URL, or a group's (`…/g/<g>`).
    pub url: String,
}

impl<'a> Cast<'a> {
    pub fn new(node: &'a Node) -> Self {
        Cast {
            node,
            url: node.rpc_url.clone(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
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
        cmd
    }

    /// What `cast args…` printed, trimmed; panics unless it succeeds.
    pub fn run(&self, args: &[&str]) -> String {
        let what = format!("cast {}", args.first().copied().unwrap_or(""));
        run_client(self.command(args), &what, self.node)
            .stdout
            .trim()
            .to_string()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("cast {args:?}: not JSON ({e}): {out}"))
    }

    /// What `cast args…` printed on stderr; panics unless it fails.
    pub fn fails(&self, args: &[&str]) -> String {
        let what = format!("cast {}", args.first().copied().unwrap_or(""));
        run_client_failing(self.command(args), &what).stderr
    }
}
