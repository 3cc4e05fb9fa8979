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
pub fn run_client(mut cmd: Command, what: &str, node: &Node) -> ClientOutput {
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
    match status {
        Some(s) if s.success() => ClientOutput { stdout, stderr },
        other => panic!(
            "{what} failed ({other:?}, None = timed out)\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- node log\n{}",
            node.log_tail()
        ),
    }
}
