//! Where the load goes: `embedded` (the default) starts the profile's nodes from this
//! checkout's `bcos` — one `bcos dev` node for consensus "solo" (the profile's node settings
//! written to a config TOML in a temp dir), or an N-node PBFT cluster (`bcos init` into a temp
//! dir on a free port range, the settings overlaid onto each node's config by [`cluster`],
//! then N `bcos node` processes) — waits for their `RPC:` lines (and, for a cluster, for every
//! node to reach all its peers), samples their CPU time and peak RSS from /proc, and stops
//! them with SIGTERM; or existing nodes given by `--url` (repeatable: load is spread over
//! them, one connection at a time). With several groups (`[node] groups`, issue 13) each
//! node serves group g at its URL + `/g/<g>` ([`Target::group_urls`]). A `--url` node that
//! is not bcos (anvil: no `bcos_*` methods) is detected once, when attaching
//! ([`Target::kind`]): its stages are then recorded as absent and no `bcos_*` call is made.
//!
//! [`cluster`]: crate::cluster

use crate::cluster;
use crate::error::{usage, UsageError};
use crate::node_info::NodeKind;
use crate::profile::NodeSpec;
use crate::progress::note;
use crate::relayers::Relayer;
use crate::rpc_client::RpcClient;
use crate::settlement::SettlementTarget;
use crate::writeback::{self, Settled};
use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long starting nodes may take to print their RPC lines (all of them together).
pub const NODE_START_TIMEOUT_MS: u64 = 120_000;
/// How long a cluster's nodes may take to connect to all their peers after starting.
pub const CLUSTER_CONNECT_TIMEOUT_MS: u64 = 60_000;
/// Pause between peer-count polls while a cluster connects.
const CLUSTER_POLL_MS: u64 = 50;
/// How long nodes may take to exit after SIGTERM before they are killed.
pub const NODE_STOP_TIMEOUT_MS: u64 = 60_000;
/// Environment variable the node reads to record tracing-flame folded stacks.
pub const FLAME_ENV: &str = "BCOS_FLAME_FILE";

/// CPU time and peak memory of one node process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub cpu_s: f64,
    pub rss_bytes_max: u64,
}

struct NodeProcess {
    child: Child,
    log: PathBuf,
    flame: Option<PathBuf>,
    /// Receives the node's RPC URL once it prints it.
    rpc_line: Option<mpsc::Receiver<String>>,
}

pub struct Target {
    urls: Vec<String>,
    /// Groups every node runs (1: the node URLs themselves).
    groups: usize,
    /// High-frequency accounts: the merchant chain and the user chains the load goes to.
    settlement: Option<SettlementTarget>,
    /// The embedded cluster's `bcos relay` processes, one per user chain.
    relayers: parking_lot::Mutex<Vec<Relayer>>,
    nodes: Vec<NodeProcess>,
    /// Processes of remote nodes started by the caller (anvil), sampled like embedded ones.
    watched: Vec<u32>,
    /// What the nodes are: bcos for embedded ones, detected on the first URL for remote ones.
    kind: NodeKind,
    /// The node config written for embedded nodes (TOML; node 0's for a cluster).
    pub node_config: String,
    /// The dirty page cache written back before embedded nodes started ([`writeback`]).
    pub writeback: Option<Settled>,
    _dir: Option<tempfile::TempDir>,
}

/// Options for embedded nodes.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedOptions {
    pub bin: Option<PathBuf>,
    /// Record folded stacks into `<flame_dir>/node-<i>.folded`.
    pub flame_dir: Option<PathBuf>,
}

