//! Criterion results with the commit and time they were measured at: the bench run that wrote
//! each result, how its commit relates to the report's, and how the table marks it.

use std::path::Path;

use super::tests::full_run;
use super::tests_measured::render_md;
use super::*;
use crate::results::*;

fn bench_result(
    id: &str,
    provenance: Option<(&str, bool)>,
    origin: BenchOrigin,
) -> CriterionResult {
    CriterionResult {
        id: id.to_string(),
        mean_ns: 1000.0,
        throughput_per_s: None,
        measured_utc: Some("2026-11-20T08:00:00Z".to_string()),
        provenance: provenance.map(|(commit, dirty)| BenchProvenance {
            bench: "evm".to_string(),
            commit: commit.to_string(),
            dirty,
        }),
        origin,
    }
}

/// A result from another commit, or of unknown provenance, is never shown as the report's.
#[test]
fn results_from_other_commits_are_marked() {
    let mut r = full_run();
    r.criterion = vec![
        bench_result(
            "a/older",
            Some(("d84dadc7325937131dae7348f5ec4d97c362c852", false)),
            BenchOrigin::OlderCommit,
        ),
        bench_result(
            "b/other",
            Some(("9a3e3d8000000000000000000000000000000000", true)),
            BenchOrigin::OtherCommit,
        ),
        bench_result("c/unknown", None, BenchOrigin::Unknown),
        // An origin without the run it came from is not trusted either.
        bench_result("d/claims", None, BenchOrigin::ThisCommit),
    ];
    let md = render_md(&r);
    assert!(
        md.contains("| a/older | 1.00 µs | – | older: commit d84dadc, 2026-11-20T08:00:00Z |"),
        "{md}"
    );
    assert!(md
        .contains("| b/other | 1.00 µs | – | other: commit 9a3e3d8-dirty, 2026-11-20T08:00:00Z |"));
    assert!(
        md.contains("| c/unknown | 1.00 µs | – | unknown commit, written 2026-11-20T08:00:00Z |")
    );
    assert!(
        md.contains("| d/claims | 1.00 µs | – | unknown commit, written 2026-11-20T08:00:00Z |")
    );
    assert!(md.contains("0 of 4 results were measured at this report's commit"));
    assert!(!md.contains("this commit,"));
}

#[test]
fn origin_compares_the_bench_commit_with_the_report() {
    let head = "8a1111c0ffee1234567890abcdef1234567890ab";
    let prov = |commit: &str, dirty: bool| BenchProvenance {
        bench: "recover".into(),
        commit: commit.into(),
        dirty,
    };
    let ancestors = |c: &str| c == head || c == "0123abc";
    let origin =
        |p: Option<&BenchProvenance>, report: &str| provenance::origin(p, report, &ancestors);
    assert_eq!(
        origin(Some(&prov(head, false)), head),
        BenchOrigin::ThisCommit
    );
    assert_eq!(
        origin(Some(&prov("0123abc", false)), head),
        BenchOrigin::OlderCommit
    );
    assert_eq!(
        origin(Some(&prov("fedcba9", false)), head),
        BenchOrigin::OtherCommit
    );
    // A dirty tree is no commit's code, even at the report's sha.
    assert_eq!(
        origin(Some(&prov(head, true)), head),
        BenchOrigin::OtherCommit
    );
    // The report's own tree is dirty: a clean run at its sha measured its base, an older state.
    let dirty_report = format!("{head}-dirty");
    assert_eq!(
        origin(Some(&prov(head, false)), &dirty_report),
        BenchOrigin::OlderCommit
    );
    assert_eq!(origin(None, head), BenchOrigin::Unknown);
    assert_eq!(
        origin(Some(&prov(head, false)), "unknown"),
        BenchOrigin::OlderCommit
    );
}

fn set_mtime(path: &Path, unix_ms: u64) -> anyhow::Result<()> {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(t)?;
    Ok(())
}

/// Each result takes the commit of the bench run whose interval holds the moment criterion
/// wrote it; a result no recorded run covers is of unknown commit.
#[test]
fn results_take_the_commit_of_the_run_that_wrote_them() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let crit = tmp.path().join("criterion");
    let write_result = |rel: &str, written_ms: u64| -> anyhow::Result<()> {
        let new = crit.join(rel).join("new");
        std::fs::create_dir_all(&new)?;
        let est = new.join("estimates.json");
        std::fs::write(&est, r#"{"mean":{"point_estimate":1000.0}}"#)?;
        set_mtime(&est, written_ms)
    };
    // 2026-11-20T08:00:00Z .. +60 s: evm at an older commit; 09:00 .. +60 s: recover at HEAD.
    let t0 = 1_795_161_600_000u64;
    let t1 = t0 + 3_600_000;
    write_result("evm/eth_transfer", t0 + 30_000)?;
    write_result("recover/one_at_a_time", t1 + 59_000)?;
    write_result("bls/sign_vote", t1 + 120_000)?; // after every recorded run
    let head = "8a1111c0ffee1234567890abcdef1234567890ab";
    let log = format!(
        "{{\"bench\":\"evm\",\"commit\":\"0123abc0000000000000000000000000000000ff\",\"dirty\":false,\"started_unix_ms\":{t0},\"finished_unix_ms\":{}}}\n\
         not json: a torn line\n\
         {{\"bench\":\"recover\",\"commit\":\"{head}\",\"dirty\":false,\"started_unix_ms\":{t1},\"finished_unix_ms\":{},\"started_utc\":\"ignored\"}}\n",
        t0 + 60_000,
        t1 + 60_000
    );
    std::fs::write(crit.join(provenance::PROVENANCE_FILE), log)?;

    let is_ancestor = |c: &str| c.starts_with("0123abc") || c == head;
    let found = criterion::results_with_provenance(&crit, head, &is_ancestor);
    let by_id = |id: &str| found.iter().find(|c| c.id == id).expect(id);
    let evm = by_id("evm/eth_transfer");
    assert_eq!(evm.origin, BenchOrigin::OlderCommit);
    assert_eq!(
        evm.provenance.as_ref().map(|p| p.bench.as_str()),
        Some("evm")
    );
    assert_eq!(evm.measured_utc.as_deref(), Some("2026-11-20T08:00:30Z"));
    assert_eq!(
        markdown::measured_at(evm),
        "older: commit 0123abc, 2026-11-20T08:00:30Z"
    );
    let recover = by_id("recover/one_at_a_time");
    assert_eq!(recover.origin, BenchOrigin::ThisCommit);
    assert_eq!(
        markdown::measured_at(recover),
        "this commit, 2026-11-20T09:00:59Z"
    );
    let bls = by_id("bls/sign_vote");
    assert_eq!((bls.origin, &bls.provenance), (BenchOrigin::Unknown, &None));
    assert_eq!(
        markdown::measured_at(bls),
        "unknown commit, written 2026-11-20T09:02:00Z"
    );

    // Without a log nothing is attributed.
    std::fs::remove_file(crit.join(provenance::PROVENANCE_FILE))?;
    let found = criterion::results_with_provenance(&crit, head, &is_ancestor);
    assert!(found.iter().all(|c| c.origin == BenchOrigin::Unknown));
    Ok(())
}
