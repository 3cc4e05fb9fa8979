//! Issue 18 (observability) on a real four-node PBFT cluster: `GET /metrics` answers every
//! metric docs/observability.md lists, with a group label, and values that follow the
//! chain; every metric the Grafana dashboard queries exists; the flow log is off by
//! default, is switched per group through the admin listener, and `bcos flow` turns it
//! into a transaction's and a block's timeline and a per-stage summary.

use bcos_tests::client::tests_dir;
use bcos_tests::cluster::{send_transfers, top_block, Cluster};
use bcos_tests::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::Command;

/// `GET path` on `addr` over HTTP/1.1; the status and the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, body.to_string())
}

/// The value of the sample `series` (name and labels exactly as exported).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Every sample name (without labels) in an exposition.
fn series_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_string())
        .collect()
}

/// Metric names a PromQL expression uses (identifiers starting with `bcos_`).
fn queried_metrics(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("bcos_") {
        let start = i + at;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        out.push(expr[start..end].to_string());
        i = end;
    }
    out
}

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

fn flow(log: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bcos_bin())
        .arg("flow")
        .arg("--log")
        .arg(log)
        .args(args)
        .output()
        .expect("run bcos flow");
    assert!(
        out.status.success(),
        "bcos flow {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `stages` of `kind` ("tx" or "block") are all in the timeline, in that order. A line is
/// `+<ms> ms <kind> <stage> [block <n>]`.
fn assert_in_order(timeline: &str, kind: &str, stages: &[&str]) {
    let at = |stage: &str| {
        timeline.lines().position(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.get(3) == Some(&kind) && words.get(4) == Some(&stage)
        })
    };
    let mut last = 0;
    for s in stages {
        let i = at(s).unwrap_or_else(|| panic!("no {kind} {s} in\n{timeline}"));
        assert!(i >= last, "{kind} {s} out of order in\n{timeline}");
        last = i;
    }
}

