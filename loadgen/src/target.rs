//! Where the load goes: `embedded` (the default) starts `bcos dev` node processes with the
//! profile's node settings written to a config TOML in a temp dir, waits for their `RPC:`
//! line, samples their CPU time and peak RSS from /proc, and stops them with SIGTERM; or
//! existing nodes given by `--url`.

use crate::error::{usage, UsageError};
use crate::rpc_client::RpcClient;
use anyhow::{anyhow, bail, Context};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a starting node may take to print its RPC line.
pub const NODE_START_TIMEOUT_MS: u64 = 120_000;
/// How long a node may take to exit after SIGTERM before it is killed.
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
}

pub struct Target {
    urls: Vec<String>,
    nodes: Vec<NodeProcess>,
    /// The node config written for embedded nodes (TOML).
    pub node_config: String,
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
    /// Attaches to running nodes; an unreachable URL is a usage error.
    pub fn remote(urls: &[String]) -> anyhow::Result<Target> {
        for url in urls {
            let ok = RpcClient::connect(url).and_then(|mut c| c.must("eth_chainId", json!([])));
            if let Err(e) = ok {
                return usage(format!("cannot reach node at {url}: {e:#}"));
            }
        }
        Ok(Target {
            urls: urls.to_vec(),
            nodes: Vec::new(),
            node_config: String::new(),
            _dir: None,
        })
    }

    /// Starts `nodes` embedded nodes with `settings` as their config (data dir and RPC
    /// address are set per node).
    pub fn embedded(
        nodes: usize,
        settings: &toml::Table,
        opts: &EmbeddedOptions,
    ) -> anyhow::Result<Target> {
        if nodes != 1 {
            return usage("only a single embedded node is supported until PBFT/Raft clusters land");
        }
        let bin = find_bcos_bin(opts.bin.as_deref())?;
        let dir = tempfile::Builder::new().prefix("bcos-loadgen-").tempdir()?;
        let node_config = toml::to_string(settings).context("serializing node settings")?;
        let mut target = Target {
            urls: Vec::new(),
            nodes: Vec::new(),
            node_config,
            _dir: None,
        };
        for i in 0..nodes {
            let cfg = dir.path().join(format!("node-{i}.toml"));
            std::fs::write(&cfg, &target.node_config)?;
            let log = dir.path().join(format!("node-{i}.log"));
            let mut cmd = Command::new(&bin);
            cmd.arg("dev")
                .arg("--config")
                .arg(&cfg)
                .arg("--data-dir")
                .arg(dir.path().join(format!("data-{i}")))
                .arg("--rpc-addr")
                .arg("127.0.0.1:0")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(std::fs::File::create(&log)?));
            let flame = opts
                .flame_dir
                .as_ref()
                .map(|d| d.join(format!("node-{i}.folded")));
            if let Some(f) = &flame {
                cmd.env(FLAME_ENV, f);
            }
            let mut child = cmd
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let url = wait_rpc_line(&mut child, &log);
            target.nodes.push(NodeProcess { child, log, flame });
            target.urls.push(url?);
        }
        target._dir = Some(dir);
        Ok(target)
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Samples each embedded node (empty for remote targets).
    pub fn samples(&self) -> Vec<ProcSample> {
        self.nodes
            .iter()
            .map(|n| proc_sample(n.child.id()).unwrap_or_default())
            .collect()
    }

    /// Stops embedded nodes with SIGTERM (SIGKILL after [`NODE_STOP_TIMEOUT_MS`]); returns the
    /// flame files they wrote.
    pub fn stop(mut self) -> anyhow::Result<Vec<PathBuf>> {
        let mut flames = Vec::new();
        let mut failures = Vec::new();
        for mut n in std::mem::take(&mut self.nodes) {
            match stop_child(&mut n.child) {
                Ok(status) if status.success() => {}
                Ok(status) => failures.push(format!(
                    "node exited with {status}; log tail:\n{}",
                    log_tail(&n.log)
                )),
                Err(e) => failures.push(format!("{e:#}")),
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
}

impl Drop for Target {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = stop_child(&mut n.child);
        }
    }
}

fn wait_rpc_line(child: &mut Child, log: &Path) -> anyhow::Result<String> {
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
    match rx.recv_timeout(Duration::from_millis(NODE_START_TIMEOUT_MS)) {
        Ok(url) => Ok(url),
        Err(_) => {
            let _ = stop_child(child);
            bail!("the node printed no RPC line; log tail:\n{}", log_tail(log))
        }
    }
}

fn stop_child(child: &mut Child) -> anyhow::Result<std::process::ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    let pid = libc::pid_t::try_from(child.id()).map_err(|_| anyhow!("pid out of range"))?;
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_millis(NODE_STOP_TIMEOUT_MS);
    while std::time::Instant::now() < deadline {
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
