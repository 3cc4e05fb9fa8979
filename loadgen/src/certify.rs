//! `loadgen certify`: compare this machine with a hardware profile, measure the crypto bound,
//! start the nodes with the profile's settings, run every workload, check the thresholds,
//! and hand [`RunResults`] to the report writer.
//!
//! Threshold rules (hardware-profiles/README.md): `min_tps` is checked against the committed
//! TPS of closed-loop workloads and the knee of saturation searches; `max_latency_ms_p99`
//! against the p99 of open-loop workloads (and it bounds saturation steps). Open-loop
//! workloads must also commit ≥ 90 % of what they offer, and no workload may lose more than
//! [`ERROR_FRACTION_MAX`] of its transactions.

use crate::machine;
use crate::profile::{Mode, Profile, ThresholdSpec, WorkloadSpec};
use crate::progress::note;
use crate::results::{RunResults, Thresholds, WorkloadResult};
use crate::target::{EmbeddedOptions, Target};
use crate::{cryptobound, report, runner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Share of a workload's window transactions that may be refused or left uncommitted.
pub const ERROR_FRACTION_MAX: f64 = 0.01;
/// Share of the offered rate an open-loop workload must commit.
pub const OPEN_LOOP_FOLLOW_MIN: f64 = 0.9;

#[derive(Debug, Clone)]
pub struct CertifyOptions {
    pub profile: PathBuf,
    pub out_dir: PathBuf,
    pub flame: bool,
    pub bcos_bin: Option<PathBuf>,
    /// Existing nodes instead of embedded ones.
    pub urls: Vec<String>,
}

/// Runs the certification; returns the results and the report directory.
pub fn certify(o: &CertifyOptions) -> anyhow::Result<(RunResults, PathBuf)> {
    let started = Instant::now();
    let profile = Profile::load(&o.profile)?;
    let m = machine::detect();
    let mismatches = machine::compare(&profile.machine, &m);
    for mm in &mismatches {
        eprintln!(
            "WARNING: this machine differs from profile {}: {mm}",
            profile.name
        );
    }
    note("measuring the crypto bound (secp256k1 recoveries on one core)");
    let bound = cryptobound::recoveries_per_s(Duration::from_millis(cryptobound::MEASURE_MS))?;
    note(&format!("crypto bound: {bound:.0} recoveries/s per core"));

    let flame_dir = if o.flame {
        Some(tempfile::Builder::new().prefix("bcos-flame-").tempdir()?)
    } else {
        None
    };
    let target = if o.urls.is_empty() {
        let opts = EmbeddedOptions {
            bin: o.bcos_bin.clone(),
            flame_dir: flame_dir.as_ref().map(|d| d.path().to_path_buf()),
        };
        Target::embedded(&profile.node, &opts)?
    } else {
        if o.flame {
            note("warning: --flame needs embedded nodes; ignored with --url");
        }
        Target::remote(&o.urls)?
    };
    let node_settings = if o.urls.is_empty() {
        target.node_config.clone()
    } else {
        format!(
            "# remote nodes ({}); the profile's settings, not verified on the nodes\n{}",
            o.urls.join(", "),
            toml::to_string(&profile.node.settings).unwrap_or_default()
        )
    };
    let p99_max = profile.thresholds.max_latency_ms_p99;
    let mut workloads = Vec::new();
    let mut failures = Vec::new();
    for spec in &profile.workloads {
        let r = runner::run_workload(&target, spec, spec.max_latency_ms_p99.unwrap_or(p99_max))?;
        println!("{}", one_line(&r));
        failures.extend(check(spec, &r, &profile.thresholds));
        workloads.push(r);
    }
    let flames = target.stop()?;
    let flamegraph = match (o.flame, flames.first()) {
        (true, None) => {
            note("warning: --flame: the node wrote no folded stacks (does this bcos build read BCOS_FLAME_FILE?)");
            None
        }
        (_, f) => f.map(|p| p.display().to_string()),
    };
    let results = RunResults {
        profile: profile.name.clone(),
        thresholds: Thresholds {
            min_tps: profile.thresholds.min_tps,
            max_latency_ms_p99: profile.thresholds.max_latency_ms_p99,
        },
        environment: machine::environment(&m, node_settings, mismatches),
        crypto_bound_recoveries_per_s_per_core: bound,
        nodes: profile.node.nodes,
        consensus: profile.node.consensus.clone(),
        workloads,
        criterion: report::criterion::latest_criterion_results(&target_dir()),
        flamegraph,
        passed: failures.is_empty(),
        failures,
    };
    std::fs::create_dir_all(&o.out_dir)?;
    let dir = report::write(&o.out_dir, &results)?;
    drop(flame_dir);
    note(&format!(
        "certify finished in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok((results, dir))
}

/// The build's target dir, where criterion results live.
fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return t.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// A workload result as one line for the console.
pub fn one_line(r: &WorkloadResult) -> String {
    let knee = r
        .knee_tps
        .map(|k| format!(", knee {k:.0}/s"))
        .unwrap_or_default();
    format!(
        "{} ({}): offered {:.0}/s, committed {:.0}/s ({} in {:.1} s), p50 {:.1} ms, p99 {:.1} ms, errors {}{knee}",
        r.workload, r.mode, r.offered_tps, r.committed_tps, r.committed, r.window_s, r.latency_ms.p50, r.latency_ms.p99, r.errors
    )
}

/// Missed thresholds of one workload, one sentence each.
pub fn check(spec: &WorkloadSpec, r: &WorkloadResult, global: &ThresholdSpec) -> Vec<String> {
    let min_tps = spec.min_tps.unwrap_or(global.min_tps);
    let p99_max = spec.max_latency_ms_p99.unwrap_or(global.max_latency_ms_p99);
    let name = &r.workload;
    let mut out = Vec::new();
    if spec.saturation {
        let knee = r.knee_tps.unwrap_or(0.0);
        if knee < min_tps {
            out.push(format!(
                "{name}: saturation knee {knee:.0} tx/s is below min_tps {min_tps:.0}"
            ));
        }
    } else if spec.mode == Mode::Closed {
        if r.committed_tps < min_tps {
            out.push(format!(
                "{name}: committed {:.0} tx/s is below min_tps {min_tps:.0}",
                r.committed_tps
            ));
        }
    } else {
        if p99_max > 0.0 && r.latency_ms.p99 > p99_max {
            out.push(format!(
                "{name}: p99 latency {:.1} ms is above max_latency_ms_p99 {p99_max:.1}",
                r.latency_ms.p99
            ));
        }
        if r.committed_tps < OPEN_LOOP_FOLLOW_MIN * r.offered_tps {
            out.push(format!(
                "{name}: committed {:.0} tx/s of {:.0} offered (below {:.0} %)",
                r.committed_tps,
                r.offered_tps,
                OPEN_LOOP_FOLLOW_MIN * 100.0
            ));
        }
    }
    if r.errors as f64 > ERROR_FRACTION_MAX * r.submitted.max(1) as f64 {
        out.push(format!(
            "{name}: {} of {} window transactions refused or never committed",
            r.errors, r.submitted
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::LatencySummary;

    fn result(mode: &str, offered: f64, committed: f64, p99: f64, errors: u64) -> WorkloadResult {
        WorkloadResult {
            workload: "transfer".into(),
            mode: mode.into(),
            offered_tps: offered,
            committed_tps: committed,
            submitted: 1000,
            committed: 1000,
            errors,
            window_s: 1.0,
            latency_ms: LatencySummary {
                p99,
                ..Default::default()
            },
            latency_cdf: vec![],
            tps_timeline: vec![],
            saturation: vec![],
            knee_tps: None,
            stages: vec![],
            node_usage: vec![],
        }
    }

    #[test]
    fn thresholds_apply_per_mode() {
        let g = ThresholdSpec {
            min_tps: 10_000.0,
            max_latency_ms_p99: 200.0,
        };
        let closed = WorkloadSpec {
            concurrency: Some(1000),
            ..WorkloadSpec::new("transfer", Mode::Closed)
        };
        assert!(check(&closed, &result("closed", 12_000.0, 12_000.0, 900.0, 0), &g).is_empty());
        assert_eq!(
            check(&closed, &result("closed", 9_000.0, 9_000.0, 1.0, 0), &g).len(),
            1
        );
        let open = WorkloadSpec {
            rate: Some(5000.0),
            ..WorkloadSpec::new("transfer", Mode::Open)
        };
        assert!(check(&open, &result("open", 5000.0, 4990.0, 150.0, 0), &g).is_empty());
        assert_eq!(
            check(&open, &result("open", 5000.0, 4000.0, 250.0, 50), &g).len(),
            3
        );
        let relaxed = WorkloadSpec {
            max_latency_ms_p99: Some(300.0),
            ..open
        };
        assert!(check(&relaxed, &result("open", 5000.0, 4990.0, 250.0, 0), &g).is_empty());
    }
}
