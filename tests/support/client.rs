//! Runs a client nobody here wrote (node.js + ethers, python + web3.py, cast) as a child
//! process against a running node, with a deadline; a failure quotes the client's output and
//! the node's log.

use crate::node::Node;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A client run longer than this fails (the scenarios' own watchdogs fire at 300 s).
pub const CLIENT_TIMEOUT_MS: u64 = 330_000;

/// The `tests/` directory (js/, py/ live there).
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a finished client printed.
pub struct ClientOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion; panics (quoting everything) unless it exits 0 in time.
pub fn run_client(cmd: Command, what: &str, node: &Node) -> ClientOutput {
    match run_client_to_end(cmd, what) {
        (Some(s), out) if s.success() => out,
        (other, out) => panic!(
            "{what} failed ({other:?}, None = timed out)\n--- stdout\n{}\n--- stderr\n{}\n--- node log\n{}",
            out.stdout,
            out.stderr,
            node.log_tail()
        ),
    }
}

/// Runs `cmd` to completion, expecting it to fail: its output; panics if it succeeds or
/// does not finish in time.
pub fn run_client_failing(cmd: Command, what: &str) -> ClientOutput {
    match run_client_to_end(cmd, what) {
        (Some(s), out) if !s.success() => out,
        (other, out) => panic!(
            "{what} was expected to fail ({other:?}, None = timed out)\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        ),
    }
}

/// Runs `cmd` until it exits or [`CLIENT_TIMEOUT_MS`] passes (then kills it: status None).
fn run_client_to_end(
    mut cmd: Command,
    what: &str,
) -> (Option<std::process::ExitStatus>, ClientOutput) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_millis(CLIENT_TIMEOUT_MS);
    let status = loop {
        match child.try_wait().expect("wait for the client") {
            Some(s) => break Some(s),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    (status, ClientOutput { stdout, stderr })
}

/// The test ERC20 (`{ "abi", "bytecode" }`, constructor `(uint256 supply)`), compiled offline
/// by solc-js through `tests/js/compile.mjs`, as every client here deploys it.
pub fn compile_token(node: &Node) -> serde_json::Value {
    let mut cmd = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
    cmd.arg(tests_dir().join("js/compile.mjs"));
    let out = run_client(cmd, "compile.mjs", node);
    serde_json::from_str(&out.stdout).expect("compile.mjs prints JSON")
}
