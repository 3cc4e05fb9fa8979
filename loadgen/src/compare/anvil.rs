//! anvil, the popular dev node `loadgen compare-anvil` measures bcos against: where its binary
//! is (installed with npm when missing), the options it runs with, and its process.

use crate::error::UsageError;
use crate::rpc_client::RpcClient;
use anyhow::{bail, Context};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The anvil release installed when none is given.
pub const VERSION: &str = "1.7.1";
/// The npm package that carries the linux x86-64 anvil binary.
pub const NPM_PACKAGE: &str = "@foundry-rs/anvil-linux-amd64";
/// Environment variable naming the anvil binary (like `--anvil-bin`).
pub const ANVIL_BIN_ENV: &str = "ANVIL_BIN";
/// Block gas limit anvil runs with: room for about 476,000 transfers a block, so neither the
/// block (anvil's default 30 M gas holds 1,428 transfers) nor EIP-1559's base fee (which rises
/// while blocks are over half full, and would strand pre-signed transactions) limits it.
pub const GAS_LIMIT: u64 = 10_000_000_000;
/// How long anvil may take to answer its first call.
const START_TIMEOUT_MS: u64 = 30_000;
/// How long anvil may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT_MS: u64 = 5_000;

/// How anvil is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnvilOptions {
    /// `--block-time` in seconds.
    pub block_time_s: u64,
    pub gas_limit: u64,
}

/// anvil's command-line options for a node on `port`.
pub fn args(port: u16, o: &AnvilOptions) -> Vec<String> {
    vec![
        "--block-time".into(),
        o.block_time_s.to_string(),
        "--port".into(),
        port.to_string(),
        "--silent".into(),
        "--gas-limit".into(),
        o.gas_limit.to_string(),
        "--no-request-size-limit".into(),
    ]
}

/// Where `npm install --prefix <dir>` puts the binary.
pub fn installed_path(dir: &Path) -> PathBuf {
    dir.join("node_modules")
        .join(NPM_PACKAGE)
        .join("bin")
        .join("anvil")
}

/// The default install dir: `$XDG_CACHE_HOME` (else `~/.cache`) `/bcos-loadgen/anvil-<VERSION>`.
pub fn default_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("bcos-loadgen").join(format!("anvil-{VERSION}"))
}

/// The anvil binary: `explicit`, env ANVIL_BIN, the one under `dir`, else installed there
/// with npm; `anvil` on PATH when npm is missing.
pub fn resolve(explicit: Option<&Path>, dir: &Path) -> anyhow::Result<PathBuf> {
    let given = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ANVIL_BIN_ENV).map(PathBuf::from));
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(UsageError(format!("the anvil binary {} does not exist", p.display())).into())
        };
    }
    let bin = installed_path(dir);
    if bin.is_file() {
        return Ok(bin);
    }
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return on_path().ok_or_else(|| {
            UsageError(format!(
                "{NPM_PACKAGE} is for linux x86-64 only: install anvil (foundry) and pass --anvil-bin"
            ))
            .into()
        });
    }
    let package = format!("{NPM_PACKAGE}@{VERSION}");
    crate::progress::note(&format!(
        "installing anvil: npm install --prefix {} {package}",
        dir.display()
    ));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let status = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(dir)
        .arg(&package)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() && bin.is_file() => Ok(bin),
        Ok(s) => bail!(
            "npm install --prefix {} {package} failed ({s}); install anvil and pass --anvil-bin",
            dir.display()
        ),
        Err(_) => on_path().ok_or_else(|| {
            UsageError(format!(
                "anvil is not installed and npm is missing: install anvil (`npm install --prefix {} {package}`, or foundryup) and pass --anvil-bin",
                dir.display()
            ))
            .into()
        }),
    }
}

/// `anvil` on PATH, if it runs.
fn on_path() -> Option<PathBuf> {
    let ok = Command::new("anvil")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| PathBuf::from("anvil"))
}

/// The version `anvil --version` prints ("anvil Version: 1.7.1" -> "1.7.1"), or the first
/// line as printed when it says otherwise.
pub fn parse_version(out: &str) -> Option<String> {
    let line = out.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(match line.split_once("Version:") {
        Some((_, v)) => v.trim().to_string(),
        None => line.to_string(),
    })
}

/// `anvil --version`, parsed; "unknown" when it does not run.
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_else(|| crate::node_info::UNKNOWN.to_string())
}

/// A running anvil, killed when dropped.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Anvil {
    /// Starts anvil on a free port and waits until it answers `eth_chainId`.
    pub fn start(bin: &Path, o: &AnvilOptions) -> anyhow::Result<Anvil> {
        let dir = tempfile::Builder::new().prefix("bcos-anvil-").tempdir()?;
        let log = dir.path().join("anvil.log");
        // A port another process takes between our probe and anvil's bind: try again.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            let out = std::fs::File::create(&log)?;
            let mut child = Command::new(bin)
                .args(args(port, o))
                .stdin(Stdio::null())
                .stdout(Stdio::from(out.try_clone()?))
                .stderr(Stdio::from(out))
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let url = format!("http://127.0.0.1:{port}");
            match wait_ready(&mut child, &url, &log) {
                Ok(()) => {
                    return Ok(Anvil {
                        child,
                        url,
                        port,
                        log,
                        _dir: dir,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("anvil did not start")))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines anvil printed (for error messages).
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT_MS`].
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let (Ok(None), Ok(pid)) = (
            self.child.try_wait(),
            libc::pid_t::try_from(self.child.id()),
        ) {
            // SAFETY: kill(2) on our own, not yet reaped child's pid has no memory-safety
            // preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_millis(STOP_TIMEOUT_MS);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Waits until the anvil at `url` answers; kills it when it does not in time.
fn wait_ready(child: &mut Child, url: &str, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
    loop {
        let ok = RpcClient::connect(url).and_then(|mut c| c.must("eth_chainId", json!([])));
        if ok.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("anvil exited with {status}; log:\n{}", log_tail(log));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "anvil did not answer at {url} within {START_TIMEOUT_MS} ms; log:\n{}",
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
