//! A `bcos dev` child process on loopback: start (waiting for its `RPC:`/`WS:` banner), kill -9,
//! SIGTERM, and restart on the same data directory. Its stdout and stderr are drained in
//! threads into a bounded log that failure messages quote.

use crate::rpc::Rpc;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the node may take to print its RPC address (a cold RocksDB open included).
pub const START_TIMEOUT_MS: u64 = 120_000;
/// How long a SIGTERMed node may take to exit.
pub const STOP_TIMEOUT_MS: u64 = 60_000;
/// The process log keeps at most this many bytes (the newest).
pub const LOG_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Failure messages quote at most this many bytes of the log's tail.
pub const LOG_QUOTE_BYTES: usize = 12 * 1024;

/// Where the `bcos` binary is: `$BCOS_BIN`, else next to the test executable's directory
/// (test executables live in `target/release/deps`, the binary in `target/release`).
pub fn bcos_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BCOS_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let deps = exe.parent().expect("the test executable is in a directory");
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    dir.join("bcos")
}

#[derive(Default)]
struct Log {
    text: String,
}

impl Log {
    fn push(&mut self, tag: &str, line: &str) {
        self.text.push_str(tag);
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > LOG_BYTES_MAX {
            let mut cut = self.text.len() - LOG_BYTES_MAX / 2;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
        }
    }
}

/// A running (or stopped) `bcos dev` process.
pub struct Node {
    /// `Some(config)`: `bcos node --config <config>` (a cluster node); `None`: `bcos dev`.
    config: Option<PathBuf>,
    child: Option<Child>,
    readers: Vec<JoinHandle<()>>,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    args: Vec<String>,
    log: Arc<Mutex<Log>>,
    /// `http://IP:PORT` of the current run.
    pub rpc_url: String,
    /// `ws://IP:PORT` of the current run.
    pub ws_url: String,
    pub rpc: Rpc,
}

impl Node {
    /// Starts `bcos dev` with a fresh temporary data directory and a free loopback port;
    /// `args` are extra flags (e.g. `["--config", path]`).
    pub fn start(args: &[&str]) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix("bcos-e2e-")
            .tempdir()
            .expect("temp dir");
        let mut node = Node::start_in(&tmp.path().join("data"), args);
        node._tmp = Some(tmp);
        node
    }

    /// Starts `bcos dev` on `data_dir` (kept after the node is dropped).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> Node {
        Node::spawned(None, data_dir, args)
    }

    /// Starts `bcos node --config <config>` (a node of a cluster written by `bcos init`);
    /// `data_dir` is where that config puts the chain data.
    pub fn start_config(config: &Path, data_dir: &Path, args: &[&str]) -> Node {
        Node::spawned(Some(config.to_path_buf()), data_dir, args)
    }

    fn spawned(config: Option<PathBuf>, data_dir: &Path, args: &[&str]) -> Node {
        let mut node = Node {
            config,
            child: None,
            readers: Vec::new(),
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            log: Arc::new(Mutex::new(Log::default())),
            rpc_url: String::new(),
            ws_url: String::new(),
            rpc: Rpc::new("http://127.0.0.1:1"),
        };
        node.spawn();
        node
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The process's stdout and stderr as kept (the newest `LOG_BYTES_MAX` at most), stderr
    /// lines tagged `E `.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.text.clone()).unwrap_or_default()
    }

    /// The newest part of the process's stdout and stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().map(|l| l.text.clone()).unwrap_or_default();
        let mut cut = log.len().saturating_sub(LOG_QUOTE_BYTES);
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        log[cut..].to_string()
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        let bin = bcos_bin();
        assert!(
            bin.is_file(),
            "bcos binary not found at {} — build it with `cargo build --release -p bcos-node \
             --bin bcos` or set BCOS_BIN",
            bin.display()
        );
        let mut cmd = Command::new(&bin);
        match &self.config {
            Some(config) => {
                cmd.arg("node").arg("--config").arg(config);
            }
            None => {
                cmd.arg("dev").arg("--data-dir").arg(&self.data_dir);
                if !self.args.iter().any(|a| a == "--rpc-addr") {
                    cmd.args(["--rpc-addr", "127.0.0.1:0"]);
                }
            }
        }
        cmd.env("NO_COLOR", "1");
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.log
            .lock()
            .expect("log lock")
            .push("## ", &format!("started {cmd:?}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel::<String>();
        let log = self.log.clone();
        self.readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = log.lock() {
                    l.push("", &line);
                }
                let _ = tx.send(line);
            }
        }));
        let log = self.log.clone();
        self.readers
            .push(std::thread::spawn(move || drain_lines(stderr, "E ", &log)));
        self.child = Some(child);
        self.await_banner(&rx);
    }

    /// Waits for the `RPC:` and `WS:` lines; the reader thread keeps draining afterwards.
    fn await_banner(&mut self, rx: &mpsc::Receiver<String>) {
        let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
        let (mut rpc, mut ws) = (None, None);
        while rpc.is_none() || ws.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.trim().strip_prefix("RPC:") {
                        rpc = Some(u.trim().to_string());
                    } else if let Some(u) = line.trim().strip_prefix("WS:") {
                        ws = Some(u.trim().to_string());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.kill9();
                    panic!(
                        "bcos dev printed no RPC:/WS: lines within {START_TIMEOUT_MS} ms\n{}",
                        self.log_tail()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is exiting; collect its status and stderr.
                    let status = self.child.take().map(|mut c| c.wait());
                    self.join_readers();
                    panic!(
                        "bcos dev exited before printing its RPC address ({status:?})\n{}",
                        self.log_tail()
                    );
                }
            }
        }
        self.rpc_url = rpc.expect("loop ends with Some");
        self.ws_url = ws.expect("loop ends with Some");
        self.rpc = Rpc::new(&self.rpc_url);
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.join_readers();
        self.log
            .lock()
            .expect("log lock")
            .push("## ", "killed with SIGKILL");
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut c = self
            .child
            .take()
            .expect("stop() on a node that is not running");
        let pid = libc::pid_t::try_from(c.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(
            rc,
            0,
            "kill(SIGTERM) failed: {}",
            std::io::Error::last_os_error()
        );
        let deadline = Instant::now() + Duration::from_millis(STOP_TIMEOUT_MS);
        let status = loop {
            match c.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let _ = c.kill();
                    let _ = c.wait();
                    self.join_readers();
                    panic!(
                        "node ignored SIGTERM for {STOP_TIMEOUT_MS} ms\n{}",
                        self.log_tail()
                    );
                }
                Err(e) => panic!("waiting for the node: {e}"),
            }
        };
        self.join_readers();
        self.log
            .lock()
            .expect("log lock")
            .push("## ", &format!("stopped: {status}"));
        status
    }

    /// Starts the binary again on the same data directory and flags (a new port).
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "restart() needs a stopped or killed node"
        );
        self.spawn();
    }

    /// Whether the process is still alive (it may have crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }
}

fn drain_lines(r: impl Read, tag: &str, log: &Mutex<Log>) {
    for line in BufReader::new(r).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut l) = log.lock() {
            l.push(tag, &line);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let tail = self.log_tail();
        if std::thread::panicking() && !tail.is_empty() {
            eprintln!("---- bcos dev log tail ----\n{tail}");
        }
    }
}
