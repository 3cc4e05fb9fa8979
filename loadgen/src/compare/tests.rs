//! compare-anvil: medians, ratios against the goals, formatting, the report files; and, only
//! when asked (`--ignored`, needs anvil), a short run against a real anvil.

use super::report::*;
use super::*;

fn fig(tps: f64, p99: f64) -> RunFigure {
    RunFigure {
        committed_tps: tps,
        submitted: 1000,
        committed: 990,
        errors: 0,
        latency_p50_ms: p99 / 2.0,
        latency_p99_ms: p99,
        node_cpu_cores: Some(1.25),
    }
}

fn sample() -> CompareResults {
    let targets = vec![
        TargetResult::new(
            ANVIL,
            "anvil/v1.7.1 --block-time 1".into(),
            vec!["anvil --block-time 1 --port 8545 &".into()],
            vec![fig(700.0, 1900.0), fig(650.0, 2100.0), fig(720.0, 1800.0)],
        ),
        TargetResult::new(
            BCOS_SOLO,
            "bcos, single node (`bcos dev`)".into(),
            vec!["loadgen run --workload transfer".into()],
            vec![
                fig(21_000.0, 900.0),
                fig(23_500.0, 800.0),
                fig(22_400.0, 850.0),
            ],
        ),
        TargetResult::new(
            BCOS_PBFT4,
            "bcos, 4-node PBFT cluster".into(),
            vec!["loadgen run --nodes 4 --consensus pbft".into()],
            vec![
                fig(6_000.0, 1500.0),
                fig(f64::NAN, 0.0),
                fig(7_700.0, 1400.0),
            ],
        ),
    ];
    CompareResults {
        commit: "8ce03bf0123456789abcdef-dirty".into(),
        date_utc: "2026-11-29T21:00:00Z".into(),
        machine: Machine {
            cpu_model: "AMD EPYC 9B14".into(),
            cores: 2,
            memory_bytes: 24 << 30,
            kernel: "6.1.0".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
        },
        anvil: "anvil/v1.7.1".into(),
        anvil_block_time_s: 1,
        anvil_gas_limit: anvil::GAS_LIMIT,
        bcos_bin: "/var/cache/bcos-target/release/bcos".into(),
        workload: Workload {
            concurrency: 10_000,
            accounts: 2_000,
            warmup_s: 3.0,
            window_s: 10.0,
            tps_max: 25_000.0,
            batch_max: 500,
            connections: 4,
        },
        runs: 3,
        command: "loadgen compare-anvil --runs 3 --cluster".into(),
        ratios: ratios(&targets),
        targets,
    }
}

#[test]
fn medians_of_odd_even_and_no_runs() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(median(&[7.5]), 7.5);
    assert_eq!(median(&[]), 0.0);
    // A NaN sorts last and cannot become the median of three.
    assert_eq!(median(&[f64::NAN, 5.0, 1.0]), 5.0);
}

#[test]
fn ratios_are_medians_over_anvil_against_the_issue_goals() {
    let r = sample();
    assert_eq!(r.targets[0].median_committed_tps, 700.0);
    assert_eq!(r.targets[1].median_committed_tps, 22_400.0);
    assert_eq!(r.targets[1].median_p99_ms, 850.0);
    assert_eq!(r.ratios.len(), 2);
    let solo = &r.ratios[0];
    assert_eq!(solo.target, BCOS_SOLO);
    assert!((solo.value.expect("test step") - 32.0).abs() < 1e-9);
    assert_eq!((solo.goal, solo.goal_met), (Some(30.0), Some(true)));
    let pbft = &r.ratios[1];
    assert_eq!(pbft.target, BCOS_PBFT4);
    assert!((pbft.value.expect("test step") - 11.0).abs() < 1e-9);
    assert_eq!((pbft.goal, pbft.goal_met), (Some(10.0), Some(true)));

    // Missed goal, anvil committing nothing, no anvil at all.
    let mut t = r.targets.clone();
    t[1] = TargetResult::new(BCOS_SOLO, "x".into(), vec![], vec![fig(7_000.0, 1.0)]);
    assert_eq!(ratios(&t)[0].goal_met, Some(false));
    t[0] = TargetResult::new(ANVIL, "a".into(), vec![], vec![fig(0.0, 1.0)]);
    let q = ratios(&t);
    assert_eq!((q[0].value, q[0].goal_met), (None, None));
    assert!(ratios(&t[1..]).is_empty());
    assert_eq!(ratio(1.0, f64::NAN), None);
    assert_eq!(goal_for(ANVIL), None);
}

