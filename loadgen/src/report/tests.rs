//! Report writer tests: a synthetic run rendered into a temp dir, read back and inspected.

use std::path::Path;

use super::*;
use crate::results::*;

fn workload(name: &str, committed_tps: f64) -> WorkloadResult {
    WorkloadResult {
        workload: name.to_string(),
        mode: "open".to_string(),
        offered_tps: 5000.0,
        committed_tps,
        submitted: 150_000,
        committed: 149_875,
        errors: 125,
        window_s: 30.0,
        latency_ms: LatencySummary {
            p50: 12.5,
            p90: 48.25,
            p99: 97.125,
            p999: 180.5,
            max: 412.75,
        },
        latency_cdf: vec![
            (1.5, 0.01),
            (12.5, 0.5),
            (48.25, 0.9),
            (97.125, 0.99),
            (412.75, 1.0),
        ],
        tps_timeline: vec![4900.0, 4990.0, 5010.0, 4995.0, 4998.0],
        saturation: vec![
            (1000.0, 1000.0),
            (2000.0, 1998.0),
            (4000.0, 3990.0),
            (8000.0, 4995.5),
        ],
        knee_tps: Some(4800.0),
        saturation_end: Some(SaturationEnd::KneeFound),
        stages: ["commit", "recover", "admit", "consensus", "execute"]
            .iter()
            .enumerate()
            .map(|(i, s)| StageCost {
                stage: s.to_string(),
                items: 149_875,
                busy_ms: 1000 + i as u64 * 111,
                per_item_us: 6.67 + i as f64,
            })
            .collect(),
        node_usage: vec![
            NodeUsage {
                node: 0,
                cpu_cores: 1.25,
                rss_bytes_max: 512 * 1024 * 1024,
            },
            NodeUsage {
                node: 1,
                cpu_cores: 0.75,
                rss_bytes_max: 256 * 1024 * 1024,
            },
        ],
        groups: 1,
        per_group_committed_tps: vec![committed_tps],
        settlement: None,
    }
}

pub(super) fn full_run() -> RunResults {
    RunResults {
        profile: "ci-2core".to_string(),
        thresholds: Thresholds {
            min_tps: 3000.0,
            min_efficiency: None,
            max_latency_ms_p99: 500.0,
        },
        environment: Environment {
            cpu_model: "AMD EPYC 9B14".to_string(),
            cores: 2,
            memory_bytes: 24 * 1024 * 1024 * 1024,
            kernel: "6.18.0".to_string(),
            os: "Debian GNU/Linux 12".to_string(),
            git_commit: "8a1111c0ffee1234567890abcdef1234567890ab".to_string(),
            date_utc: "2026-11-24T10:15:00Z".to_string(),
            node_settings: "[pool]\ntx_count_max = 100000\n".to_string(),
            io_backends: vec!["io_uring".to_string(); 4],
            profile_mismatches: vec!["memory: profile 16 GiB, machine 24 GiB".to_string()],
            page_cache_written_back_mib: Some(512.4),
        },
        crypto_bound_recoveries_per_s_per_core: 26100.0,
        crypto_bound_end_recoveries_per_s_per_core: None,
        crypto_bound_between_recoveries_per_s_per_core: Vec::new(),
        crypto_bound_threads: 1,
        nodes: 4,
        consensus: "pbft".to_string(),
        groups: 1,
        user_chains: 0,
        workloads: vec![workload("transfer", 4995.5), workload("erc20", 2500.25)],
        user_chains_sweep: Vec::new(),
        criterion: vec![CriterionResult {
            id: "recover/batch_rayon".to_string(),
            mean_ns: 39_100_000.0,
            throughput_per_s: Some(26189.3),
            measured_utc: Some("2026-11-24T09:40:00Z".to_string()),
            provenance: Some(BenchProvenance {
                bench: "recover".to_string(),
                commit: "8a1111c0ffee1234567890abcdef1234567890ab".to_string(),
                dirty: false,
            }),
            origin: BenchOrigin::ThisCommit,
        }],
        flamegraph: None,
        passed: false,
        failures: vec!["erc20: committed 2500.2 TPS < 3000 TPS".to_string()],
        goal: Some(Goal {
            tps: Some(6000.0),
            efficiency: None,
            latency_ms_p99: Some(300.0),
            latency_at_tps: Some(5000.0),
            latency_at_saturation_share: None,
            workload: None,
            source: "issue 3".to_string(),
        }),
        checks: vec![
            TargetCheck {
                workload: 0,
                metric: TargetMetric::LatencyMsP99,
                measured: Some(97.125),
                lower_bound: false,
                threshold: 500.0,
                threshold_efficiency: None,
                threshold_met: true,
                goal: Some(300.0),
                goal_efficiency: None,
                goal_met: Some(true),
            },
            TargetCheck {
                workload: 1,
                metric: TargetMetric::CommittedTps,
                measured: Some(2500.25),
                lower_bound: false,
                threshold: 3000.0,
                threshold_efficiency: None,
                threshold_met: false,
                goal: Some(6000.0),
                goal_efficiency: None,
                goal_met: Some(false),
            },
        ],
    }
}

