//! AMOP with real processes (whitepaper §3.1, src/node/src/amop): a 4-node cluster and
//! `bcos amop` clients attached to different nodes. Requests and answers and multicasts
//! cross nodes; a node in the path is killed with SIGKILL mid-stream and every request is
//! still answered, through another node the subscriber also attached to; an unauthorised
//! subscriber of a private topic is refused with its reason.

use bcos_tests::cast::{DEV_ADDR, DEV_KEY, DEV_KEY_1};
use bcos_tests::cluster::{node_dir, Cluster};
use bcos_tests::{bcos_bin, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a client's expected line may take (announcements travel every 500 ms).
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// A `bcos amop …` process whose stdout lines arrive on a channel.
struct Client {
    child: Child,
    lines: mpsc::Receiver<String>,
    what: String,
}

impl Client {
    fn spawn(args: &[&str]) -> Client {
        let mut child = Command::new(bcos_bin())
            .arg("amop")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn bcos amop");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            lines,
            what: format!("bcos amop {}", args.join(" ")),
        }
    }

    /// The next line as JSON; panics after [`LINE_TIMEOUT`] or when the process ended.
    fn line(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(LINE_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: no line ({e})", self.what));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: {e}: {line}", self.what))
    }

    /// Waits for the process to exit: its status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.what);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bcos amop args…` to its end: (success, stdout's last JSON line or stderr).
fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(bcos_bin())
        .arg("amop")
        .args(args)
        .output()
        .expect("run bcos amop");
    let text = if out.status.success() {
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    } else {
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    };
    (out.status.success(), text)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Publishes until `nodes` other nodes took the message (their subscribers' announcements
/// arrive within an interval), at most [`LINE_TIMEOUT`].
fn publish_reaching(ws: &str, topic: &str, data: &str, nodes: u64) -> Value {
    let deadline = Instant::now() + LINE_TIMEOUT;
    loop {
        let (ok, out) = run(&["pub", topic, data, "--rpc", ws]);
        assert!(ok, "{out}");
        let v = json(&out);
        if v["nodes"].as_u64() == Some(nodes) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {nodes} nodes: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests until one is answered (the subscriber's announcement has arrived).
fn first_answer(ws: &str, topic: &str) {
    let deadline = Instant::now() + LINE_TIMEOUT;
    loop {
        let (ok, out) = run(&["req", topic, "ping", "--rpc", ws, "--timeout-ms", "5000"]);
        if ok {
            assert_eq!(json(&out)["text"], "ping", "{out}");
            return;
        }
        assert!(Instant::now() < deadline, "no answer: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn key_file(dir: &std::path::Path, name: &str, key: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, key).expect("write key");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn requests_and_multicasts_cross_nodes_and_survive_a_killed_node_and_private_topics_refuse_strangers(
) {
    let mut c = Cluster::start_with(4, &[], &[]);
    // Topic "vault" is private to dev account 0, on every node.
    for i in 0..4 {
        let config = node_dir(&c.out(), i).join("config.toml");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str(&format!(
            "\n[[amop.private_topics]]\ntopic = \"vault\"\naddresses = [\"{DEV_ADDR}\"]\n"
        ));
        std::fs::write(&config, text).expect("config");
    }
    for i in 0..4 {
        c.start_node(i);
    }
    let ws: Vec<String> = (0..4).map(|i| c.node(i).ws_url.clone()).collect();

    // One answering subscriber attached to nodes 1 and 2.
    let responder = Client::spawn(&[
        "sub",
        "echo",
        "--rpc",
        &ws[1],
        "--rpc",
        &ws[2],
        "--respond",
        "echo",
    ]);
    assert_eq!(responder.line()["subscribed"], "echo");
    first_answer(&ws[0], "echo");

    // Multicast: one subscriber on node 1, one on node 3, the publisher on node 0.
    let m1 = Client::spawn(&["sub", "news", "--rpc", &ws[1], "--count", "1"]);
    let m3 = Client::spawn(&["sub", "news", "--rpc", &ws[3], "--count", "1"]);
    assert_eq!(m1.line()["subscribed"], "news");
    assert_eq!(m3.line()["subscribed"], "news");
    let reached = publish_reaching(&ws[0], "news", "hello", 2);
    assert_eq!(reached["subscribers"], 0, "no subscriber on node 0");
    for m in [&m1, &m3] {
        let got = m.line();
        assert_eq!(
            (got["kind"].as_str(), got["data"].as_str()),
            (Some("message"), Some("0x68656c6c6f"))
        );
    }

    // Requests from node 0 reach the subscriber through node 1 or 2 and come back.
    let (ok, out) = run(&["bench", "echo", "--rpc", &ws[0], "--count", "50"]);
    assert!(ok, "{out}");
    let b = json(&out);
    assert_eq!(
        (b["ok"].as_u64(), b["wrongAnswers"].as_u64()),
        (Some(50), Some(0)),
        "{b}"
    );

    // Node 1 dies mid-stream: every request is still answered, through node 2.
    let stream = Client::spawn(&[
        "bench",
        "echo",
        "--rpc",
        &ws[0],
        "--count",
        "300",
        "--timeout-ms",
        "20000",
    ]);
    // Wait until requests are flowing (the responder prints each one it answers).
    for _ in 0..30 {
        responder.line();
    }
    c.node_mut(1).kill9();
    let b = stream.line();
    eprintln!("requests across the kill: {b}");
    // The requester's node moved at least one request off the dead path.
    let amop = &c.rpc(0).ok("bcos_getNodeInfo", bcos_tests::json!([]))["amop"];
    assert!(amop["retries"].as_u64() >= Some(1), "{amop}");
    assert_eq!(amop["timeouts"].as_u64(), Some(0), "{amop}");
    assert_eq!(
        (
            b["ok"].as_u64(),
            b["failed"].as_u64(),
            b["wrongAnswers"].as_u64()
        ),
        (Some(300), Some(0), Some(0)),
        "{b}"
    );

    // Private topic: no key, or an unlisted key, is refused; a listed key subscribes.
    let dir = c.dir.path().to_path_buf();
    let (ok, err) = run(&["sub", "vault", "--rpc", &ws[0]]);
    assert!(!ok && err.contains("is private"), "{err}");
    let stranger = key_file(&dir, "stranger.key", DEV_KEY_1);
    let (ok, err) = run(&["sub", "vault", "--rpc", &ws[0], "--key-file", &stranger]);
    assert!(!ok && err.contains("not authorised"), "{err}");
    let owner = key_file(&dir, "owner.key", DEV_KEY);
    let mut insider = Client::spawn(&[
        "sub",
        "vault",
        "--rpc",
        &ws[3],
        "--key-file",
        &owner,
        "--count",
        "1",
    ]);
    assert_eq!(insider.line()["subscribed"], "vault");
    publish_reaching(&ws[0], "vault", "0x5ec2e7", 1);
    assert_eq!(insider.line()["data"], "0x5ec2e7");
    assert!(insider.wait().success());
}

/// Groups (both features are per group): a subscriber of group 1 gets group 1's messages,
/// not group 0's, and a name registered in group 1's CNS is unknown to group 0's.
#[test]
fn amop_and_cns_are_per_group() {
    let c = Cluster::start_with(1, &[0], &["--groups", "2"]);
    let node = c.node(0);
    let (g0, g1) = (node.ws_url.clone(), format!("{}/g/1", node.ws_url));
    let sub = Client::spawn(&["sub", "t", "--rpc", &g1, "--count", "1"]);
    assert_eq!(sub.line()["subscribed"], "t");
    let (ok, out) = run(&["pub", "t", "group-0", "--rpc", &g0]);
    assert!(ok, "{out}");
    assert_eq!(
        json(&out)["subscribers"],
        0,
        "group 0 has no subscriber of t"
    );
    let (ok, out) = run(&["pub", "t", "group-1", "--rpc", &g1]);
    assert!(ok, "{out}");
    assert_eq!(json(&out)["subscribers"], 1);
    assert_eq!(
        sub.line()["data"],
        "0x67726f75702d31",
        "group 1's message, not group 0's"
    );
    // A request nobody can take gets a clear error at once, not silence.
    let (ok, err) = run(&["req", "t", "x", "--rpc", &g0]);
    assert!(
        !ok && err.contains("no subscriber") && err.contains("(-32000)"),
        "{err}"
    );

    let cns = |url: &str, args: &[&str]| {
        Command::new(bcos_bin())
            .args(["cns", "--rpc", url])
            .args(args)
            .output()
            .expect("run bcos cns")
    };
    let rpc1 = format!("{}/g/1", node.rpc_url);
    let out = cns(
        &rpc1,
        &[
            "--dev-account",
            "0",
            "register",
            "--name",
            "Only1",
            "--version",
            "1",
            "--address",
            DEV_ADDR,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cns(&rpc1, &["resolve", "Only1"]).status.success());
    let out = cns(&node.rpc_url, &["resolve", "Only1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));
}
