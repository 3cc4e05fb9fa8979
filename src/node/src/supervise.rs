//! `bcos up`: runs a local cluster's node processes until Ctrl-C. A node that dies is logged
//! and, under `--restart always` (the default), started again after a delay that doubles
//! while it keeps dying (a crash loop must not spin); the other nodes keep running either
//! way, so `kill -9` of one node is an experiment a user can make without losing the
//! cluster. Each node's pid is in `<node dir>/node.pid` while it runs.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long stopped nodes get to shut down cleanly before they are killed.
pub const STOP_GRACE_MS: u64 = 10_000;
/// How often the supervisor looks at its children.
pub const POLL_MS: u64 = 200;
/// The first restart waits this long; each death within [`CRASH_LOOP_WINDOW_MS`] of the
/// previous one doubles it, up to [`RESTART_DELAY_MAX_MS`].
pub const RESTART_DELAY_MS: u64 = 1_000;
pub const RESTART_DELAY_MAX_MS: u64 = 30_000;
/// A node that ran this long since its last start is no longer in a crash loop.
pub const CRASH_LOOP_WINDOW_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RestartPolicy {
    /// Start a dead node again after a delay.
    Always,
    /// Log the death and leave the node down; the others keep running.
    Never,
}

/// What happened to a node during one [`Supervisor::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Exited {
        index: usize,
        /// "node 2", "relayer of group 1".
        what: String,
        status: String,
        restart_in_ms: Option<u64>,
    },
    Restarted {
        index: usize,
        what: String,
        pid: u32,
        restarts: u32,
    },
    RestartFailed {
        index: usize,
        what: String,
        error: String,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Exited {
                what,
                status,
                restart_in_ms: Some(ms),
                ..
            } => write!(f, "{what} exited ({status}); restarting in {ms} ms"),
            Event::Exited { what, status, .. } => write!(
                f,
                "{what} exited ({status}); not restarting (--restart never)"
            ),
            Event::Restarted {
                what,
                pid,
                restarts,
                ..
            } => write!(f, "{what} restarted (pid {pid}, restart {restarts})"),
            Event::RestartFailed { what, error, .. } => {
                write!(f, "{what} could not be restarted: {error}")
            }
        }
    }
}

struct Slot {
    what: String,
    /// `bcos` arguments that start the process.
    args: Vec<std::ffi::OsString>,
    /// Appended across restarts.
    log: PathBuf,
    /// Holds the pid file.
    dir: PathBuf,
    child: Option<Child>,
    started: Instant,
    /// Deaths in a row, each within the crash-loop window of its start.
    crash_streak: u32,
    restarts: u32,
    restart_at: Option<Instant>,
}

pub struct Supervisor {
    exe: PathBuf,
    log_filter: String,
    policy: RestartPolicy,
    slots: Vec<Slot>,
}

impl Supervisor {
    /// Starts `bcos node --config <dir>/config.toml` for each node directory, logging to
    /// `<dir>/node.log` (appended across restarts).
    pub fn start(
        exe: &Path,
        dirs: &[PathBuf],
        log_filter: &str,
        policy: RestartPolicy,
    ) -> anyhow::Result<Supervisor> {
        let mut s = Supervisor {
            exe: exe.to_path_buf(),
            log_filter: log_filter.to_string(),
            policy,
            slots: Vec::with_capacity(dirs.len()),
        };
        for (index, dir) in dirs.iter().enumerate() {
            let args = vec![
                "node".into(),
                "--config".into(),
                dir.join("config.toml").into_os_string(),
                "--log".into(),
                s.log_filter.clone().into(),
            ];
            s.add(format!("node {index}"), dir, args, dir.join("node.log"))?;
        }
        Ok(s)
    }