/// A run that measured nothing optional: no saturation, charts data, criterion or flame graph.
fn bare_run() -> RunResults {
    let mut r = full_run();
    r.passed = true;
    r.failures.clear();
    r.criterion.clear();
    r.goal = None;
    r.checks.clear();
    r.environment.profile_mismatches.clear();
    r.environment.io_backends.clear();
    for w in &mut r.workloads {
        w.saturation.clear();
        w.knee_tps = None;
        w.saturation_end = None;
        w.tps_timeline.clear();
        w.latency_cdf.clear();
        w.stages.clear();
        w.node_usage.clear();
    }
    r
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_svg(svg: &str, what: &str) {
    let head = svg.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{what} is not SVG: {}",
        &head[..40.min(head.len())]
    );
    assert!(
        svg.contains("<path") || svg.contains("<polyline") || svg.contains("<rect"),
        "{what} draws nothing"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{what} is truncated");
}

#[test]
fn full_report_has_every_section_and_number() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = write(tmp.path(), &full_run())?;
    assert_eq!(dir, tmp.path().join("2026-11-24-ci-2core-8a1111c"));
    let md = read(&dir, REPORT_MD);
    assert!(md.contains("never edit by hand") || md.contains("Never edit by hand"));
    assert!(md.contains("**Verdict: FAIL**"));
    assert!(md.contains("- erc20: committed 2500.2 TPS < 3000 TPS"));
    assert!(md.contains(
        "| transfer | open | 5000.0 | 4995.5 | 12.50 | 48.25 | 97.12 | 180.50 | 412.75 | 125 | 150000 | 149875 | 30.0 |"
    ));
    assert!(md.contains("| erc20 | open | 5000.0 | 2500.2 |"));
    assert!(md.contains("| transfer | 4800.0 | 4995.5 | 1000.0 → 1000.0, 2000.0 → 1998.0"));
    // Stages in pipeline order regardless of input order.
    let recover = md
        .find("| transfer | recover | 149875 | 1111 | 7.67 |")
        .expect("recover row");
    let commit = md
        .find("| transfer | commit | 149875 | 1000 | 6.67 |")
        .expect("commit row");
    assert!(recover < commit);
    assert!(md.contains("| transfer | 0 | 1.25 | 512.0 |"));
    assert!(md.contains("| transfer | 1 | 0.75 | 256.0 |"));
    // 4995.5 × 4 ÷ (26100 × 2) = 38.28 %.
    assert!(md.contains("26100.0 secp256k1 recoveries/s per core"));
    assert!(md.contains("efficiency = committed TPS × nodes ÷ (recoveries/s per core × cores)"));
    // The recover stage counted 149875 items for 149875 commits on 4 nodes: 0.25 per node.
    assert!(md.contains("| transfer | 4995.5 | 38.3 % | 0.25 |"));
    assert!(md.contains("| CPU model | AMD EPYC 9B14 |"));
    assert!(md.contains("| memory | 24.0 GiB |"));
    assert!(md.contains("- memory: profile 16 GiB, machine 24 GiB"));
    assert!(md.contains("```toml\n[pool]\ntx_count_max = 100000\n```"));
    assert!(md.contains(
        "| recover/batch_rayon | 39.10 ms | 26189.3/s | this commit, 2026-11-24T09:40:00Z |"
    ));
    assert!(md.contains("1 of 1 results were measured at this report's commit (8a1111c)"));
    assert!(md.contains("| storage I/O backend (as run) | io_uring (all 4 nodes) |"));
    assert!(md.contains(
        "Goal (issue 3): committed TPS ≥ 6000.0, p99 latency ≤ 300.00 ms at 5000.0 tx/s offered."
    ));
    assert!(md.contains(
        "| transfer (open) | p99 latency ms | 97.12 | ≤ 500.00 | yes | ≤ 300.00 | yes |"
    ));
    assert!(md.contains(
        "| erc20 (open) | committed TPS | 2500.2 | ≥ 3000.0 | **no** | ≥ 6000.0 | **no** |"
    ));
    for chart in charts::CHART_FILES {
        assert!(md.contains(&format!("]({chart})")), "no link to {chart}");
        assert_svg(&read(&dir, chart), chart);
    }
    assert!(!md.contains("Flame graph"));
    Ok(())
}