impl Target {
    /// Attaches to running nodes; an unreachable URL is a usage error. With `groups` > 1
    /// every node must serve `/g/<g>` for each group, with one chain id per group. With
    /// `user_chains` U > 0 (`groups` = U + 1) group 0 must be a merchant chain and groups
    /// 1..=U its user chains (the merchant is read from the status); their relayers are the
    /// cluster's business.
    pub fn remote(urls: &[String], groups: usize, user_chains: usize) -> anyhow::Result<Target> {
        crate::groups::check(groups, "", true).map_err(|e| UsageError(format!("--{e}")))?;
        for url in urls {
            let ok = RpcClient::connect(url).and_then(|mut c| c.must("eth_chainId", json!([])));
            if let Err(e) = ok {
                return usage(format!("cannot reach node at {url}: {e:#}"));
            }
        }
        let kind = match urls.first() {
            Some(url) => crate::node_info::detect(url)
                .map_err(|e| UsageError(format!("cannot reach node at {url}: {e:#}")))?,
            None => NodeKind::Bcos,
        };
        if let NodeKind::Foreign { client } = &kind {
            if groups > 1 || user_chains > 0 {
                return usage(format!(
                    "--groups and --user-chains need bcos nodes; {} is {client} (no bcos_* methods)",
                    urls[0]
                ));
            }
            note(&format!(
                "{} is not a bcos node ({client}): stage metrics are recorded as absent, commits read from eth_* blocks",
                urls[0]
            ));
        }
        if groups > 1 {
            for url in urls {
                check_remote_groups(url, groups)?;
            }
        }
        let settlement = match (user_chains, urls.first()) {
            (0, _) | (_, None) => None,
            (u, Some(url)) => Some(crate::settlement::attach(url, u, groups)?),
        };
        Ok(Target {
            urls: urls.to_vec(),
            groups,
            settlement,
            relayers: parking_lot::Mutex::new(Vec::new()),
            nodes: Vec::new(),
            watched: Vec::new(),
            kind,
            node_config: String::new(),
            writeback: None,
            _dir: None,
        })
    }

    /// Starts the nodes `spec` describes with its settings (data dirs, addresses and, for a
    /// cluster, keys and membership are laid out per node).
    pub fn embedded(spec: &NodeSpec, opts: &EmbeddedOptions) -> anyhow::Result<Target> {
        cluster::check_consensus(&spec.consensus, spec.nodes).map_err(UsageError)?;
        crate::groups::check(spec.groups, &spec.consensus, false)
            .map_err(|e| UsageError(format!("node.{e}")))?;
        crate::settlement::check(spec, false).map_err(|e| UsageError(format!("node.{e}")))?;
        let bin = find_bcos_bin(opts.bin.as_deref())?;
        let settled = writeback::settle();
        if settled.pending_mib >= 1.0 {
            note(&format!(
                "wrote back {:.0} MiB of dirty page cache before starting the nodes ({:.1} s), so \
                 that its writeback cannot stall their commits in a measured window",
                settled.pending_mib,
                settled.took.as_secs_f64()
            ));
        }
        let dir = tempfile::Builder::new().prefix("bcos-loadgen-").tempdir()?;
        let settlement = (spec.user_chains > 0).then(|| {
            let mut s =
                SettlementTarget::new(crate::workload::hf_account::hf_merchant(), spec.user_chains);
            s.settle_interval_ms = spec.settle_interval_ms;
            s
        });
        let mut target = Target {
            urls: Vec::new(),
            groups: spec.groups,
            settlement,
            relayers: parking_lot::Mutex::new(Vec::new()),
            nodes: Vec::new(),
            watched: Vec::new(),
            kind: NodeKind::Bcos,
            node_config: String::new(),
            writeback: Some(settled),
            _dir: None,
        };
        let flame = |i: usize| {
            opts.flame_dir
                .as_ref()
                .map(|d| d.join(format!("node-{i}.folded")))
        };
        if spec.consensus == "solo" {
            target.node_config =
                toml::to_string(&spec.settings).context("serializing node settings")?;
            let cfg = dir.path().join("node-0.toml");
            std::fs::write(&cfg, &target.node_config)?;
            let mut cmd = Command::new(&bin);
            cmd.arg("dev")
                .arg("--config")
                .arg(&cfg)
                .arg("--data-dir")
                .arg(dir.path().join("data-0"))
                .args(["--rpc-addr", "127.0.0.1:0"]);
            target
                .nodes
                .push(spawn_node(cmd, &dir.path().join("node-0.log"), flame(0))?);
        } else {
            let extra = match &target.settlement {
                Some(s) => crate::settlement::init_args(spec, &s.merchant),
                None => Vec::new(),
            };
            let nodes = cluster::init(
                &bin,
                dir.path(),
                spec.nodes,
                &spec.consensus,
                spec.groups,
                &spec.settings,
                &extra,
            )?;
            let groups = if spec.user_chains > 0 {
                format!(
                    " with a merchant chain (group 0) and {} user chains (`bcos init --groups {} --hf-merchant`)",
                    spec.user_chains, spec.groups
                )
            } else if spec.groups > 1 {
                format!(
                    " with {} groups (`bcos init --groups {}`)",
                    spec.groups, spec.groups
                )
            } else {
                String::new()
            };
            target.node_config = format!(
                "# node 0 of a {}-node {} cluster{groups} written by `bcos init` with the profile's settings overlaid (other nodes differ only in index, addresses and keys)\n{}",
                spec.nodes,
                spec.consensus,
                nodes.first().map(|n| n.config_text.as_str()).unwrap_or_default()
            );
            // All nodes start before any is waited for: each needs its peers to make progress.
            for (i, n) in nodes.iter().enumerate() {
                let mut cmd = Command::new(&bin);
                cmd.arg("node").arg("--config").arg(&n.config);
                let log = dir.path().join(format!("node-{i}.log"));
                target.nodes.push(spawn_node(cmd, &log, flame(i))?);
            }
        }
        let dir_path = dir.path().to_path_buf();
        target._dir = Some(dir);
        let deadline = Instant::now() + Duration::from_millis(NODE_START_TIMEOUT_MS);
        for i in 0..target.nodes.len() {
            let url = target.wait_rpc_line(i, deadline)?;
            target.urls.push(url);
        }
        if target.nodes.len() > 1 {
            target.wait_connected()?;
        }
        if let Some(s) = &target.settlement {
            let relayers = crate::relayers::start(
                &bin,
                &dir_path,
                &target.urls,
                &s.user_groups,
                spec.relay_poll_ms,
            )?;
            *target.relayers.lock() = relayers;
        }
        Ok(target)
    }