    /// Starts and supervises one more `bcos` process (e.g. a relayer) with the same policy.
    pub fn add(
        &mut self,
        what: String,
        dir: &Path,
        args: Vec<std::ffi::OsString>,
        log: PathBuf,
    ) -> anyhow::Result<usize> {
        let child =
            spawn(&self.exe, dir, &args, &log).with_context(|| format!("starting {what}"))?;
        self.slots.push(Slot {
            what,
            args,
            log,
            dir: dir.to_path_buf(),
            child: Some(child),
            started: Instant::now(),
            crash_streak: 0,
            restarts: 0,
            restart_at: None,
        });
        Ok(self.slots.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn pid(&self, index: usize) -> Option<u32> {
        self.slots.get(index)?.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self, index: usize) -> Option<PathBuf> {
        self.slots.get(index).map(|s| s.log.clone())
    }

    /// Whether any node is running or due to be restarted.
    pub fn any_alive(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.child.is_some() || s.restart_at.is_some())
    }

    /// Reaps dead nodes and restarts those whose delay has passed.
    pub fn poll(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(status) = slot.child.as_mut().and_then(exited) {
                slot.child = None;
                let _ = std::fs::remove_file(pid_path(&slot.dir));
                let restart_in_ms = match self.policy {
                    RestartPolicy::Never => None,
                    RestartPolicy::Always => {
                        let ran = now.saturating_duration_since(slot.started);
                        slot.crash_streak = if ran < Duration::from_millis(CRASH_LOOP_WINDOW_MS) {
                            slot.crash_streak.saturating_add(1)
                        } else {
                            1
                        };
                        let delay = restart_delay_ms(slot.crash_streak);
                        slot.restart_at = Some(now + Duration::from_millis(delay));
                        Some(delay)
                    }
                };
                events.push(Event::Exited {
                    index,
                    what: slot.what.clone(),
                    status: status.to_string(),
                    restart_in_ms,
                });
            }
            if slot.child.is_none() && slot.restart_at.is_some_and(|at| at <= now) {
                slot.restart_at = None;
                match spawn(&self.exe, &slot.dir, &slot.args, &slot.log) {
                    Ok(child) => {
                        slot.restarts = slot.restarts.saturating_add(1);
                        slot.started = now;
                        events.push(Event::Restarted {
                            index,
                            what: slot.what.clone(),
                            pid: child.id(),
                            restarts: slot.restarts,
                        });
                        slot.child = Some(child);
                    }
                    Err(e) => {
                        // Try again later rather than give the node up.
                        slot.crash_streak = slot.crash_streak.saturating_add(1);
                        slot.restart_at =
                            Some(now + Duration::from_millis(restart_delay_ms(slot.crash_streak)));
                        events.push(Event::RestartFailed {
                            index,
                            what: slot.what.clone(),
                            error: format!("{e:#}"),
                        });
                    }
                }
            }
        }
        events
    }

    /// Sends SIGTERM to every running node, waits up to the grace period, then kills the rest.
    pub fn stop_all(&mut self) {
        for slot in &mut self.slots {
            slot.restart_at = None;
            if let Some(child) = slot.child.as_mut() {
                if matches!(child.try_wait(), Ok(None)) {
                    // SAFETY: kill(2) on a pid we spawned and have not reaped; no memory involved.
                    unsafe {
                        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                    }
                }
            }
        }
        let deadline = Instant::now() + Duration::from_millis(STOP_GRACE_MS);
        for slot in &mut self.slots {
            if let Some(child) = slot.child.as_mut() {
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if Instant::now() >= deadline => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                        Ok(None) => std::thread::sleep(Duration::from_millis(POLL_MS / 4)),
                    }
                }
            }
            slot.child = None;
            let _ = std::fs::remove_file(pid_path(&slot.dir));
        }
    }
}

/// The delay before the `streak`-th restart in a row: doubling from [`RESTART_DELAY_MS`].
pub fn restart_delay_ms(streak: u32) -> u64 {
    let doublings = streak.saturating_sub(1).min(16);
    RESTART_DELAY_MS
        .saturating_mul(1u64 << doublings)
        .min(RESTART_DELAY_MAX_MS)
}

pub fn pid_path(dir: &Path) -> PathBuf {
    dir.join("node.pid")
}