#[test]
fn results_json_round_trips() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let run = full_run();
    let dir = write(tmp.path(), &run)?;
    let back = json::read(&dir.join(json::RESULTS_JSON))?;
    assert_eq!(back, run);
    assert_eq!(
        read(&dir, json::RESULTS_JSON).trim_end(),
        serde_json::to_string_pretty(&run)?
    );
    Ok(())
}

#[test]
fn missing_data_leaves_sections_and_charts_out() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = write(tmp.path(), &bare_run())?;
    let md = read(&dir, REPORT_MD);
    assert!(md.contains("**Verdict: PASS**"));
    assert!(md.contains("| transfer | open | 5000.0 | 4995.5 |"));
    for absent in [
        "Saturation",
        "Per-stage",
        "Node resources",
        "Criterion",
        "Flame graph",
        "## Charts",
    ] {
        assert!(!md.contains(absent), "{absent} rendered without data");
    }
    assert!(md.contains("| profile mismatches | none |"));
    for chart in charts::CHART_FILES {
        assert!(!dir.join(chart).exists(), "{chart} written without data");
    }
    Ok(())
}

#[test]
fn rerun_into_same_dir_drops_stale_charts() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let first = write(tmp.path(), &full_run())?;
    let second = write(tmp.path(), &bare_run())?;
    assert_eq!(first, second);
    assert!(!second.join(charts::SATURATION_SVG).exists());
    Ok(())
}

#[test]
fn dir_name_falls_back_and_sanitizes() {
    let mut r = bare_run();
    r.profile = "../evil profile".to_string();
    r.environment.date_utc = "yesterday".to_string();
    r.environment.git_commit = "ABCDEF0123-dirty".to_string();
    assert_eq!(dir_name(&r), "undated-.._evil_profile-abcdef0-dirty");
    r.environment.git_commit = String::new();
    r.profile = String::new();
    assert_eq!(dir_name(&r), "undated-unnamed-nogit");
}