#[test]
fn metrics_dashboard_and_flow_logs_on_a_pbft_cluster() {
    let c = Cluster::start(4, &[0, 1, 2, 3]);
    let admin = c.admin(0);
    // Off by default; the switch answers whether it was on.
    assert_eq!(admin.ok("bcos_setFlowLog", json!([0, true])), json!(false));
    assert_eq!(admin.ok("bcos_setFlowLog", json!([0, true])), json!(true));
    assert!(
        admin.call("bcos_setFlowLog", json!([7, true])).is_err(),
        "a group not running"
    );

    let hashes = send_transfers(&c, 0, 0, 0, 12);
    let top = top_block(&c, 0, &hashes);
    c.wait_head(0, top);
    // A quorum of three commits before node 0's last link may be up.
    c.wait_peers(0, 3);

    // Metrics.
    let (status, text) = http_get(c.rpc(0).addr(), "/metrics");
    assert_eq!(status, 200, "{text}");
    let g = r#"{group="0"}"#;
    let height = sample(&text, &format!("bcos_block_height{g}")).expect("height");
    assert!(height >= top as f64, "height {height} < {top}\n{text}");
    assert!(sample(&text, &format!("bcos_tx_committed_total{g}")).expect("committed") >= 12.0);
    assert_eq!(sample(&text, "bcos_peers_connected"), Some(3.0), "{text}");
    for name in [
        "bcos_txpool_transactions",
        "bcos_txpool_bytes",
        "bcos_consensus_view",
    ] {
        assert!(
            sample(&text, &format!("{name}{g}")).is_some(),
            "no {name}\n{text}"
        );
    }
    assert!(sample(&text, &format!("bcos_consensus_view_changes_total{g}")).is_some());
    assert!(sample(&text, &format!("bcos_block_commit_seconds_count{g}")).expect("commit") >= 1.0);
    assert!(
        sample(&text, &format!("bcos_block_execute_seconds_count{g}")).expect("execute") >= 1.0
    );
    // Node 0 took all 12 into its pool, so it timed each to its commit.
    let latencies = sample(&text, &format!("bcos_tx_submit_to_commit_seconds_count{g}"));
    assert!(latencies.expect("submit to commit") >= 12.0, "{text}");
    // Every node executes every block once, and the 12 are plain transfers (EXEC-R21).
    let direct = sample(&text, &format!("bcos_execute_direct_transfers_total{g}"));
    assert!(direct.expect("direct transfers") >= 12.0, "{text}");
    let recovered = sample(
        &text,
        r#"bcos_stage_items_total{group="0",stage="recover"}"#,
    );
    assert!(recovered.expect("stage counter") >= 1.0, "{text}");
    assert_eq!(
        sample(&text, &format!("bcos_flow_log_enabled{g}")),
        Some(1.0)
    );

    // Every metric the dashboard queries is exported.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(tests_dir().join("../grafana/bcos.json"))
            .expect("grafana/bcos.json"),
    )
    .expect("dashboard JSON");
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{queries:?}");
    let exported = series_names(&text);
    for q in &queries {
        for m in queried_metrics(q) {
            assert!(
                exported.contains(&m),
                "the dashboard queries {m} ({q}), which /metrics lacks"
            );
        }
    }
    assert_eq!(http_get(c.rpc(0).addr(), "/metrics/x").0, 404);

    // The peers and the pool as an operator (and the browser) reads them.
    let peers = c.rpc(0).ok("bcos_getPeers", json!([]));
    let peers = peers.as_array().expect("peers");
    assert_eq!(peers.len(), 3, "{peers:?}");
    assert!(
        peers
            .iter()
            .all(|p| p["connected"] == json!(true) && p["nodeId"].is_string()),
        "{peers:?}"
    );
    // A transfer five nonces ahead waits in the pool for good.
    let gapped = send_transfers(&c, 0, 1, 5, 1);
    let pending = c.rpc(0).ok("bcos_getPendingTransactions", json!([10]));
    assert!(
        pending
            .as_array()
            .expect("pending")
            .iter()
            .any(|t| t["hash"] == json!(gapped[0])),
        "{pending}"
    );
    let (_, text) = http_get(c.rpc(0).addr(), "/metrics");
    assert_eq!(
        sample(&text, &format!("bcos_txpool_transactions{g}")),
        Some(1.0),
        "{text}"
    );

    // Flow log: timelines of one transaction and its block, and a summary.
    admin.ok("bcos_setFlowLog", json!([0, false]));
    let quiet = send_transfers(&c, 0, 0, 12, 1);
    wait_receipts(c.rpc(0), &quiet);
    let log = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(log.path(), c.node(0).log_text()).expect("write log");

    let tx = flow(log.path(), &["--tx", &hashes[5]]);
    let tx_stages = [
        "received",
        "recovered",
        "admitted",
        "executed",
        "committed",
        "receipt_visible",
    ];
    assert_in_order(&tx, "tx", &tx_stages);
    assert_in_order(&tx, "block", &["executed", "committed", "stored"]);
    let receipt = c.rpc(0).ok("eth_getTransactionReceipt", json!([hashes[5]]));
    let block = as_u64(&receipt["blockNumber"]);
    let timeline = flow(log.path(), &["--block", &block.to_string()]);
    assert_in_order(
        &timeline,
        "block",
        &["pre_prepared", "prepared", "committed", "stored"],
    );
    let summary = flow(log.path(), &["--summary"]);
    assert!(
        summary.contains("receipt_visible") && summary.contains("stored"),
        "{summary}"
    );
    let seen: u64 = summary
        .lines()
        .find_map(|l| {
            l.strip_prefix("transactions (")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("transactions seen");
    // The 12 transfers and the gapped one; the last transfer went with the flow log off.
    assert_eq!(seen, 13, "{summary}");
    assert!(flow(log.path(), &["--tx", &quiet[0]]).contains("no flow events"));
}