#[test]
fn numbers_are_formatted_for_people() {
    assert_eq!(thousands(0.0), "0");
    assert_eq!(thousands(999.4), "999");
    assert_eq!(thousands(1_000.0), "1,000");
    assert_eq!(thousands(22_400.0), "22,400");
    assert_eq!(thousands(1_234_567.8), "1,234,568");
    assert_eq!(thousands(-1_500.0), "-1,500");
    assert_eq!(thousands(f64::INFINITY), "n/a");
    assert_eq!(times(Some(32.0)), "32.0×");
    assert_eq!(times(Some(9.876)), "9.88×");
    assert_eq!(times(None), "n/a");
    let lines = ratio_lines(&sample());
    assert_eq!(
        lines,
        [
            "bcos-solo / anvil: 32.0× (issue 15 goal ≥ 30×: met)",
            "bcos-pbft4 / anvil: 11.0× (issue 15 goal ≥ 10×: met)"
        ]
    );
}

#[test]
fn markdown_lists_targets_ratios_machine_and_commands() {
    let r = sample();
    let md = render_markdown(&r);
    assert!(md.starts_with("# bcos vs anvil"));
    assert!(
        md.contains("Commit `8ce03bf0123456789abcdef-dirty`"),
        "{md}"
    );
    assert!(md.contains("on 2 cores (AMD EPYC 9B14"), "{md}");
    assert!(md.contains("median of 3 runs per target"), "{md}");
    assert!(
        md.contains(
            "| anvil/v1.7.1 --block-time 1 | 700 | 700 / 650 / 720 | 1,900 | 1.25 / 1.25 / 1.25 |"
        ),
        "{md}"
    );
    assert!(md.contains("| 22,400 | 21,000 / 23,500 / 22,400 |"), "{md}");
    assert!(
        md.contains("| bcos, single node (`bcos dev`) / anvil/v1.7.1 --block-time 1 | 32.0× | ≥ 30× | yes |"),
        "{md}"
    );
    assert!(md.contains("| 11.0× | ≥ 10× | yes |"), "{md}");
    assert!(md.contains("vary by 10-20 %"), "{md}");
    assert!(
        md.contains("gas limit of 10,000,000,000 gas: at most 476,190 transfers a block, 476,190 tx/s (its default of 30,000,000 caps it at 1,428 tx/s with 1 s blocks)"),
        "{md}"
    );
    assert!(
        md.contains("loadgen compare-anvil --runs 3 --cluster\n"),
        "{md}"
    );
    assert!(md.contains("# bcos, 4-node PBFT cluster\nloadgen run --nodes 4 --consensus pbft\n"));
    // One run: no median wording; a target without CPU samples says n/a.
    let mut one = r.clone();
    one.runs = 1;
    one.targets.truncate(1);
    one.targets[0].runs.truncate(1);
    one.targets[0].runs[0].node_cpu_cores = None;
    one.ratios = ratios(&one.targets);
    let md = render_markdown(&one);
    assert!(md.contains("one run per target"), "{md}");
    assert!(md.contains("| 1,900 | n/a |"), "{md}");
    assert!(!md.contains("| ratio |"), "{md}");
}

