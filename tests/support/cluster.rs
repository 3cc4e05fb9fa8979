//! A local cluster of real `bcos node` processes written by the real `bcos init`.

use crate::chain::{as_u64, committed_top, head, send_raw};
use crate::node::{bcos_bin, Node};
use crate::rpc::Rpc;
use crate::tx::{address_of, dev_key, transfer, unfunded_key};
use alloy_primitives::U256;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Polls of a cluster-wide condition (head agreement, leader known) at most.
pub const CLUSTER_POLL_ATTEMPTS: u32 = 2_400;
pub const CLUSTER_POLL_MS: u64 = 50;

pub struct Cluster {
    pub dir: tempfile::TempDir,
    /// `None` while a node is not running.
    pub nodes: Vec<Option<Node>>,
    pub n: usize,
}

/// Fixed ports are taken from below Linux's ephemeral range (32768..60999 by default):
/// a port inside it can be handed to any outgoing connection between our probe and the
/// node's bind, which is how a CI run once lost its admin port.
pub const TEST_PORT_MIN: u16 = 20_000;
pub const TEST_PORT_MAX: u16 = 32_000;

/// A base port such that `base..base + count` are all free on loopback now.
/// Tests running at once must not pick the same range, so the start depends on the pid
/// and the clock.
pub fn free_port_range(count: u16) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = std::process::id() ^ nanos;
    let slots = u32::from((TEST_PORT_MAX - TEST_PORT_MIN) / count.max(1));
    for attempt in 0..200u32 {
        let slot = seed.wrapping_add(attempt.wrapping_mul(997)) % slots;
        let base = TEST_PORT_MIN + (slot as u16) * count;
        let ok = (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no free range of {count} loopback ports in {TEST_PORT_MIN}..{TEST_PORT_MAX}");
}

/// Runs `bcos init --dev` into `out` for `n` nodes on loopback.
pub fn init(out: &Path, n: usize) {
    init_with(out, n, &[]);
}

/// `bcos init` with extra flags (e.g. `["--consensus", "raft", "--voters", "3"]`).
pub fn init_with(out: &Path, n: usize, extra: &[&str]) {
    let base = free_port_range(3 * n as u16);
    let status = Command::new(bcos_bin())
        // a dev chain: the tests sign with the test mnemonic's funded accounts and admin
        .args([
            "init",
            "--dev",
            "--nodes",
            &n.to_string(),
            "--hosts",
            "127.0.0.1",
        ])
        .arg("--out")
        .arg(out)
        .args(["--p2p-port", &base.to_string()])
        .args(["--rpc-port", &(base + n as u16).to_string()])
        .args(["--admin-port", &(base + 2 * n as u16).to_string()])
        .args(extra)
        .status()
        .expect("running bcos init");
    assert!(status.success(), "bcos init failed: {status}");
}

pub fn node_dir(out: &Path, i: usize) -> PathBuf {
    out.join(format!("node{i}"))
}

impl Cluster {
    /// Writes an `n`-node cluster and starts the nodes in `run`.
    pub fn start(n: usize, run: &[usize]) -> Cluster {
        Cluster::start_with(n, run, &[])
    }

    /// Like [`Cluster::start`] with extra `bcos init` flags.
    pub fn start_with(n: usize, run: &[usize], init_flags: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("bcos-cluster-")
            .tempdir()
            .expect("temp dir");
        init_with(&dir.path().join("c"), n, init_flags);
        let mut c = Cluster {
            dir,
            nodes: (0..n).map(|_| None).collect(),
            n,
        };
        for &i in run {
            c.start_node(i);
        }
        c
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("c")
    }

    pub fn start_node(&mut self, i: usize) {
        let d = node_dir(&self.out(), i);
        self.nodes[i] = Some(Node::start_config(
            &d.join("config.toml"),
            &d.join("data"),
            &[],
        ));
    }

    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node running")
    }

    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("node running")
    }

    pub fn rpc(&self, i: usize) -> &Rpc {
        &self.node(i).rpc
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.n).filter(|i| self.nodes[*i].is_some()).collect()
    }

    /// `bcos_getConsensusStatus` of node `i`.
    pub fn status(&self, i: usize) -> Value {
        self.rpc(i).ok("bcos_getConsensusStatus", json!([]))
    }

    /// Awaits node `i`'s consensus status reporting `want` in the numeric `field`.
    pub fn wait_status(&self, i: usize, field: &str, want: u64) {
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            if as_u64(&self.status(i)[field]) == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        panic!(
            "node {i}: {field} = {}, wanted {want}",
            self.status(i)[field]
        );
    }

    /// Awaits node `i` connected to `want` peers (`net_peerCount`). Links come up on their
    /// own schedule, and a PBFT quorum commits blocks before the last of them is up.
    pub fn wait_peers(&self, i: usize, want: u64) {
        let mut connected = 0;
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            connected = as_u64(&self.rpc(i).ok("net_peerCount", json!([])));
            if connected == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        panic!("node {i}: {connected} peers connected, wanted {want}");
    }

    /// Awaits every running node at one head `>= at_least` with one hash and state root;
    /// returns (head, hash, state root).
    pub fn wait_agreement(&self, at_least: u64) -> (u64, String, String) {
        let rpcs: Vec<Rpc> = self
            .running()
            .iter()
            .map(|&i| self.rpc(i).clone())
            .collect();
        wait_agreement_on(&rpcs, at_least)
    }

    /// [`Cluster::wait_agreement`] for group `g` among the running nodes of `members`.
    pub fn wait_group_agreement(
        &self,
        g: u32,
        members: &[usize],
        at_least: u64,
    ) -> (u64, String, String) {
        let rpcs: Vec<Rpc> = members
            .iter()
            .filter(|i| self.nodes[**i].is_some())
            .map(|&i| self.rpc(i).group(g))
            .collect();
        wait_agreement_on(&rpcs, at_least)
    }

    /// Node `i`'s admin listener (group lifecycle), from its config.
    pub fn admin(&self, i: usize) -> Rpc {
        let path = node_dir(&self.out(), i).join("config.toml");
        let text = std::fs::read_to_string(&path).expect("node config");
        let addr = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("admin_addr = "))
            .unwrap_or_else(|| panic!("no rpc.admin_addr in {}", path.display()))
            .trim_matches('"');
        Rpc::new(&format!("http://{addr}"))
    }

    /// The leader of the next height as node `asker` sees it.
    pub fn leader(&self, asker: usize) -> usize {
        as_u64(&self.status(asker)["leader"]) as usize
    }

    /// Awaits a leader (Raft: elected; the `leader` field is null until then) on which
    /// every running node agrees, other than `not`.
    pub fn wait_leader(&self, not: Option<usize>) -> usize {
        self.wait_leader_among(&self.running(), not)
    }

    /// Like [`Cluster::wait_leader`], asking only the nodes in `among` (the members: a
    /// non-member hears no leader).
    pub fn wait_leader_among(&self, among: &[usize], not: Option<usize>) -> usize {
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            let seen: Vec<Value> = among
                .iter()
                .map(|&i| self.status(i)["leader"].clone())
                .collect();
            if let Some(first) = seen.first().and_then(Value::as_u64) {
                let l = first as usize;
                if seen.iter().all(|v| v.as_u64() == Some(first))
                    && Some(l) != not
                    && self.nodes[l].is_some()
                {
                    return l;
                }
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        panic!("no agreed leader");
    }

    /// Awaits node `i`'s head reaching `at_least`.
    pub fn wait_head(&self, i: usize, at_least: u64) {
        for _ in 0..CLUSTER_POLL_ATTEMPTS {
            if head(self.rpc(i)) >= at_least {
                return;
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
        panic!(
            "node {i} did not reach head {at_least} (at {})",
            head(self.rpc(i))
        );
    }
}

/// Awaits every endpoint in `rpcs` at one head `>= at_least` with one hash and state root;
/// returns (head, hash, state root). Two different blocks at one height fail at once.
pub fn wait_agreement_on(rpcs: &[Rpc], at_least: u64) -> (u64, String, String) {
    let mut last = Vec::new();
    for _ in 0..CLUSTER_POLL_ATTEMPTS {
        let heads: Vec<u64> = rpcs.iter().map(head).collect();
        let h = heads.iter().copied().min().unwrap_or(0);
        if h >= at_least && heads.iter().all(|x| *x == h) {
            let tops: Vec<(String, String)> = rpcs
                .iter()
                .map(|r| {
                    let b = r.ok("eth_getBlockByNumber", json!([format!("0x{h:x}"), false]));
                    (
                        b["hash"].as_str().unwrap_or_default().to_string(),
                        b["stateRoot"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            if tops.windows(2).all(|w| w[0] == w[1]) {
                let (hash, root) = tops[0].clone();
                return (h, hash, root);
            }
            // Same height, different blocks: a fork, never acceptable.
            panic!("nodes disagree at height {h}: {tops:?}");
        }
        last = heads;
        std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
    }
    panic!("no agreement on a head >= {at_least}; heads {last:?}");
}

/// Sends `count` transfers of 1,000 wei from dev account `acct` (nonces from `nonce`) to
/// the unfunded account `acct + 1` through node `via`; returns their hashes.
pub fn send_transfers(c: &Cluster, via: usize, acct: usize, nonce: u64, count: u64) -> Vec<String> {
    let key = dev_key(acct);
    let to = address_of(&unfunded_key(acct as u8 + 1));
    (nonce..nonce + count)
        .map(|n| {
            send_raw(c.rpc(via), &transfer(&key, n, to, U256::from(1_000u64)))
                .unwrap_or_else(|e| panic!("node {via} refused a transfer: {e:?}"))
        })
        .collect()
}

/// Awaits the receipts (all successful) on node `via`; returns the highest block holding one.
pub fn top_block(c: &Cluster, via: usize, hashes: &[String]) -> u64 {
    committed_top(c.rpc(via), hashes)
}

/// A governance proposal from the committee (dev account 0 alone on a `--dev` chain, so it
/// passes at once) whose action makes `index` a voter or validator or not
/// (spec/governance.md GOV-R9); returns its hash.
pub fn membership_tx(c: &Cluster, via: usize, nonce: u64, sealer: bool, index: u32) -> String {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::IGovernanceActions;
    let action = IGovernanceActions::setSealerCall {
        node: index,
        sealer,
    }
    .abi_encode();
    proposal_tx(c, via, nonce, action)
}

/// A governance proposal of `action` (an `IGovernanceActions` call) from dev account 0,
/// the committee of a `--dev` chain, so it passes at once; returns its hash.
pub fn proposal_tx(c: &Cluster, via: usize, nonce: u64, action: Vec<u8>) -> String {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::{IGovernance, GOVERNANCE_ADDRESS};
    let raw = crate::tx::TxSpec {
        nonce,
        to: GOVERNANCE_ADDRESS,
        gas_limit: 2_000_000,
        input: IGovernance::proposeCall {
            action: action.into(),
        }
        .abi_encode(),
        ..crate::tx::TxSpec::default()
    }
    .raw(&dev_key(0));
    send_raw(c.rpc(via), &raw).unwrap_or_else(|e| panic!("governance proposal refused: {e:?}"))
}

/// The voters (Raft) or validators (PBFT) node `i`'s consensus runs with now.
pub fn members(c: &Cluster, i: usize) -> Vec<u64> {
    c.status(i)["members"]
        .as_array()
        .map(|a| a.iter().map(as_u64).collect())
        .unwrap_or_default()
}

/// Awaits node `i` running with exactly `want` as its voters or validators.
pub fn wait_members(c: &Cluster, i: usize, want: &[u64]) {
    for _ in 0..CLUSTER_POLL_ATTEMPTS {
        if members(c, i) == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
    }
    panic!("node {i} members {:?}, wanted {want:?}", members(c, i));
}
