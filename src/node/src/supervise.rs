//! `bcos up`: runs a local cluster's node processes until Ctrl-C (or until one dies), then
//! stops them all (SIGTERM, then SIGKILL after a grace period).

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long stopped nodes get to shut down cleanly before they are killed.
pub const STOP_GRACE_MS: u64 = 10_000;
/// How often the supervisor looks at its children.
pub const POLL_MS: u64 = 200;

pub struct NodeProcess {
    pub index: usize,
    pub child: Child,
    pub log: PathBuf,
}

/// Starts `bcos node --config <dir>/config.toml` for each node directory, logging to
/// `<dir>/node.log`.
pub fn spawn_nodes(exe: &Path, dirs: &[PathBuf], log: &str) -> anyhow::Result<Vec<NodeProcess>> {
    let mut out = Vec::with_capacity(dirs.len());
    for (index, dir) in dirs.iter().enumerate() {
        let log_path = dir.join("node.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let child = Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--log")
            .arg(log)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting node {index}"))?;
        out.push(NodeProcess {
            index,
            child,
            log: log_path,
        });
    }
    Ok(out)
}

/// Sends SIGTERM to every running node, waits up to the grace period, then kills the rest.
pub fn stop_all(nodes: &mut [NodeProcess]) {
    for n in nodes.iter_mut() {
        if matches!(n.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on a pid we spawned and have not reaped; no memory involved.
            unsafe {
                libc::kill(n.child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_millis(STOP_GRACE_MS);
    for n in nodes.iter_mut() {
        loop {
            match n.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = n.child.kill();
                    let _ = n.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(POLL_MS / 4)),
            }
        }
    }
}

/// The first node that exited, if any.
pub fn exited(nodes: &mut [NodeProcess]) -> Option<(usize, String)> {
    for n in nodes.iter_mut() {
        if let Ok(Some(status)) = n.child.try_wait() {
            return Some((n.index, status.to_string()));
        }
    }
    None
}
