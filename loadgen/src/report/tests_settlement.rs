//! The high-frequency accounts section: rendered for workloads run over user chains, with
//! the per-chain TPS, the settlement lag and the conservation outcome; a violation is shown.

use super::tests::full_run;
use super::*;
use crate::results::{LatencySummary, RunResults, SettlementResult};

fn settled_run(held: bool) -> RunResults {
    let mut r = full_run();
    r.groups = 3;
    r.user_chains = 2;
    for w in &mut r.workloads {
        w.groups = 2;
        w.per_group_committed_tps = vec![2500.0, 2495.5];
        w.settlement = Some(SettlementResult {
            user_chains: 2,
            merchant: "0xb5b97b2344f794a1036e1b705e33a6cb960c53ac".into(),
            lag_ms: LatencySummary {
                p50: 612.4,
                p90: 1000.0,
                p99: 1433.6,
                p999: 1500.0,
                max: 1588.0,
            },
            lag_payments: 29_973,
            uncredited: 0,
            records_credited: 13,
            conservation_held: held,
            conservation: if held {
                "merchant credited 40000 wei ... == 40000 wei paid".into()
            } else {
                "conservation violated (XS-S2): ... went from 0 to 39999 wei".into()
            },
            paid_wei: "40000".into(),
            credited_wei: if held { "40000" } else { "39999" }.into(),
            payments: 40_000,
            settle_wait_s: 1.25,
        });
    }
    r
}

#[test]
fn user_chains_get_their_own_section() -> anyhow::Result<()> {
    let plain = markdown::render(&full_run(), &[]);
    assert!(!plain.contains("## High-frequency accounts"));

    let r = settled_run(true);
    let md = markdown::render(&r, &[]);
    assert!(
        md.contains("3 groups: the merchant chain (group 0) and 2 user chains"),
        "{md}"
    );
    assert!(md.contains("## High-frequency accounts"), "{md}");
    assert!(
        !md.contains("## Groups"),
        "user chains are not reported twice: {md}"
    );
    assert!(
        md.contains("| transfer | open | 2 | 4995.5 | 2500.0, 2495.5 | 12.50 / 97.12 | 612 | 1434 | 1588 | 29973 | 13 | held |"),
        "{md}"
    );
    assert!(md.contains("waited 1.2 s for the last settlement"), "{md}");
    // results.json keeps it; results from before settlement read back without it.
    let tmp = tempfile::tempdir()?;
    let dir = write(tmp.path(), &r)?;
    assert_eq!(json::read(&dir.join(json::RESULTS_JSON))?, r);
    let mut old = serde_json::to_value(full_run())?;
    let obj = old
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("not an object"))?;
    obj.remove("user_chains");
    let back: RunResults = serde_json::from_value(old)?;
    assert_eq!(
        (back.user_chains, back.workloads[0].settlement.is_none()),
        (0, true)
    );
    Ok(())
}

#[test]
fn a_conservation_violation_is_shown() {
    let md = markdown::render(&settled_run(false), &[]);
    assert!(md.contains("| **VIOLATED** |"), "{md}");
    assert!(md.contains("conservation violated (XS-S2)"), "{md}");
}

#[test]
fn the_user_chains_sweep_is_a_table_of_payment_tps_against_u() -> anyhow::Result<()> {
    let md = markdown::render(&settled_run(true), &[]);
    assert!(!md.contains("Payment TPS against user chains"), "{md}");

    let mut r = settled_run(true);
    r.groups = 5;
    r.user_chains = 4;
    let template = r.workloads[0].clone();
    for (u, t, held) in [(1, 6000.0, true), (2, 5040.0, true), (4, 4300.0, false)] {
        let mut w = template.clone();
        w.mode = "closed".into();
        w.committed_tps = t;
        w.per_group_committed_tps = vec![t / u as f64; u];
        if let Some(s) = w.settlement.as_mut() {
            s.user_chains = u;
            s.conservation_held = held;
            s.lag_ms.p50 = 400.0 + u as f64;
        }
        r.user_chains_sweep.push(w);
    }
    let md = markdown::render(&r, &[]);
    assert!(md.contains("### Payment TPS against user chains"), "{md}");
    assert!(
        md.contains("(U = 4 is the run above); not judged against the thresholds"),
        "{md}"
    );
    for row in [
        "| transfer | 1 | 6000.0 | 1.00 | 6000.0 | 97.12 | 401 | 1434 | held |",
        "| transfer | 2 | 5040.0 | 0.84 | 2520.0, 2520.0 | 97.12 | 402 | 1434 | held |",
        "| transfer | 4 | 4300.0 | 0.72 | 1075.0, 1075.0, 1075.0, 1075.0 | 97.12 | 404 | 1434 | **VIOLATED** |",
    ] {
        assert!(md.contains(row), "{row}\n{md}");
    }
    // results.json keeps the sweep; without one it writes nothing and reads back empty.
    let tmp = tempfile::tempdir()?;
    let dir = write(tmp.path(), &r)?;
    assert_eq!(json::read(&dir.join(json::RESULTS_JSON))?, r);
    let plain = serde_json::to_value(settled_run(true))?;
    assert!(plain.get("user_chains_sweep").is_none());
    Ok(())
}
