//! End to end: `loadgen run` against an embedded node for a couple of seconds, and the
//! command line's handling of bad input. Needs the node binary (BCOS_BIN,
//! $CARGO_TARGET_DIR/release/bcos, or next to the loadgen binary): build it first with
//! `cargo build --release -p bcos-node`.

use std::process::Command;

fn loadgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
}

/// `loadgen <args> --json FILE`, which must succeed; the result and its JSON text.
fn run_result(args: &[&str]) -> (bcos_loadgen::results::WorkloadResult, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let json = dir.path().join("result.json");
    let out = loadgen()
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen run failed: {stderr}");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}"));
    let r = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (r, text)
}

#[test]
fn run_commits_transfers_and_writes_a_well_formed_result() {
    let (r, text) = run_result(&[
        "run",
        "--workload",
        "transfer",
        "--concurrency",
        "2000",
        "--accounts",
        "200",
        "--warmup-s",
        "0.5",
        "--window-s",
        "2",
        "--tps-max",
        "25000",
    ]);
    assert_eq!(
        (r.workload.as_str(), r.mode.as_str()),
        ("transfer", "closed")
    );
    assert!(r.committed > 0 && r.committed_tps > 0.0, "{text}");
    assert!(r.submitted >= r.errors);
    assert!(r.window_s > 0.0 && r.window_s <= 2.5, "{}", r.window_s);
    assert!(
        r.latency_ms.p50 > 0.0
            && r.latency_ms.p50 <= r.latency_ms.p99
            && r.latency_ms.p99 <= r.latency_ms.max
    );
    assert!(r
        .latency_cdf
        .windows(2)
        .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(r.tps_timeline.len(), 2);
    let stages: Vec<&str> = r.stages.iter().map(|s| s.stage.as_str()).collect();
    assert!(
        stages.contains(&"recover") && stages.contains(&"commit"),
        "{stages:?}"
    );
    assert_eq!(r.node_usage.len(), 1);
    assert!(r.node_usage[0].cpu_cores > 0.0 && r.node_usage[0].rss_bytes_max > 0);
}

/// A 4-node PBFT cluster laid out by `bcos init` takes load on every node and is stopped
/// cleanly (a node that fails to stop makes `loadgen run` fail).
#[test]
fn run_against_an_embedded_pbft_cluster() {
    let (r, text) = run_result(&[
        "run",
        "--workload",
        "transfer",
        "--rate",
        "300",
        "--nodes",
        "4",
        "--consensus",
        "pbft",
        "--connections",
        "4",
        "--accounts",
        "100",
        "--warmup-s",
        "0.5",
        "--window-s",
        "2",
    ]);
    assert!(r.committed > 0, "{text}");
    assert_eq!(r.node_usage.len(), 4, "one usage row per node");
    let recover = r.stages.iter().find(|s| s.stage == "recover");
    // Stage counts are summed over the nodes, and every node recovers every sender.
    assert!(
        recover.is_some_and(|s| s.items >= r.committed),
        "{:?}",
        r.stages
    );
}

/// Issue 13: the load spread over two groups of a 4-node cluster: each group commits its
/// share, and the per-group figures add up to the aggregate.
#[test]
fn run_spreads_the_load_over_groups() {
    let (r, text) = run_result(&[
        "run",
        "--workload",
        "transfer",
        "--rate",
        "400",
        "--nodes",
        "4",
        "--consensus",
        "pbft",
        "--groups",
        "2",
        "--connections",
        "4",
        "--accounts",
        "100",
        "--warmup-s",
        "0.5",
        "--window-s",
        "2",
    ]);
    assert_eq!(r.groups, 2, "{text}");
    assert_eq!(r.per_group_committed_tps.len(), 2, "{text}");
    assert!(
        r.per_group_committed_tps.iter().all(|&t| t > 0.0),
        "every group commits: {text}"
    );
    let sum: f64 = r.per_group_committed_tps.iter().sum();
    assert!((sum - r.committed_tps).abs() < 1e-6, "{text}");
    assert_eq!(r.errors, 0, "{text}");
    assert_eq!(r.node_usage.len(), 4, "one usage row per node");
}

/// Issue 14: hf-account over two user chains of a 4-node cluster whose merchant chain is
/// group 0, with loadgen's own relayers: every window payment's record is credited, and the
/// merchant chain accounts for every wei paid.
#[test]
fn run_settles_payments_from_user_chains_to_the_merchant_chain() {
    let (r, text) = run_result(&[
        "run",
        "--workload",
        "hf-account",
        "--rate",
        "400",
        "--nodes",
        "4",
        "--consensus",
        "pbft",
        "--user-chains",
        "2",
        "--settle-interval-ms",
        "200",
        "--relay-poll-ms",
        "50",
        "--connections",
        "4",
        "--users",
        "200",
        "--merchants",
        "3",
        "--warmup-s",
        "0.5",
        "--window-s",
        "2",
    ]);
    assert_eq!(r.groups, 2, "the load goes to the user chains: {text}");
    assert!(
        r.per_group_committed_tps.iter().all(|&t| t > 0.0),
        "every user chain commits: {text}"
    );
    let s = r
        .settlement
        .unwrap_or_else(|| panic!("no settlement result: {text}"));
    assert!(s.conservation_held, "{}", s.conservation);
    assert_eq!(s.user_chains, 2);
    assert_eq!(s.uncredited, 0, "{text}");
    assert!(s.records_credited >= 2, "{text}");
    // Three merchants: only the payments to the high-frequency one are settled.
    assert!(s.lag_payments > 0 && s.lag_payments < r.committed, "{text}");
    assert!(s.lag_ms.p50 > 0.0 && s.lag_ms.p50 <= s.lag_ms.p99, "{text}");
    let paid: u64 = s.paid_wei.parse().unwrap_or(0);
    assert!(paid > 0 && paid < s.payments, "{text}");
    assert_eq!(s.credited_wei, s.paid_wei, "everything landed: {text}");
}

fn expect_usage_error(args: &[&str], needle: &str) {
    let out = loadgen()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "{args:?}: {stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line, no backtrace: {stderr}"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    expect_usage_error(
        &["certify", "--profile", "/nonexistent/p.toml"],
        "cannot read profile",
    );
    expect_usage_error(
        &["run", "--workload", "nft", "--rate", "10"],
        "unknown workload",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "transfer",
            "--rate",
            "10",
            "--url",
            "http://127.0.0.1:1",
        ],
        "cannot reach",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "transfer",
            "--rate",
            "10",
            "--nodes",
            "3",
            "--consensus",
            "hotstuff",
        ],
        "unknown node.consensus",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "transfer",
            "--rate",
            "10",
            "--groups",
            "2",
        ],
        "needs a cluster",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "transfer",
            "--rate",
            "10",
            "--nodes",
            "4",
            "--consensus",
            "pbft",
            "--groups",
            "65",
        ],
        "1..=64",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "transfer",
            "--concurrency",
            "100",
            "--connections",
            "2",
            "--nodes",
            "4",
            "--consensus",
            "pbft",
            "--groups",
            "4",
        ],
        "cannot be split over 4 groups",
    );
    expect_usage_error(
        &[
            "run",
            "--workload",
            "hf-account",
            "--rate",
            "10",
            "--user-chains",
            "2",
        ],
        "pbft",
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[machine]\ncores = \n").unwrap_or_else(|e| panic!("{e}"));
    expect_usage_error(
        &["certify", "--profile", bad.to_str().unwrap_or_default()],
        "bad.toml",
    );
}

/// The report records the storage backend the node runs (what `io_backend = "auto"` resolved
/// to), read from the node itself, not the setting.
#[test]
fn an_embedded_node_reports_the_io_backend_it_runs() {
    use bcos_loadgen::profile::NodeSpec;
    use bcos_loadgen::target::{EmbeddedOptions, Target};
    let spec = NodeSpec::new(1, "solo");
    let target = Target::embedded(&spec, &EmbeddedOptions::default())
        .unwrap_or_else(|e| panic!("starting the node: {e:#}"));
    let backends = bcos_loadgen::node_info::io_backends(target.urls());
    // How the node exits is not this test's subject. Stopping it this soon after start failed
    // once in ~20 runs (`Target::stop` reported a failed exit; not reproduced since, cause not
    // established: `bcos dev` prints its RPC line before it installs its SIGTERM handler in
    // src/node/src/main.rs, which leaves a window), so the node is stopped by Drop.
    drop(target);
    assert_eq!(backends.len(), 1);
    assert!(
        ["io_uring", "std"].contains(&backends[0].as_str()),
        "{backends:?}"
    );
}
