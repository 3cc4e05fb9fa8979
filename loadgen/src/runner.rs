//! Runs one `[[workload]]` against a target: prepare the workload, pre-sign each level's
//! transactions, run the level (or a saturation search of levels), and turn what the engine
//! measured plus the nodes' stage metrics and process usage into a [`WorkloadResult`].
//! Over several groups ([`crate::groups`]) each group gets its own workload instance and
//! [`Ctx`] (prepared in parallel through the group's URL on the first node), its own
//! pre-signed share of the level, and the engine runs all groups in one level.
//! With high-frequency accounts ([`crate::settlement`]) the groups are the user chains, and
//! a paying workload's level is also measured for settlement (lag, conservation).

use crate::engine::commit_tracker::TrackerConfig;
use crate::engine::saturation::{self, SearchSpec, Step};
use crate::engine::{self, GroupLevel, LevelSpec, Load};
use crate::groups;
use crate::profile::{Mode, WorkloadSpec};
use crate::progress::note;
use crate::results::{NodeUsage, StageCost, WorkloadResult};
use crate::rpc_client::RpcClient;
use crate::settlement::lag::Payment;
use crate::target::{ProcSample, Target};
use crate::workload::{self, Ctx, Workload};
use anyhow::Context;
use serde_json::{json, Value};
use std::time::Instant;

/// Stages in the order the report lists them; others the node reports follow.
const STAGE_ORDER: [&str; 5] = ["recover", "admit", "consensus", "execute", "commit"];

/// One group's workload and its chain context.
struct GroupWork {
    ctx: Ctx,
    w: Box<dyn Workload>,
}

/// Runs `spec` against `target`; `p99_ms_max` limits the saturation search (0 = none).
pub fn run_workload(
    target: &Target,
    spec: &WorkloadSpec,
    p99_ms_max: f64,
) -> anyhow::Result<WorkloadResult> {
    let load_groups = target.load_groups();
    let g_count = load_groups.len();
    groups::check_workload(spec, g_count).map_err(crate::UsageError)?;
    let hf_merchant = target.settlement().map(|s| s.merchant);
    let funders_max = match hf_merchant {
        Some(_) => crate::settlement::DEV_FUNDERS_SETTLEMENT_MAX,
        None => crate::accounts::DEV_FUNDERS_MAX,
    };
    let mut work = Vec::with_capacity(g_count);
    for (k, &g) in load_groups.iter().enumerate() {
        let urls = target.group_urls(g);
        let url = urls.first().context("target without nodes")?;
        let ctx = Ctx::connect_with_funders(url, funders_max)
            .with_context(|| format!("connecting to group {g} at {url}"))?;
        let w = workload::build_for(&groups::spec_for_group(spec, k, g_count), hf_merchant)?;
        work.push(GroupWork { ctx, w });
    }
    let of_groups = if g_count > 1 {
        format!(" in each of {g_count} groups")
    } else {
        String::new()
    };
    note(&format!(
        "{}: preparing (accounts, funding, contracts){of_groups}",
        spec.name
    ));
    let started = Instant::now();
    // The groups are independent chains: prepare them at once (funding waits for commits).
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .iter_mut()
            .enumerate()
            .map(|(g, gw)| {
                scope.spawn(move || {
                    gw.w.prepare(&gw.ctx).with_context(|| {
                        if g_count > 1 {
                            format!("preparing workload {} in group {g}", spec.name)
                        } else {
                            format!("preparing workload {}", spec.name)
                        }
                    })
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a preparing thread panicked")))
        })
    })?;
    note(&format!(
        "{}: prepared in {:.1} s",
        spec.name,
        started.elapsed().as_secs_f64()
    ));
    if !spec.saturation {
        let load = match spec.mode {
            Mode::Open => Load::Open {
                rate_per_s: spec.rate.unwrap_or(0.0),
            },
            Mode::Closed => Load::Closed {
                concurrency: spec.concurrency.unwrap_or(1),
            },
        };
        return run_level(target, &mut work, spec, load, &spec.name);
    }
    let search = SearchSpec {
        start_tps: spec.rate.unwrap_or(0.0),
        step_factor: spec.saturation_step_factor,
        steps_max: spec.saturation_steps_max,
        follow_ratio: spec.saturation_follow_ratio,
        p99_ms_max,
    };
    let mut levels = Vec::new();
    let outcome = saturation::search(&search, |k, rate| {
        let label = format!("{} step {} @{rate:.0}/s", spec.name, k + 1);
        let r = run_level(
            target,
            &mut work,
            spec,
            Load::Open { rate_per_s: rate },
            &label,
        )?;
        let step = Step {
            offered_tps: r.offered_tps,
            committed_tps: r.committed_tps,
            p99_ms: r.latency_ms.p99,
        };
        note(&format!(
            "{label}: committed {:.0}/s, p99 {:.1} ms -> {}",
            step.committed_tps,
            step.p99_ms,
            if search.follows(&step) {
                "follows"
            } else {
                "saturated"
            }
        ));
        levels.push(r);
        Ok(step)
    })?;
    // The reported level is the knee (the highest that followed), else the first step.
    let at = outcome
        .knee
        .and_then(|k| outcome.steps.iter().position(|s| s.offered_tps == k))
        .unwrap_or(0);
    let mut result = levels.swap_remove(at);
    result.saturation = outcome
        .steps
        .iter()
        .map(|s| (s.offered_tps, s.committed_tps))
        .collect();
    result.knee_tps = outcome.knee;
    result.saturation_end = Some(outcome.end);
    Ok(result)
}