/// A threshold and goal stated as efficiencies are printed with the share and the bound they
/// were derived from, and the efficiencies use the higher of the two bound measurements.
#[test]
fn efficiency_thresholds_show_their_derivation() {
    let mut r = full_run();
    r.crypto_bound_recoveries_per_s_per_core = 10_000.0;
    r.crypto_bound_end_recoveries_per_s_per_core = Some(12_000.0);
    r.nodes = 1;
    // 30 % of 12,000 × 2 cores ÷ 1 node.
    r.thresholds.min_tps = 7200.0;
    r.thresholds.min_efficiency = Some(0.3);
    if let Some(g) = r.goal.as_mut() {
        g.tps = Some(18_000.0);
        g.efficiency = Some(0.75);
    }
    r.checks[1].threshold = 7200.0;
    r.checks[1].threshold_efficiency = Some(0.3);
    r.checks[1].goal = Some(18_000.0);
    r.checks[1].goal_efficiency = Some(0.75);
    let md = markdown::render(&r, &[]);
    assert!(md.contains(
        "committed TPS ≥ 7200.0 (30.0 % of the crypto bound: 30.0 % × 12000.0 recoveries/s per core × 2 cores ÷ 1 node(s))"
    ), "{md}");
    assert!(md.contains("Goal (issue 3): committed TPS ≥ 18000.0 (75.0 % of the crypto bound"));
    assert!(md.contains(
        "| erc20 (open) | committed TPS | 2500.2 | ≥ 7200.0 (30.0 %) | **no** | ≥ 18000.0 (75.0 %) | **no** |"
    ));
    assert!(
        md.contains("10000.0 secp256k1 recoveries/s per core, and 12000.0 after the nodes stopped")
    );
    // 4995.5 ÷ (12,000 × 2) = 20.8 %, not ÷ the start's 10,000.
    assert!(md.contains("| transfer | 4995.5 | 20.8 % |"), "{md}");
}

/// Readings taken between workloads are shown and judged with the others, and a spread wider
/// than one reading's noise is called out.
#[test]
fn bound_readings_between_workloads_are_judged_and_their_spread_noted() {
    let mut r = full_run();
    r.nodes = 1;
    r.crypto_bound_recoveries_per_s_per_core = 12_000.0;
    r.crypto_bound_between_recoveries_per_s_per_core = vec![19_000.0, 13_000.0];
    r.crypto_bound_end_recoveries_per_s_per_core = Some(12_500.0);
    assert_eq!(r.crypto_bound_per_core(), 19_000.0);
    let md = markdown::render(&r, &[]);
    assert!(md.contains(
        "12000.0 secp256k1 recoveries/s per core; before each later workload, with the nodes idle: 19000.0, 13000.0; and 12500.0 after the nodes stopped"
    ), "{md}");
    assert!(
        md.contains("use the highest: **19000.0 recoveries/s per core**"),
        "{md}"
    );
    assert!(
        md.contains("**The readings spread from 12000.0 to 19000.0 (58 % apart)**"),
        "{md}"
    );
    // 4995.5 ÷ (19,000 × 2) = 13.1 %.
    assert!(md.contains("| transfer | 4995.5 | 13.1 % |"), "{md}");

    r.crypto_bound_between_recoveries_per_s_per_core = vec![12_400.0];
    r.crypto_bound_threads = 2;
    let md = markdown::render(&r, &[]);
    assert!(!md.contains("The readings spread"), "{md}");
    assert!(
        md.contains(
            "Each reading ran one thread per core, on all 2 cores at once, and is their sum ÷ 2."
        ),
        "{md}"
    );
}

#[test]
fn efficiency_needs_a_bound() {
    assert_eq!(markdown::efficiency_ratio(1000.0, 4, 0.0, 2), None);
    assert_eq!(markdown::efficiency_ratio(1000.0, 4, 25000.0, 0), None);
    let e = markdown::efficiency_ratio(25000.0, 2, 25000.0, 2).expect("bound known");
    assert!((e - 1.0).abs() < 1e-12);
}

