//! `bcos up` as a user runs it: the supervisor keeps a local cluster running when one node
//! process dies (kill -9), restarting it under `--restart always` and leaving it down under
//! `--restart never`; the other nodes commit throughout.

use bcos_tests::cluster::{free_port_range, node_dir, CLUSTER_POLL_ATTEMPTS, CLUSTER_POLL_MS};
use bcos_tests::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the supervisor may take to report a death or a restart (its first restart
/// delay is 1 s; a loaded 2-core machine is slow).
const EVENT_TIMEOUT_MS: u64 = 120_000;
const STOP_TIMEOUT_MS: u64 = 60_000;

struct Up {
    child: Child,
    dir: tempfile::TempDir,
    rpcs: Vec<Rpc>,
    /// Every line `bcos up` printed (stdout and stderr), in order of arrival.
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Up {
    fn start(n: usize, restart: &str) -> Up {
        Up::start_with(n, restart, &[])
    }

    /// `bcos up` with extra flags; every port (P2P, RPC, admin) comes from a free range.
    fn start_with(n: usize, restart: &str, extra: &[&str]) -> Up {
        let dir = tempfile::Builder::new()
            .prefix("bcos-up-")
            .tempdir()
            .expect("temp dir");
        let base = free_port_range(3 * n as u16);
        let rpc_port = base + n as u16;
        let admin_port = base + 2 * n as u16;
        let mut child = Command::new(bcos_bin())
            .args(["up", "--nodes", &n.to_string(), "--restart", restart])
            .arg("--dir")
            .arg(dir.path().join("c"))
            .args(["--p2p-port", &base.to_string()])
            .args(["--rpc-port", &rpc_port.to_string()])
            .args(["--admin-port", &admin_port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running bcos up");
        let (tx, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let rpcs = (0..n)
            .map(|i| Rpc::new(&format!("http://127.0.0.1:{}", rpc_port + i as u16)))
            .collect();
        let up = Up {
            child,
            dir,
            rpcs,
            lines,
            seen: Vec::new(),
        };
        for i in 0..n {
            up.wait_rpc(i);
        }
        up
    }

    fn node_dir(&self, i: usize) -> std::path::PathBuf {
        node_dir(&self.dir.path().join("c"), i)
    }

    fn pid(&self, i: usize) -> Option<u32> {
        std::fs::read_to_string(self.node_dir(i).join("node.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn rpc_answers(&self, i: usize) -> bool {
        self.rpcs[i]
            .post_raw(br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#)
            .is_ok_and(|(status, _)| status == 200)
    }

    fn wait_rpc(&self, i: usize) {
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            if self.rpc_answers(i) {
                return;
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        panic!(
            "node {i}'s RPC never answered; bcos up said: {:?}",
            self.seen
        );
    }

    /// Awaits a line of `bcos up`'s output that contains `needle`.
    fn wait_line(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = std::time::Instant::now() + Duration::from_millis(EVENT_TIMEOUT_MS);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("bcos up never said {needle:?}; it said: {:?}", self.seen),
            }
        }
    }

    fn kill9(&self, i: usize) -> u32 {
        let pid = self.pid(i).expect("a running node has a pid file");
        // SAFETY: kill(2) on the pid of a node `bcos up` runs; no memory involved.
        let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill -9 {pid}");
        pid
    }

    /// Transfers from dev account `acct` through node `via`; awaits their receipts there.
    fn transfers_commit(&self, via: usize, acct: usize, count: u64) -> u64 {
        let key = dev_key(acct);
        let to = address_of(&unfunded_key(acct as u8 + 1));
        let from_nonce = nonce(&self.rpcs[via], &address_of(&key), "latest");
        let hashes: Vec<String> = (from_nonce..from_nonce + count)
            .map(|n| {
                send_raw(
                    &self.rpcs[via],
                    &transfer(&key, n, to, U256::from(1_000u64)),
                )
                .unwrap_or_else(|e| panic!("node {via} refused a transfer: {e:?}"))
            })
            .collect();
        committed_top(&self.rpcs[via], &hashes)
    }

    /// SIGTERM to `bcos up`; it must stop every node and exit.
    fn stop(mut self) -> Vec<Option<u32>> {
        let pids: Vec<Option<u32>> = (0..self.rpcs.len()).map(|i| self.pid(i)).collect();
        // SAFETY: kill(2) on our own child; no memory involved.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_millis(STOP_TIMEOUT_MS);
        loop {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "bcos up did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        pids
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: as in `stop`.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = self.child.wait();
        }
    }
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn a_killed_node_is_restarted_and_rejoins_while_the_others_commit() {
    let mut up = Up::start(4, "always");
    up.wait_line("nodes running (--restart always)");
    up.transfers_commit(0, 2, 3);

    let old = up.kill9(1);
    up.wait_line("node 1 exited");
    // The other three are a PBFT quorum (f = 1): they commit while node 1 is down.
    up.transfers_commit(2, 3, 3);
    up.wait_line("node 1 restarted");
    let new = up.pid(1).expect("the restarted node has a pid file");
    assert_ne!(old, new, "node 1 runs as a new process");
    up.wait_rpc(1);

    // The restarted node takes transactions again and catches up to the others' blocks.
    let top = up.transfers_commit(1, 4, 3);
    for i in 0..4 {
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            if head(&up.rpcs[i]) >= top {
                break;
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        assert!(head(&up.rpcs[i]) >= top, "node {i} behind block {top}");
    }
    let hashes: Vec<Value> = (0..4)
        .map(|i| {
            up.rpcs[i].ok("eth_getBlockByNumber", json!([quantity(top), false]))["hash"].clone()
        })
        .collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");

    let pids = up.stop();
    for pid in pids.into_iter().flatten() {
        assert!(!alive(pid), "node process {pid} outlived bcos up");
    }
}

#[test]
fn under_restart_never_a_dead_node_stays_down_and_the_rest_run_on() {
    let mut up = Up::start(4, "never");
    up.wait_line("nodes running (--restart never)");
    up.kill9(3);
    let line = up.wait_line("node 3 exited");
    assert!(line.contains("not restarting"), "{line}");
    // Three of four PBFT nodes commit on.
    up.transfers_commit(0, 5, 3);
    assert!(up.pid(3).is_none(), "a node left down has no pid file");
    assert!(
        !up.rpc_answers(3),
        "node 3 was restarted under --restart never"
    );
    assert!(
        !up.seen.iter().any(|l| l.contains("node 3 restarted")),
        "{:?}",
        up.seen
    );
    up.stop();
}

/// `bcos up --hf-merchant` (spec/settlement.md §9): the merchant chain and a user chain,
/// with the relayer `bcos up` starts itself; a payment on the user chain ends up credited
/// to the merchant on the merchant chain, and the proxy is emptied.
#[test]
fn an_hf_merchant_cluster_credits_the_merchant_through_its_own_relayer() {
    let merchant = address_of(&unfunded_key(0xAB));
    let m = addr_hex(&merchant);
    let extra = [
        "--groups",
        "2",
        "--hf-merchant",
        &m,
        "--settle-interval-ms",
        "200",
    ];
    let mut up = Up::start_with(4, "always", &extra);
    up.wait_line("relayer of group 1 -> group 0");
    let user = up.rpcs[1].group(1);
    // `bcos up` starts the nodes at once and each starts its groups behind an RPC port that
    // already answers: wait until every node serves both groups. (A transaction forwarded
    // to a peer whose group has not started is lost to that peer, and an idle PBFT group
    // does not change leader for it: see the closing note of issue 14.)
    for rpc in &up.rpcs {
        for g in [0, 1] {
            let rpc = rpc.group(g);
            let mut serving = false;
            for _ in 0..CLUSTER_POLL_ATTEMPTS {
                if rpc.call("eth_blockNumber", json!([])).is_ok() {
                    serving = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
            }
            assert!(serving, "group {g} never served at {:?}", rpc.addr());
        }
    }
    let payer = dev_key(3);
    let raw = TxSpec {
        chain_id: 20201,
        to: merchant,
        value: U256::from(123_456u64),
        ..TxSpec::default()
    }
    .raw(&payer);
    let hash = send_raw(&user, &raw).unwrap_or_else(|e| panic!("payment refused: {e:?}"));
    assert!(status_ok(&wait_receipt(&user, &hash)));
    let merchant_chain = up.rpcs[0].group(0);
    for _ in 0..CLUSTER_POLL_ATTEMPTS {
        if balance(&merchant_chain, &merchant) == U256::from(123_456u64) {
            assert_eq!(
                balance(&user, &merchant),
                U256::ZERO,
                "the proxy still holds it"
            );
            up.stop();
            return;
        }
        std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
    }
    let relay_log =
        std::fs::read_to_string(up.dir.path().join("c/relayer-g1/relay.log")).unwrap_or_default();
    panic!("never credited; relayer log:\n{relay_log}");
}