    /// What the nodes are (detected once, when attaching to `--url` nodes).
    pub fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// True for bcos nodes: only they are asked `bcos_*` methods.
    pub fn is_bcos(&self) -> bool {
        self.kind.is_bcos()
    }

    /// Samples process `pid` (a remote node the caller started, e.g. anvil) with
    /// [`Target::samples`], after any embedded node.
    pub fn watch_process(&mut self, pid: u32) {
        self.watched.push(pid);
    }

    /// Each node's RPC URL (group 0 when it runs several).
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Groups every node runs.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The groups the workloads' load goes to: the user chains with high-frequency accounts,
    /// else every group.
    pub fn load_groups(&self) -> Vec<usize> {
        match &self.settlement {
            Some(s) => s.user_groups.clone(),
            None => (0..self.groups).collect(),
        }
    }

    /// The merchant chain and user chains, with high-frequency accounts.
    pub fn settlement(&self) -> Option<&SettlementTarget> {
        self.settlement.as_ref()
    }

    /// The merchant chain's endpoint on the first node.
    pub fn merchant_url(&self) -> Option<String> {
        let url = self.urls.first()?;
        self.settlement.as_ref()?;
        Some(crate::groups::group_url(
            url,
            crate::settlement::MERCHANT_GROUP,
            self.groups,
        ))
    }

    /// The embedded relayers' state and log tails (empty without any), for error messages.
    pub fn relayer_report(&self) -> String {
        crate::relayers::describe(&mut self.relayers.lock())
    }

    /// Group `group`'s endpoint on each node: the node URLs themselves with one group, else
    /// `<url>/g/<group>`.
    pub fn group_urls(&self, group: usize) -> Vec<String> {
        self.urls
            .iter()
            .map(|u| crate::groups::group_url(u, group, self.groups))
            .collect()
    }

    /// Samples each embedded node, then each watched process (empty for remote targets
    /// without watched processes).
    pub fn samples(&self) -> Vec<ProcSample> {
        self.nodes
            .iter()
            .map(|n| n.child.id())
            .chain(self.watched.iter().copied())
            .map(|pid| proc_sample(pid).unwrap_or_default())
            .collect()
    }