#[test]
fn folded_flamegraph_is_rendered_and_linked() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let folded = tmp.path().join("tracing.folded");
    std::fs::write(
        &folded,
        "node;admit;recover 300\nnode;execute 500\nnode;commit;fsync 200\n",
    )?;
    let mut run = bare_run();
    run.flamegraph = Some(folded.to_string_lossy().into_owned());
    let dir = write(&tmp.path().join("reports"), &run)?;
    let svg = read(&dir, flame::FLAMEGRAPH_SVG);
    assert_svg(&svg, "flamegraph");
    assert!(svg.contains("recover") && svg.contains("execute"));
    let back = json::read(&dir.join(json::RESULTS_JSON))?;
    assert_eq!(back.flamegraph.as_deref(), Some(flame::FLAMEGRAPH_SVG));
    assert!(read(&dir, REPORT_MD).contains("[flamegraph.svg](flamegraph.svg)"));
    Ok(())
}

#[test]
fn unreadable_flamegraph_is_dropped_not_fatal() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut run = bare_run();
    run.flamegraph = Some(
        tmp.path()
            .join("missing.folded")
            .to_string_lossy()
            .into_owned(),
    );
    let dir = write(tmp.path(), &run)?;
    assert_eq!(json::read(&dir.join(json::RESULTS_JSON))?.flamegraph, None);
    assert!(!read(&dir, REPORT_MD).contains("Flame graph"));
    Ok(())
}

#[test]
fn flame_renders_tiny_input_and_rejects_empty() -> anyhow::Result<()> {
    let svg = String::from_utf8(flame::render_folded("a;b;c 3\na;b 1\n")?)?;
    assert_svg(&svg, "flamegraph");
    assert!(svg.contains(">c<") || svg.contains("c (") || svg.contains(">c "));
    assert!(flame::render_folded("").is_err());
    Ok(())
}

#[test]
fn criterion_reader_finds_latest_results() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let crit = tmp.path().join("criterion");
    let bench = |rel: &str, mean: f64, bench_json: Option<&str>| -> anyhow::Result<()> {
        let new = crit.join(rel).join("new");
        std::fs::create_dir_all(&new)?;
        std::fs::write(
            new.join("estimates.json"),
            format!(
                r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{mean},"standard_error":1.0}},"median":{{"point_estimate":1.0}}}}"#
            ),
        )?;
        if let Some(b) = bench_json {
            std::fs::write(new.join("benchmark.json"), b)?;
        }
        Ok(())
    };
    bench(
        "recover/batch_rayon",
        2_000_000.0,
        Some(
            r#"{"group_id":"recover","function_id":"batch_rayon","value_str":null,"throughput":{"Elements":1000},"full_id":"recover/batch_rayon","directory_name":"recover/batch_rayon","title":"recover/batch_rayon"}"#,
        ),
    )?;
    bench(
        "keccak/size/32",
        380.0,
        Some(
            r#"{"group_id":"keccak","function_id":"size","value_str":"32","throughput":{"Bytes":32}}"#,
        ),
    )?;
    bench("tx/new", 1500.0, None)?; // a bench named "new", without benchmark.json

    // An old baseline and a malformed result are not "latest" results.
    std::fs::create_dir_all(crit.join("recover/batch_rayon/base"))?;
    std::fs::write(
        crit.join("recover/batch_rayon/base/estimates.json"),
        r#"{"mean":{"point_estimate":9.0}}"#,
    )?;
    std::fs::create_dir_all(crit.join("broken/new"))?;
    std::fs::write(crit.join("broken/new/estimates.json"), "{not json")?;

    let found = criterion::latest_criterion_results(&crit);
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["keccak/size/32", "recover/batch_rayon", "tx/new"]);
    assert_eq!(found[0].throughput_per_s, None);
    assert_eq!(found[1].mean_ns, 2_000_000.0);
    let thr = found[1].throughput_per_s.expect("elements throughput");
    assert!((thr - 500_000.0).abs() < 1e-6);
    assert_eq!(found[2].mean_ns, 1500.0);
    assert!(criterion::latest_criterion_results(&tmp.path().join("absent")).is_empty());
    assert!(found.iter().all(|c| c.measured_utc.is_some()));
    Ok(())
}

