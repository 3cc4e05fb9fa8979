//! Clients nobody here wrote: the ethers v6 / solc-js scenarios in `tests/js`, each run with
//! `node` against a fresh `bcos dev`. `scripts/setup.sh` installs `tests/js/node_modules`.

use bcos_tests::Node;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scenario that runs longer than this fails (its own watchdog fires at 300 s).
const SCENARIO_TIMEOUT_MS: u64 = 330_000;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn run_scenario(script: &str) {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/ethers").is_dir() && dir.join("node_modules/solc").is_dir(),
        "{}/node_modules is missing: run scripts/setup.sh (npm ci --prefix tests/js)",
        dir.display()
    );
    let node = Node::start(&[]);
    let mut child = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
        .arg(dir.join(script))
        .arg(&node.rpc_url)
        .arg(&node.ws_url)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js >= 18 is required): {e}"));
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
    let deadline = Instant::now() + Duration::from_millis(SCENARIO_TIMEOUT_MS);
    let status = loop {
        match child.try_wait().expect("wait for node.js") {
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
        Some(s) if s.success() => eprint!("{stdout}"),
        other => panic!(
            "{script} failed ({other:?}, None = timed out)\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- node log\n{}",
            node.log_tail()
        ),
    }
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