#[test]
fn the_report_is_written_and_reads_back() {
    let r = sample();
    assert_eq!(dir_name(&r), "anvil-compare-2026-11-29-8ce03bf");
    let mut odd = r.clone();
    odd.commit = "unknown".into();
    odd.date_utc = "../../x".into();
    assert_eq!(dir_name(&odd), "anvil-compare-undated-unknown");
    let tmp = tempfile::tempdir().expect("test step");
    let dir = tmp.path().join(dir_name(&r));
    let md = write(&dir, &r).expect("test step");
    assert_eq!(md, dir.join(MD_FILE));
    assert_eq!(
        std::fs::read_to_string(&md).expect("test step"),
        render_markdown(&r)
    );
    let text = std::fs::read_to_string(dir.join(JSON_FILE)).expect("test step");
    // NaN is written as null and reads back as such; the rest round-trips.
    let back: serde_json::Value = serde_json::from_str(&text).expect("test step");
    assert_eq!(back["ratios"][0]["value"], serde_json::json!(32.0));
    assert_eq!(
        back["targets"][1]["median_committed_tps"],
        serde_json::json!(22400.0)
    );
    assert_eq!(back["machine"]["cores"], serde_json::json!(2));
    let mut finite = r.clone();
    finite.targets[2].runs[1].committed_tps = 1.0;
    write(&dir, &finite).expect("test step");
    let again: CompareResults =
        serde_json::from_str(&std::fs::read_to_string(dir.join(JSON_FILE)).expect("test step"))
            .expect("test step");
    assert_eq!(again, finite);
}

#[test]
fn the_commands_reproduce_each_target() {
    let a = CompareArgs {
        runs: 1,
        cluster: true,
        out: None,
        anvil_bin: None,
        anvil_dir: None,
        block_time: 1,
        anvil_gas_limit: anvil::GAS_LIMIT,
        bcos_bin: None,
        node_config: None,
        load: ClosedLoopArgs {
            concurrency: 10_000,
            accounts: 2_000,
            warmup_s: 3.0,
            window_s: 10.0,
            tps_max: 25_000.0,
            batch_max: None,
            connections: Some(8),
        },
    };
    let spec = workload_spec(&a);
    assert!(spec.validate().is_ok());
    assert_eq!(target_keys(true), [ANVIL, BCOS_SOLO, BCOS_PBFT4]);
    assert_eq!(target_keys(false), [ANVIL, BCOS_SOLO]);
    let o = AnvilOptions {
        block_time_s: 1,
        gas_limit: anvil::GAS_LIMIT,
    };
    let flags = "--workload transfer --concurrency 10000 --accounts 2000 --warmup-s 3 --window-s 10 --tps-max 25000 --batch-max 500 --connections 8";
    assert_eq!(
        commands(ANVIL, &spec, &o, 8545),
        [
            "anvil --block-time 1 --port 8545 --silent --gas-limit 10000000000 --no-request-size-limit &".to_string(),
            format!("loadgen run --url http://127.0.0.1:8545 {flags}")
        ]
    );
    assert_eq!(
        commands(BCOS_SOLO, &spec, &o, 8545),
        [format!("loadgen run {flags}")]
    );
    assert_eq!(
        commands(BCOS_PBFT4, &spec, &o, 8545),
        [format!("loadgen run {flags} --nodes 4 --consensus pbft")]
    );
    let argv: Vec<String> = [
        "loadgen",
        "compare-anvil",
        "--out",
        "my dir/x",
        "--runs",
        "3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        shell_line(&argv),
        "loadgen compare-anvil --out 'my dir/x' --runs 3"
    );
    assert_eq!(shell_line(&["it's".into()]), r"'it'\''s'");
}