#[test]
fn chart_without_positive_latencies_is_skipped() -> anyhow::Result<()> {
    let mut r = bare_run();
    r.workloads[0].latency_cdf = vec![(0.0, 0.5), (f64::NAN, 1.0)];
    assert!(charts::latency_cdf(&r)?.is_none());
    r.workloads[0].tps_timeline = vec![0.0, 0.0];
    assert_svg(
        &charts::tps_timeline(&r)?.expect("all-zero timeline still drawn"),
        "timeline",
    );
    Ok(())
}

proptest::proptest! {
    /// results.json reads back to the very values written, for any finite numbers and any text.
    #[test]
    fn results_json_round_trips_any_finite_values(
        tps in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        lat in proptest::collection::vec(proptest::num::f64::POSITIVE | proptest::num::f64::NORMAL, 5),
        cdf in proptest::collection::vec((proptest::num::f64::ANY, proptest::num::f64::ANY), 0..8),
        name in ".*",
        count in proptest::num::u64::ANY,
    ) {
        let cdf: Vec<(f64, f64)> = cdf.into_iter().filter(|(a, b)| a.is_finite() && b.is_finite()).collect();
        let mut run = full_run();
        run.profile = name.clone();
        run.crypto_bound_recoveries_per_s_per_core = tps;
        let w = &mut run.workloads[0];
        w.workload = name;
        w.committed_tps = tps;
        w.committed = count;
        w.latency_ms = LatencySummary { p50: lat[0], p90: lat[1], p99: lat[2], p999: lat[3], max: lat[4] };
        w.latency_cdf = cdf;
        let text = json::to_string(&run).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let back: RunResults = serde_json::from_str(&text)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(back, run);
    }
}

/// A run spread over groups shows the group count and each group's committed TPS; a
/// single-group run renders no groups section at all.
#[test]
fn groups_are_reported_when_there_are_several() -> anyhow::Result<()> {
    let single = markdown::render(&full_run(), &[]);
    assert!(!single.contains("## Groups"));
    assert!(!single.contains("summed over the groups"));
    assert!(single.contains("Cluster: 4 node(s), pbft consensus.\n"));

    let mut r = full_run();
    r.groups = 4;
    for w in &mut r.workloads {
        w.groups = 4;
        w.per_group_committed_tps = vec![1250.0, 1248.5, 1249.0, 1248.0];
    }
    let md = markdown::render(&r, &[]);
    assert!(
        md.contains("Cluster: 4 node(s), pbft consensus, 4 groups"),
        "{md}"
    );
    assert!(md.contains("## Groups"));
    assert!(md.contains("also summed over the groups"));
    assert!(
        md.contains("| transfer | open | 4 | 4995.5 | 1250.0, 1248.5, 1249.0, 1248.0 | 1.00 |"),
        "{md}"
    );
    // results.json keeps the fields, and one from before groups reads back as one group.
    let tmp = tempfile::tempdir()?;
    let dir = write(tmp.path(), &r)?;
    assert_eq!(json::read(&dir.join(json::RESULTS_JSON))?, r);
    let mut old = serde_json::to_value(full_run())?;
    let obj = old.as_object_mut().expect("object");
    obj.remove("groups");
    for w in obj["workloads"].as_array_mut().expect("array") {
        let w = w.as_object_mut().expect("object");
        w.remove("groups");
        w.remove("per_group_committed_tps");
    }
    let back: RunResults = serde_json::from_value(old)?;
    assert_eq!(back.groups, 1);
    assert_eq!(back.workloads[0].groups, 1);
    assert!(back.workloads[0].per_group_committed_tps.is_empty());
    Ok(())
}
