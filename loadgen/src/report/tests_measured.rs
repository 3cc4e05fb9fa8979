//! Report sections that say only what was measured (issue 9): n/a for a stage without items,
//! a knee the saturation search did not reach, measured recoveries beside the efficiency
//! formula, the I/O backend as run, and results.json files written before these existed.

use super::tests::full_run;
use super::*;
use crate::results::*;

pub(super) fn render_md(r: &RunResults) -> String {
    markdown::render(r, &[])
}

/// A stage that recorded no items has no per-item cost: "n/a", not "0.00".
#[test]
fn a_stage_without_items_renders_na() {
    let mut r = full_run();
    let consensus = r.workloads[0]
        .stages
        .iter_mut()
        .find(|s| s.stage == "consensus")
        .expect("consensus stage");
    consensus.items = 0;
    consensus.busy_ms = 5;
    consensus.per_item_us = 0.0;
    let md = render_md(&r);
    assert!(
        md.contains("| transfer | consensus | 0 | 5 | n/a |"),
        "{md}"
    );
    assert!(!md.contains("| transfer | consensus | 0 | 5 | 0.00 |"));
}

/// A search that ran out of steps while every step followed reports a lower bound.
#[test]
fn a_capped_search_renders_knee_not_reached() {
    let mut r = full_run();
    let w = &mut r.workloads[0];
    w.saturation = vec![(2000.0, 2004.0), (2500.0, 2497.0), (3125.0, 3125.2)];
    w.knee_tps = Some(3125.0);
    w.saturation_end = Some(SaturationEnd::StepsExhausted);
    let md = render_md(&r);
    assert!(
        md.contains("| transfer | knee not reached; ≥ 3125.0 | 3125.2 | 2000.0 → 2004.0"),
        "{md}"
    );
    let svg = charts::saturation(&r).expect("chart").expect("chart drawn");
    assert!(
        svg.contains("knee not reached"),
        "the chart marks a bound, not a knee"
    );

    r.workloads[0].saturation_end = Some(SaturationEnd::KneeFound);
    assert!(render_md(&r).contains("| transfer | 3125.0 | 3125.2 |"));

    let w = &mut r.workloads[0];
    w.saturation = vec![(2000.0, 1500.0)];
    w.knee_tps = None;
    w.saturation_end = Some(SaturationEnd::FirstStepSaturated);
    assert!(render_md(&r).contains("| transfer | below the first step (< 2000.0) |"));
}

/// The efficiency table shows the recoveries the nodes measured beside the formula's one.
#[test]
fn efficiency_shows_measured_recoveries_per_tx() {
    let mut r = full_run();
    r.nodes = 3;
    let w = &mut r.workloads[0];
    w.committed = 41_426;
    w.committed_tps = 6904.3;
    for s in &mut w.stages {
        if s.stage == "recover" {
            s.items = 216_724;
        }
    }
    // 216724 ÷ (41426 × 3) = 1.744; 6904.3 × 3 ÷ (26100 × 2) = 39.7 %.
    assert_eq!(
        r.workloads[0]
            .recoveries_per_tx_per_node(3)
            .map(|k| (k * 1000.0).round()),
        Some(1744.0)
    );
    let md = render_md(&r);
    assert!(md.contains("| transfer | 6904.3 | 39.7 % | 1.74 |"), "{md}");
    assert!(md.contains("recoveries per tx per node (measured)"));
    // No recover stage: nothing measured, nothing claimed.
    r.workloads[0].stages.retain(|s| s.stage != "recover");
    assert!(render_md(&r).contains("| transfer | 6904.3 | 39.7 % | n/a |"));
}

#[test]
fn io_backends_are_listed_per_node_when_they_differ() {
    let mut r = full_run();
    r.environment.io_backends = vec!["io_uring".into(), "std".into()];
    let md = render_md(&r);
    assert!(md.contains("| storage I/O backend (as run) | node 0: io_uring, node 1: std |"));
    r.environment.io_backends.clear();
    assert!(render_md(&r).contains("| storage I/O backend (as run) | not recorded |"));
}

#[test]
fn the_page_cache_written_back_before_the_run_is_shown_when_recorded() {
    let mut r = full_run();
    let row = "| dirty page cache written back before the nodes started | 512 MiB |";
    assert!(render_md(&r).contains(row));
    r.environment.page_cache_written_back_mib = None;
    assert!(!render_md(&r).contains("dirty page cache"));
}

/// A results.json written before goals, provenance, backends and the search's end were kept
/// (the raft3 reference report of d84dadc, trimmed) still reads, and renders what it cannot
/// know as unknown instead of as this report's.
#[test]
fn results_recorded_before_these_fields_still_read() -> anyhow::Result<()> {
    let old: RunResults =
        serde_json::from_str(include_str!("testdata/raft3-d84dadc-results.json"))?;
    assert_eq!(old.goal, None);
    assert!(old.checks.is_empty() && old.environment.io_backends.is_empty());
    assert_eq!(old.environment.page_cache_written_back_mib, None);
    assert!(old
        .criterion
        .iter()
        .all(|c| c.origin == BenchOrigin::Unknown));
    let sat = &old.workloads[2];
    assert_eq!(sat.saturation_end, None);
    assert_eq!(sat.saturation_end(), Some(SaturationEnd::StepsExhausted));
    let md = render_md(&old);
    assert!(
        md.contains("| transfer | knee not reached; ≥ 4882.8 |"),
        "{md}"
    );
    assert!(md.contains("| transfer | consensus | 0 | 5 | n/a |"));
    assert!(md.contains("| transfer | 6904.3 | 63.9 % | 1.74 |"));
    assert!(md.contains("| block_append/io_uring | 242.05 µs | 4131.3/s | unknown commit |"));
    assert!(md.contains("Goal: none stated in the profile."));
    assert!(!md.contains("## Thresholds and goal"));
    Ok(())
}