struct Snapshot {
    at: Instant,
    stages: Vec<Value>,
    procs: Vec<ProcSample>,
}

/// Every node's stage metrics (each group's, node by node: a group counts its own stages)
/// and process usage. A node that is not bcos has no stage metrics: none are asked for, and
/// the result lists no stages.
fn snapshot(target: &Target) -> anyhow::Result<Snapshot> {
    let mut stages = Vec::new();
    if !target.is_bcos() {
        return Ok(Snapshot {
            at: Instant::now(),
            stages,
            procs: target.samples(),
        });
    }
    let per_group: Vec<Vec<String>> = (0..target.groups()).map(|g| target.group_urls(g)).collect();
    for node in 0..target.urls().len() {
        for urls in &per_group {
            let info = RpcClient::connect(&urls[node])?.must("bcos_getNodeInfo", json!([]))?;
            stages.push(info.get("stages").cloned().unwrap_or(Value::Null));
        }
    }
    Ok(Snapshot {
        at: Instant::now(),
        stages,
        procs: target.samples(),
    })
}

/// Transactions group `g` pre-signs for `load` (its share of the level): the open loop's
/// whole schedule, or the closed loop's share of `tps_max` over the level plus its slots.
fn sign_count(spec: &WorkloadSpec, load: Load, groups: usize) -> usize {
    let duration_s = spec.warmup_s + spec.window_s;
    match load {
        Load::Open { rate_per_s } => (rate_per_s * duration_s).ceil() as usize,
        Load::Closed { concurrency } => {
            (spec.tps_max / groups.max(1) as f64 * duration_s).ceil() as usize + concurrency
        }
    }
}