fn exited(child: &mut Child) -> Option<ExitStatus> {
    child.try_wait().ok().flatten()
}

fn spawn(
    exe: &Path,
    dir: &Path,
    args: &[std::ffi::OsString],
    log_path: &Path,
) -> anyhow::Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("running {}", exe.display()))?;
    std::fs::write(pid_path(dir), format!("{}\n", child.id()))
        .with_context(|| format!("writing {}", pid_path(dir).display()))?;
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delay_doubles_while_crashing_and_is_capped() {
        assert_eq!(restart_delay_ms(0), RESTART_DELAY_MS);
        assert_eq!(restart_delay_ms(1), RESTART_DELAY_MS);
        assert_eq!(restart_delay_ms(2), 2 * RESTART_DELAY_MS);
        assert_eq!(restart_delay_ms(3), 4 * RESTART_DELAY_MS);
        assert_eq!(restart_delay_ms(40), RESTART_DELAY_MAX_MS);
        assert_eq!(restart_delay_ms(u32::MAX), RESTART_DELAY_MAX_MS);
    }

    /// A stand-in "node" (a shell that exits at once) shows the policy without a cluster:
    /// `always` restarts it after the delay, `never` leaves it down.
    fn fake_exe(dir: &Path) -> PathBuf {
        let exe = dir.join("fake-node");
        std::fs::write(&exe, "#!/bin/sh\nexit 3\n").expect("write fake node");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))
            .expect("chmod fake node");
        exe
    }

    fn wait_exit(s: &mut Supervisor, now: Instant) -> Vec<Event> {
        for _ in 0..1_000 {
            let ev = s.poll(now);
            if !ev.is_empty() {
                return ev;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the fake node never exited");
    }

    #[test]
    fn always_restarts_a_dead_node_after_its_delay() {
        let tmp = tempfile::tempdir().expect("tmp");
        let exe = fake_exe(tmp.path());
        let dir = tmp.path().join("node0");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut s =
            Supervisor::start(&exe, &[dir.clone()], "info", RestartPolicy::Always).expect("start");
        assert!(pid_path(&dir).exists());
        let t0 = Instant::now();
        let ev = wait_exit(&mut s, t0);
        assert!(
            matches!(&ev[0], Event::Exited { index: 0, restart_in_ms: Some(ms), .. } if *ms == RESTART_DELAY_MS),
            "{ev:?}"
        );
        assert!(
            !pid_path(&dir).exists(),
            "a dead node's pid file is removed"
        );
        assert!(s.any_alive(), "a node due for restart counts as alive");
        // Not before its delay ...
        assert!(s.poll(t0).is_empty());
        // ... but once it has passed.
        let later = t0 + Duration::from_millis(RESTART_DELAY_MS);
        let ev = s.poll(later);
        assert!(
            matches!(
                ev.as_slice(),
                [Event::Restarted {
                    index: 0,
                    restarts: 1,
                    ..
                }]
            ),
            "{ev:?}"
        );
        assert!(pid_path(&dir).exists());
        // It dies again at once: the next delay doubles.
        let ev = wait_exit(&mut s, later);
        assert!(
            matches!(&ev[0], Event::Exited { restart_in_ms: Some(ms), .. } if *ms == 2 * RESTART_DELAY_MS),
            "{ev:?}"
        );
        s.stop_all();
        assert!(!s.any_alive());
    }

    #[test]
    fn never_leaves_a_dead_node_down() {
        let tmp = tempfile::tempdir().expect("tmp");
        let exe = fake_exe(tmp.path());
        let dir = tmp.path().join("node0");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut s = Supervisor::start(&exe, &[dir], "info", RestartPolicy::Never).expect("start");
        let t0 = Instant::now();
        let ev = wait_exit(&mut s, t0);
        assert!(
            matches!(
                &ev[0],
                Event::Exited {
                    restart_in_ms: None,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(ev[0].to_string().contains("not restarting"));
        assert!(s.poll(t0 + Duration::from_secs(3600)).is_empty());
        assert!(!s.any_alive());
    }
}