#[test]
fn anvil_is_found_where_npm_puts_it() {
    assert_eq!(
        anvil::installed_path(Path::new("/opt/a")),
        Path::new("/opt/a/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    );
    assert_eq!(
        anvil::parse_version("anvil Version: 1.7.1\nCommit SHA: 4072e48\n").as_deref(),
        Some("1.7.1")
    );
    assert_eq!(
        anvil::parse_version("\nanvil 0.2.0 (abc)\n").as_deref(),
        Some("anvil 0.2.0 (abc)")
    );
    assert_eq!(anvil::parse_version(""), None);
    // An explicit binary that is not there is the user's mistake.
    let e = anvil::resolve(
        Some(Path::new("/nonexistent/anvil")),
        Path::new("/nonexistent"),
    )
    .expect_err("must fail");
    assert!(crate::error::is_usage(&e), "{e:#}");
    // One already installed under the dir is used without npm.
    let tmp = tempfile::tempdir().expect("test step");
    let bin = anvil::installed_path(tmp.path());
    std::fs::create_dir_all(bin.parent().expect("test step")).expect("test step");
    std::fs::write(&bin, "").expect("test step");
    if std::env::var_os(anvil::ANVIL_BIN_ENV).is_none() {
        assert_eq!(anvil::resolve(None, tmp.path()).expect("test step"), bin);
    }
}

#[test]
fn settings_on_the_command_line_set_dotted_keys_over_the_file() {
    let mut t: toml::Table =
        toml::from_str("[sealer]\npipelined_commit = true\ntxs_max = 10\n").expect("test step");
    apply_setting(&mut t, "sealer.pipelined_commit=false").expect("test step");
    apply_setting(&mut t, " rpc.http.batch_max = 7 ").expect("test step");
    apply_setting(&mut t, r#"storage.io_backend="std""#).expect("test step");
    let want: toml::Table = toml::from_str(
        "[sealer]\npipelined_commit = false\ntxs_max = 10\n\
         [rpc.http]\nbatch_max = 7\n[storage]\nio_backend = \"std\"\n",
    )
    .expect("test step");
    assert_eq!(t, want);
    for bad in [
        "sealer.pipelined_commit", // no value
        "sealer..txs_max=1",       // empty part
        "=1",                      // empty key
        "sealer.txs_max=",         // empty value
        "storage.io_backend=std",  // an unquoted string is not a TOML value
        "sealer.txs_max.deeper=1", // txs_max is a number, not a table
    ] {
        let e = apply_setting(&mut t, bad).expect_err(bad);
        assert!(crate::error::is_usage(&e), "{bad}: {e:#}");
    }
    assert_eq!(t, want, "a refused setting changes nothing");
}

/// A short closed loop against a real anvil (`ANVIL_BIN`, else the default install dir, where
/// it is installed with npm): funding from the dev accounts, commits from anvil's blocks, no
/// stage metrics. `cargo test -p bcos-loadgen -- --ignored anvil`.
#[test]
#[ignore = "needs anvil (ANVIL_BIN or npm)"]
fn a_short_run_against_anvil_commits_transfers() {
    let bin = anvil::resolve(None, &anvil::default_dir()).expect("test step");
    let o = AnvilOptions {
        block_time_s: 1,
        gas_limit: anvil::GAS_LIMIT,
    };
    let node = Anvil::start(&bin, &o).expect("test step");
    let mut target = Target::remote(std::slice::from_ref(&node.url), 1, 0).expect("test step");
    assert!(!target.is_bcos());
    target.watch_process(node.pid());
    let mut spec = WorkloadSpec::new("transfer", Mode::Closed);
    spec.concurrency = Some(500);
    spec.accounts = 100;
    spec.warmup_s = 1.0;
    spec.window_s = 3.0;
    spec.tps_max = 2_000.0;
    let r = runner::run_workload(&target, &spec, 0.0).expect("test step");
    assert!(r.committed > 0, "{r:?}");
    assert!(r.stages.is_empty());
    assert_eq!(r.node_usage.len(), 1);
    target.stop().expect("test step");
    node.stop();
}