    /// Stops embedded nodes with SIGTERM (all at once; SIGKILL after
    /// [`NODE_STOP_TIMEOUT_MS`]); returns the flame files they wrote.
    pub fn stop(mut self) -> anyhow::Result<Vec<PathBuf>> {
        for r in self.relayers.lock().iter_mut() {
            r.kill();
        }
        let mut nodes = std::mem::take(&mut self.nodes);
        let outcomes = stop_all(&mut nodes);
        let mut flames = Vec::new();
        let mut failures = Vec::new();
        for (i, (n, outcome)) in nodes.into_iter().zip(outcomes).enumerate() {
            match outcome {
                Ok(status) if status.success() => {}
                Ok(status) => failures.push(format!(
                    "node {i} exited with {status}; log tail:\n{}",
                    log_tail(&n.log)
                )),
                Err(e) => failures.push(format!("node {i}: {e:#}")),
            }
            if let Some(f) = n.flame.filter(|f| f.exists()) {
                flames.push(f);
            }
        }
        if !failures.is_empty() {
            bail!("{}", failures.join("\n"));
        }
        Ok(flames)
    }

    fn wait_rpc_line(&mut self, i: usize, deadline: Instant) -> anyhow::Result<String> {
        let n = &mut self.nodes[i];
        let rx = n
            .rpc_line
            .take()
            .ok_or_else(|| anyhow!("node {i}: RPC line already taken"))?;
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(url) => Ok(url),
            Err(_) => bail!(
                "node {i} printed no RPC line; log tail:\n{}",
                log_tail(&n.log)
            ),
        }
    }

    /// Waits until every node reports all its configured peers connected, so the first
    /// transactions are forwarded to the whole group.
    fn wait_connected(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_millis(CLUSTER_CONNECT_TIMEOUT_MS);
        let mut clients = self
            .urls
            .iter()
            .map(|u| RpcClient::connect(u))
            .collect::<anyhow::Result<Vec<_>>>()?;
        loop {
            let mut waiting = Vec::new();
            for (i, c) in clients.iter_mut().enumerate() {
                let info = c.must("bcos_getNodeInfo", json!([]))?;
                if let Some((connected, configured)) = peers(&info) {
                    if connected < configured {
                        waiting.push(format!("node {i}: {connected}/{configured} peers"));
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tails: Vec<String> = self
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("node {i} log tail:\n{}", log_tail(&n.log)))
                    .collect();
                bail!(
                    "the cluster did not connect within {CLUSTER_CONNECT_TIMEOUT_MS} ms ({}):\n{}",
                    waiting.join(", "),
                    tails.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(CLUSTER_POLL_MS));
        }
    }
}

/// Checks that the node at `url` serves `/g/<g>` for every group, each under its own chain
/// id (a usage error naming the first group that does not).
fn check_remote_groups(url: &str, groups: usize) -> anyhow::Result<()> {
    let mut chain_ids = std::collections::HashMap::new();
    for g in 0..groups {
        let gu = crate::groups::group_url(url, g, groups);
        let id = RpcClient::connect(&gu)
            .and_then(|mut c| c.must("eth_chainId", json!([])))
            .and_then(|v| crate::rpc_client::hex_u64(&v));
        match id {
            Err(e) => {
                return usage(format!(
                    "--groups {groups}: the node at {url} does not serve group {g} ({gu}: {e:#}); it must run {groups} groups (`bcos init --groups {groups}`)"
                ))
            }
            Ok(id) => {
                if let Some(other) = chain_ids.insert(id, g) {
                    return usage(format!(
                        "--groups {groups}: groups {other} and {g} of the node at {url} share chain id {id}; is {url} already a group's URL (it must be the node's root URL)?"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// (connected, configured) peers from `bcos_getNodeInfo`'s `p2p` object; None without one.
pub fn peers(info: &Value) -> Option<(u64, u64)> {
    let p2p = info.get("p2p")?;
    Some((
        p2p.get("peersConnected")?.as_u64()?,
        p2p.get("peersConfigured")?.as_u64()?,
    ))
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = stop_all(&mut self.nodes);
    }
}

/// Spawns one node with stdout piped (for its RPC line) and stderr to `log`.
fn spawn_node(mut cmd: Command, log: &Path, flame: Option<PathBuf>) -> anyhow::Result<NodeProcess> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(log)?));
    if let Some(f) = &flame {
        cmd.env(FLAME_ENV, f);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("node stdout not piped"))?;
    let (tx, rx) = mpsc::channel();
    // Keeps draining stdout after the RPC line so the node never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("RPC: ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    Ok(NodeProcess {
        child,
        log: log.to_path_buf(),
        flame,
        rpc_line: Some(rx),
    })
}

/// SIGTERM to every node still running, then waits for all of them; a node still running
/// after [`NODE_STOP_TIMEOUT_MS`] is killed (and reported as an error).
fn stop_all(nodes: &mut [NodeProcess]) -> Vec<anyhow::Result<std::process::ExitStatus>> {
    for n in nodes.iter_mut() {
        if let (Ok(None), Ok(pid)) = (n.child.try_wait(), libc::pid_t::try_from(n.child.id())) {
            // SAFETY: kill(2) on our own, not yet reaped child's pid has no memory-safety
            // preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + Duration::from_millis(NODE_STOP_TIMEOUT_MS);
    nodes
        .iter_mut()
        .map(|n| wait_or_kill(&mut n.child, deadline))
        .collect()
}

fn wait_or_kill(child: &mut Child, deadline: Instant) -> anyhow::Result<std::process::ExitStatus> {
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    let status = child.wait()?;
    bail!("the node ignored SIGTERM for {NODE_STOP_TIMEOUT_MS} ms and was killed ({status})")
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// CPU seconds (user + system) and peak RSS (VmHWM) of a process.
pub fn proc_sample(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("malformed /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |k: usize| {
        fields
            .get(k)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = (ticks(11) + ticks(12)) as f64 / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(ProcSample {
        cpu_s,
        rss_bytes_max: rss_kib * 1024,
    })
}

/// The `bcos` binary: `explicit`, env BCOS_BIN, or — when loadgen runs from this source
/// checkout — the node built from the same checkout (`cargo build --release --bin bcos` into
/// loadgen's own target dir, a no-op when it is up to date), so a report never certifies a
/// stale node. Last resort: next to (or one level above) the running executable.
pub fn find_bcos_bin(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return existing(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("BCOS_BIN") {
        return existing(p.into());
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    if let Some(dir) = &exe_dir {
        if let Some(bin) = build_from_checkout(dir)? {
            return Ok(bin);
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("release").join("bcos"));
    }
    if let Some(dir) = exe_dir {
        candidates.push(dir.join("bcos"));
        candidates.push(dir.join("..").join("bcos"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(missing_bin)
}

fn missing_bin() -> anyhow::Error {
    UsageError(
        "cannot find the bcos binary: build it with `cargo build --release -p bcos-node`, or pass --bcos-bin / set BCOS_BIN"
            .into(),
    )
    .into()
}

fn existing(p: PathBuf) -> anyhow::Result<PathBuf> {
    if p.is_file() {
        Ok(p)
    } else {
        Err(UsageError(format!("the bcos binary {} does not exist", p.display())).into())
    }
}

/// Builds the node when loadgen itself was built from a workspace that is still on disk and
/// runs from `<target>/release/`. Returns None when that is not the case.
fn build_from_checkout(exe_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let is_release_dir = exe_dir.file_name().is_some_and(|n| n == "release");
    let target_dir = match exe_dir.parent() {
        Some(t) if is_release_dir && workspace.join("Cargo.toml").is_file() => t.to_path_buf(),
        _ => return Ok(None),
    };
    eprintln!("building the node from this checkout (cargo build --release --bin bcos)...");
    let status =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--release", "--bin", "bcos"])
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target_dir)
            .status();
    match status {
        Ok(s) if s.success() => Ok(Some(exe_dir.join("bcos"))),
        Ok(s) => anyhow::bail!("building the bcos node failed ({s})"),
        // No cargo on PATH: fall back to a binary that is already there.
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_reads_the_p2p_object() {
        let info = json!({"p2p": {"peersConnected": 2, "peersConfigured": 3}});
        assert_eq!(peers(&info), Some((2, 3)));
        assert_eq!(peers(&json!({"p2p": null})), None);
        assert_eq!(peers(&json!({"blockNumber": 5})), None);
    }
}
