//! `loadgen certify`: compare this machine with a hardware profile, measure the crypto bound,
//! start the nodes with the profile's settings, run every workload, check the thresholds,
//! and hand [`RunResults`] to the report writer. The threshold and goal rules are in
//! [`verdict`].

use crate::profile::{full_efficiency_tps, Profile};
use crate::progress::note;
use crate::results::{
    judged_bound, saturation_tps, RunResults, SaturationEnd, Thresholds, WorkloadResult,
};
use crate::target::{EmbeddedOptions, Target};
use crate::verdict::{check, target_check, Judged};
use crate::{cryptobound, machine, node_info, report, runner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CertifyOptions {
    pub profile: PathBuf,
    pub out_dir: PathBuf,
    pub flame: bool,
    pub bcos_bin: Option<PathBuf>,
    /// Existing nodes instead of embedded ones.
    pub urls: Vec<String>,
    /// Overrides the profile's `[node] groups` (issue 13).
    pub groups: Option<usize>,
    /// Overrides the profile's `[node] user_chains` (issue 14).
    pub user_chains: Option<usize>,
}

/// Runs the certification; returns the results and the report directory.
pub fn certify(o: &CertifyOptions) -> anyhow::Result<(RunResults, PathBuf)> {
    let started = Instant::now();
    let mut profile = Profile::load(&o.profile)?;
    if let Some(g) = o.groups {
        apply_groups(&mut profile, g, !o.urls.is_empty()).map_err(crate::UsageError)?;
    }
    if let Some(u) = o.user_chains {
        apply_user_chains(&mut profile, u, !o.urls.is_empty()).map_err(crate::UsageError)?;
    }
    if profile.node.user_chains > 0 {
        note(&format!(
            "high-frequency accounts: merchant chain (group 0) and {} user chains; the load goes to the user chains",
            profile.node.user_chains
        ));
    } else if profile.node.groups > 1 {
        note(&format!(
            "{} groups: each workload's load is split evenly over them",
            profile.node.groups
        ));
    }
    let m = machine::detect();
    let mismatches = machine::compare(&profile.machine, &m);
    for mm in &mismatches {
        eprintln!(
            "WARNING: this machine differs from profile {}: {mm}",
            profile.name
        );
    }
    let bound = read_bound("at the start", cryptobound::MEASURE_MS, m.cores)?;
    let start_full_tps = full_efficiency_tps(bound, m.cores, profile.node.nodes);
    for w in &mut profile.workloads {
        w.resolve_rate(start_full_tps);
        if let (Some(e), Some(rate)) = (w.rate_efficiency, w.rate) {
            note(&format!(
                "{}: offered rate {:.1} % of the bound: {rate:.0} tx/s",
                w.name,
                e * 100.0
            ));
        }
    }

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
        Target::remote(&o.urls, profile.node.groups, profile.node.user_chains)?
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
    let io_backends = if target.is_bcos() {
        node_info::io_backends(target.urls())
    } else {
        vec![node_info::UNKNOWN.to_string(); target.urls().len()]
    };
    let p99_max = profile.thresholds.max_latency_ms_p99;
    let mut workloads: Vec<WorkloadResult> = Vec::new();
    let mut bound_between = Vec::new();
    for spec in &mut profile.workloads {
        if !workloads.is_empty() {
            bound_between.push(read_bound(
                "between workloads (nodes idle)",
                cryptobound::BETWEEN_MEASURE_MS,
                m.cores,
            )?);
        }
        let saturation = workloads
            .iter()
            .rev()
            .find(|r| !r.saturation.is_empty())
            .and_then(|r| saturation_tps(&r.saturation));
        if spec.resolve_rate_from_saturation(saturation) {
            let (Some(share), Some(rate)) = (spec.rate_saturation_share, spec.rate) else {
                anyhow::bail!(
                    "{}: rate_saturation_share, but the saturation search before it measured nothing",
                    spec.name
                );
            };
            note(&format!(
                "{}: offered rate {:.1} % of the saturation measured above: {rate:.0} tx/s",
                spec.name,
                share * 100.0
            ));
        }
        let r = runner::run_workload(&target, spec, spec.max_latency_ms_p99.unwrap_or(p99_max))?;
        println!("{}", one_line(&r));
        workloads.push(r);
    }
    let target_writeback = target.writeback;
    let flames = target.stop()?;
    let bound_end = read_bound(
        "again, with the nodes stopped",
        cryptobound::MEASURE_MS,
        m.cores,
    )?;
    let full_tps = full_efficiency_tps(
        judged_bound(bound, Some(bound_end), &bound_between),
        m.cores,
        profile.node.nodes,
    );
    let judged = Judged::new(&profile, full_tps);
    let mut failures = Vec::new();
    let mut checks = Vec::new();
    for (i, (spec, r)) in judged.workloads.iter().zip(&workloads).enumerate() {
        failures.extend(check(spec, r, &judged.thresholds));
        checks.push(target_check(
            i,
            spec,
            r,
            &judged.thresholds,
            judged.goal.as_ref(),
        ));
    }
    let user_chains_sweep = if o.user_chains.is_some() || profile.node.user_chains_sweep.is_empty()
    {
        Vec::new()
    } else if !o.urls.is_empty() {
        note("warning: user_chains_sweep needs embedded nodes; skipped with --url");
        Vec::new()
    } else {
        sweep_user_chains(&profile, o, &workloads)?
    };
    let flamegraph = match (o.flame, flames.first()) {
        (true, None) => {
            note("warning: --flame: the node wrote no folded stacks (does this bcos build read BCOS_FLAME_FILE?)");
            None
        }
        (_, f) => f.map(|p| p.display().to_string()),
    };
    let mut environment = machine::environment(&m, node_settings, mismatches);
    environment.io_backends = io_backends;
    environment.page_cache_written_back_mib = target_writeback.map(|w| w.pending_mib);
    let criterion = report::criterion::results_with_provenance(
        &criterion_dir(),
        &environment.git_commit,
        &machine::is_ancestor_of_head,
    );
    let results = RunResults {
        profile: profile.name.clone(),
        thresholds: Thresholds {
            min_tps: judged.thresholds.min_tps,
            min_efficiency: judged.thresholds.min_efficiency,
            max_latency_ms_p99: judged.thresholds.max_latency_ms_p99,
        },
        environment,
        crypto_bound_recoveries_per_s_per_core: bound,
        crypto_bound_end_recoveries_per_s_per_core: Some(bound_end),
        crypto_bound_between_recoveries_per_s_per_core: bound_between,
        crypto_bound_threads: m.cores.max(1),
        nodes: profile.node.nodes,
        consensus: profile.node.consensus.clone(),
        groups: profile.node.groups,
        user_chains: profile.node.user_chains,
        workloads,
        user_chains_sweep,
        criterion,
        flamegraph,
        passed: failures.is_empty(),
        failures,
        goal: judged.goal.as_ref().map(Into::into),
        checks,
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

/// One crypto bound reading on every core of this machine, noted in the log; its figure per
/// core.
fn read_bound(when: &str, measure_ms: u64, cores: usize) -> anyhow::Result<f64> {
    note(&format!(
        "measuring the crypto bound {when} (secp256k1 recoveries on all {cores} cores at once)"
    ));
    let reading = cryptobound::recoveries_per_s_per_core(Duration::from_millis(measure_ms), cores)?;
    note(&format!("crypto bound: {}", reading.describe()));
    Ok(reading.per_core)
}

/// The profile's `user_chains_sweep`: every closed-loop workload once per U, each U on a
/// fresh cluster of the profile's nodes with U user chains; U = the profile's `user_chains`
/// takes the main run's results (`main`). Not judged against the thresholds.
fn sweep_user_chains(
    profile: &Profile,
    o: &CertifyOptions,
    main: &[WorkloadResult],
) -> anyhow::Result<Vec<WorkloadResult>> {
    let closed = |spec: &&crate::profile::WorkloadSpec| spec.mode == crate::profile::Mode::Closed;
    let p99_max = profile.thresholds.max_latency_ms_p99;
    let mut points = Vec::new();
    for &u in &profile.node.user_chains_sweep {
        if u == profile.node.user_chains {
            let same = profile
                .workloads
                .iter()
                .zip(main)
                .filter(|(s, _)| closed(s));
            points.extend(same.map(|(_, r)| r.clone()));
            continue;
        }
        note(&format!(
            "user chains sweep: a fresh cluster with {u} user chains for the closed-loop workloads"
        ));
        let node = profile
            .node
            .with_user_chains(u, false)
            .map_err(crate::UsageError)?;
        let opts = EmbeddedOptions {
            bin: o.bcos_bin.clone(),
            flame_dir: None,
        };
        let target = Target::embedded(&node, &opts)?;
        for spec in profile.workloads.iter().filter(closed) {
            let r =
                runner::run_workload(&target, spec, spec.max_latency_ms_p99.unwrap_or(p99_max))?;
            println!("sweep U={u}: {}", one_line(&r));
            points.push(r);
        }
        target.stop()?;
    }
    Ok(points)
}

/// `--groups G`: replaces the profile's `[node] groups` after checking that G suits the
/// target (1..=64; more than one needs a cluster, or remote nodes that serve `/g/<g>`) and
/// that every workload splits over G groups.
pub fn apply_groups(profile: &mut Profile, groups: usize, remote: bool) -> Result<(), String> {
    if profile.node.user_chains > 0 {
        return Err(format!(
            "--groups: profile {} has user_chains = {} (groups = user chains + 1); use --user-chains",
            profile.name, profile.node.user_chains
        ));
    }
    crate::groups::check(groups, &profile.node.consensus, remote).map_err(|e| {
        format!(
            "--{e} (profile {} has consensus {:?})",
            profile.name, profile.node.consensus
        )
    })?;
    for w in &profile.workloads {
        crate::groups::check_workload(w, groups).map_err(|e| format!("--groups {groups}: {e}"))?;
    }
    profile.node.groups = groups;
    Ok(())
}

/// `--user-chains U`: replaces the profile's `[node] user_chains` (and so its groups, U + 1)
/// after checking that U suits the target and that every workload splits over U chains.
pub fn apply_user_chains(
    profile: &mut Profile,
    user_chains: usize,
    remote: bool,
) -> Result<(), String> {
    let mut node = profile.node.clone();
    node.user_chains = user_chains;
    node.groups = if user_chains > 0 { user_chains + 1 } else { 1 };
    crate::settlement::check(&node, remote).map_err(|e| {
        format!(
            "--{e} (profile {} has consensus {:?})",
            profile.name, profile.node.consensus
        )
    })?;
    crate::groups::check(node.groups, &node.consensus, remote)
        .map_err(|e| format!("--user-chains {user_chains}: {e}"))?;
    for w in &profile.workloads {
        crate::groups::check_workload(w, node.load_groups())
            .map_err(|e| format!("--user-chains {user_chains}: {e}"))?;
    }
    profile.node = node;
    Ok(())
}

/// Where criterion results live, found the way criterion (and benches/src/provenance.rs) finds
/// it: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, or the `criterion` directory of the
/// target dir this binary was built into.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// A workload result as one line for the console.
pub fn one_line(r: &WorkloadResult) -> String {
    let knee = match (r.saturation_end(), r.knee_tps) {
        (Some(SaturationEnd::StepsExhausted), Some(k)) => format!(", knee not reached; ≥ {k:.0}/s"),
        (Some(SaturationEnd::FirstStepSaturated), _) => ", saturated at the first step".into(),
        (_, Some(k)) => format!(", knee {k:.0}/s"),
        (_, None) => String::new(),
    };
    let settlement = match &r.settlement {
        Some(s) => format!(
            "; settlement lag p50 {:.0} ms, p99 {:.0} ms ({} payments), conservation {}",
            s.lag_ms.p50,
            s.lag_ms.p99,
            s.lag_payments,
            if s.conservation_held {
                "held"
            } else {
                "VIOLATED"
            }
        ),
        None => String::new(),
    };
    let groups = if r.groups > 1 || r.settlement.is_some() {
        let per: Vec<String> = r
            .per_group_committed_tps
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect();
        let what = if r.settlement.is_some() {
            "user chains"
        } else {
            "groups"
        };
        format!(", {} {what} ({}/s each)", r.groups, per.join(" / "))
    } else {
        String::new()
    };
    format!(
        "{} ({}): offered {:.0}/s, committed {:.0}/s ({} in {:.1} s), p50 {:.1} ms, p99 {:.1} ms, errors {}{knee}{groups}{settlement}",
        r.workload, r.mode, r.offered_tps, r.committed_tps, r.committed, r.window_s, r.latency_ms.p50, r.latency_ms.p99, r.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"
[machine]
cores = 2
memory_gib = 4
[node]
nodes = 4
consensus = "pbft"
[[workload]]
name = "transfer"
mode = "closed"
concurrency = 100
connections = 8
accounts = 100
[thresholds]
min_tps = 1
max_latency_ms_p99 = 100
"#;

    #[test]
    fn the_groups_flag_overrides_the_profile_after_checks() {
        let mut p = Profile::parse(PROFILE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.node.groups, 1);
        assert_eq!(apply_groups(&mut p, 4, false), Ok(()));
        assert_eq!(p.node.groups, 4);
        for (g, needle) in [(0, "1..=64"), (65, "1..=64"), (9, "connections = 8")] {
            let err = apply_groups(&mut p, g, false).err().unwrap_or_default();
            assert!(err.contains(needle), "{g}: {err}");
            assert_eq!(p.node.groups, 4, "a refused override changes nothing");
        }
        let mut solo = Profile::parse(&PROFILE.replace("nodes = 4\nconsensus = \"pbft\"", ""))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = apply_groups(&mut solo, 2, false).err().unwrap_or_default();
        assert!(err.contains("needs a cluster"), "{err}");
        // Remote nodes may run groups whatever the profile's consensus says; Target::remote
        // checks that they serve /g/<g>.
        assert_eq!(apply_groups(&mut solo, 2, true), Ok(()));
    }
}