fn run_level(
    target: &Target,
    work: &mut [GroupWork],
    spec: &WorkloadSpec,
    load: Load,
    label: &str,
) -> anyhow::Result<WorkloadResult> {
    let g_count = work.len();
    let loads = groups::split_load(load, g_count);
    let counts: Vec<usize> = loads
        .iter()
        .map(|&l| sign_count(spec, l, g_count))
        .collect();
    let total: usize = counts.iter().sum();
    let of_groups = if g_count > 1 {
        format!(" over {g_count} groups")
    } else {
        String::new()
    };
    note(&format!("{label}: signing {total} transactions{of_groups}"));
    let started = Instant::now();
    let mut levels = Vec::with_capacity(g_count);
    let load_groups = target.load_groups();
    for ((gw, &g), (&count, &load)) in work
        .iter_mut()
        .zip(&load_groups)
        .zip(counts.iter().zip(&loads))
    {
        levels.push(GroupLevel {
            urls: target.group_urls(g),
            txs: gw.w.sign(&gw.ctx, count)?,
            load,
        });
    }
    note(&format!(
        "{label}: signed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let level = LevelSpec {
        load,
        warmup_s: spec.warmup_s,
        window_s: spec.window_s,
        drain_s: spec.drain_s,
        batch_max: spec.batch_max,
        connections: spec.connections,
        tracker: TrackerConfig::default(),
    };
    let tracking = settlement_begin(target, work)?;
    let mut snaps: Vec<Snapshot> = Vec::new();
    let outcome = engine::run_level(levels, &level, label, &mut |edge| {
        snaps.push(snapshot(target).with_context(|| format!("reading node metrics at {edge:?}"))?);
        Ok(())
    })?;
    for (msg, n) in &outcome.refusals {
        note(&format!("{label}: {n} refused: {msg}"));
    }
    // Unsent or refused transactions leave nonce gaps: restart from the node's nonces.
    if !outcome.refusals.is_empty() || (outcome.sent as usize) < outcome.total {
        for gw in work.iter_mut() {
            gw.w.resync(&gw.ctx)?;
        }
    }
    if outcome.ran_out {
        note(&format!(
            "warning: {label}: the closed loop used all pre-signed transactions before the window ended; raise tps_max"
        ));
    }
    let (stages, node_usage) = match (snaps.first(), snaps.get(1)) {
        (Some(a), Some(b)) => (stage_costs(&a.stages, &b.stages), usage(a, b)),
        _ => (Vec::new(), Vec::new()),
    };
    let settlement = match tracking {
        Some(t) => {
            note(&format!("{label}: waiting for the last settlement to land"));
            // Only payments to the high-frequency merchant are settled.
            let merchant = target.settlement().map(|s| s.merchant);
            let window: Vec<Vec<Payment>> = outcome
                .window_commits
                .iter()
                .zip(work.iter())
                .map(|(g, gw)| {
                    g.iter()
                        .filter(|c| gw.w.payee(c.tx).is_none_or(|p| Some(p) == merchant))
                        .map(|c| Payment {
                            block: c.block,
                            index: c.index,
                            committed_ns: c.ns,
                        })
                        .collect()
                })
                .collect();
            let r = t.finish(&window, outcome.epoch, &|| target.relayer_report())?;
            note(&format!(
                "{label}: settlement lag p50 {:.0} ms, p99 {:.0} ms; {}",
                r.lag_ms.p50, r.lag_ms.p99, r.conservation
            ));
            Some(r)
        }
        None => None,
    };
    let s = outcome.summary;
    let per_group_committed_tps = s.per_group_committed_tps();
    Ok(WorkloadResult {
        workload: spec.name.clone(),
        mode: match load {
            Load::Open { .. } => Mode::Open.as_str().into(),
            Load::Closed { .. } => Mode::Closed.as_str().into(),
        },
        offered_tps: outcome.offered_tps,
        committed_tps: s.committed_tps(),
        submitted: s.submitted,
        committed: s.committed,
        errors: s.errors,
        window_s: s.window_s,
        latency_ms: s.latency_ms,
        latency_cdf: s.latency_cdf,
        tps_timeline: s.tps_timeline,
        saturation: Vec::new(),
        knee_tps: None,
        saturation_end: None,
        stages,
        node_usage,
        groups: g_count,
        per_group_committed_tps,
        settlement,
    })
}

/// With high-frequency accounts and a paying workload: the baseline and the credit monitor
/// of the level about to run (None otherwise).
fn settlement_begin(
    target: &Target,
    work: &[GroupWork],
) -> anyhow::Result<Option<crate::settlement::level::Tracking>> {
    use crate::settlement::level::{self, ChainWork};
    let (Some(st), Some(merchant_url)) = (target.settlement(), target.merchant_url()) else {
        return Ok(None);
    };
    let mut chains = Vec::new();
    for (gw, &g) in work.iter().zip(&st.user_groups) {
        let Some(p) = gw.w.payments() else {
            return Ok(None);
        };
        chains.push(ChainWork {
            group: g,
            url: gw.ctx.url.clone(),
            payers: p.payers,
            others: p
                .merchants
                .into_iter()
                .filter(|m| *m != st.merchant)
                .collect(),
            value: p.value,
        });
    }
    let wait_ms = level::settle_wait_ms(st.settle_interval_ms);
    level::begin(st.merchant, &merchant_url, chains, wait_ms)
        .context("reading the settlement baseline")
        .map(Some)
}

/// Stage costs over the window, summed over nodes.
pub fn stage_costs(before: &[Value], after: &[Value]) -> Vec<StageCost> {
    let mut names: Vec<String> = STAGE_ORDER.iter().map(|s| s.to_string()).collect();
    for a in after {
        if let Some(obj) = a.as_object() {
            for (k, v) in obj {
                if v.is_object() && !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
    }
    let field = |v: &Value, stage: &str, f: &str| {
        v.get(stage).and_then(|s| s.get(f)).and_then(Value::as_u64)
    };
    names
        .into_iter()
        .filter_map(|stage| {
            let mut seen = false;
            let (mut items, mut busy_ms) = (0u64, 0u64);
            for (b, a) in before.iter().zip(after) {
                if let (Some(i1), Some(m1)) =
                    (field(a, &stage, "items"), field(a, &stage, "busy_ms"))
                {
                    seen = true;
                    items += i1.saturating_sub(field(b, &stage, "items").unwrap_or(0));
                    busy_ms += m1.saturating_sub(field(b, &stage, "busy_ms").unwrap_or(0));
                }
            }
            let per_item_us = if items > 0 {
                busy_ms as f64 * 1000.0 / items as f64
            } else {
                0.0
            };
            seen.then_some(StageCost {
                stage,
                items,
                busy_ms,
                per_item_us,
            })
        })
        .collect()
}

fn usage(a: &Snapshot, b: &Snapshot) -> Vec<NodeUsage> {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    a.procs
        .iter()
        .zip(&b.procs)
        .enumerate()
        .map(|(node, (pa, pb))| NodeUsage {
            node,
            cpu_cores: (pb.cpu_s - pa.cpu_s).max(0.0) / secs,
            rss_bytes_max: pb.rss_bytes_max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_rpc::{method_not_found, FakeNode};
    use crate::node_info::NodeKind;

    #[test]
    fn a_foreign_node_is_detected_once_and_has_no_stages() {
        let node = FakeNode::start(|m, _| match m {
            "eth_chainId" => Ok(json!("0x7a69")),
            "web3_clientVersion" => Ok(json!("anvil/v1.7.1")),
            _ => method_not_found(),
        });
        let target = Target::remote(std::slice::from_ref(&node.url), 1, 0).expect("test step");
        assert_eq!(
            target.kind(),
            &NodeKind::Foreign {
                client: "anvil/v1.7.1".into()
            }
        );
        for _ in 0..3 {
            let s = snapshot(&target).expect("test step");
            assert!(s.stages.is_empty() && s.procs.is_empty());
        }
        assert_eq!(
            node.calls("bcos_getNodeInfo"),
            1,
            "asked once, when attaching"
        );
        assert_eq!(node.calls("web3_clientVersion"), 1);
        assert!(stage_costs(&[], &[]).is_empty());
        // Settlement and groups need bcos nodes.
        let e = Target::remote(std::slice::from_ref(&node.url), 2, 1)
            .err()
            .expect("test step");
        assert!(crate::error::is_usage(&e), "{e:#}");
    }

    #[test]
    fn a_bcos_node_keeps_its_stage_snapshots() {
        let node = FakeNode::start(|m, _| match m {
            "eth_chainId" => Ok(json!("0x4eec")),
            "bcos_getNodeInfo" => Ok(json!({"stages": {"recover": {"items": 3, "busy_ms": 1}}})),
            _ => method_not_found(),
        });
        let target = Target::remote(std::slice::from_ref(&node.url), 1, 0).expect("test step");
        assert!(target.is_bcos());
        let s = snapshot(&target).expect("test step");
        assert_eq!(s.stages, [json!({"recover": {"items": 3, "busy_ms": 1}})]);
        assert_eq!(node.calls("bcos_getNodeInfo"), 2);
        assert_eq!(node.calls("web3_clientVersion"), 0);
    }

    #[test]
    fn stage_costs_are_window_differences() {
        let before = vec![
            json!({"recover": {"items": 10, "busy_ms": 5, "per_item_us": 1.0}, "blocks_sealed": 3}),
        ];
        let after = vec![json!({
            "recover": {"items": 1010, "busy_ms": 45, "per_item_us": 9.0},
            "commit": {"items": 500, "busy_ms": 10, "per_item_us": 0.0},
            "blocks_sealed": 9
        })];
        let s = stage_costs(&before, &after);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].stage.as_str(), s[0].items, s[0].busy_ms),
            ("recover", 1000, 40)
        );
        assert!((s[0].per_item_us - 40.0).abs() < 1e-9);
        assert_eq!((s[1].stage.as_str(), s[1].items), ("commit", 500));
    }
}
