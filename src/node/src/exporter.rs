//! Prometheus metrics of every running group, rendered on each scrape of `GET /metrics`
//! on the RPC port (`bcos_rpc::pages`). Names and labels are listed in
//! docs/observability.md; `grafana/bcos.json` charts them.
//!
//! Everything is read at scrape time from what the node keeps anyway (the store's head and
//! transaction count, the pool, the consensus view, the stage counters), except the latency
//! histograms, which each group records as blocks commit ([`crate::metrics::Latencies`]).
//! Per-group metrics carry a `group` label; the node's own (peers) carry none.

use crate::api::NodeApi;
use crate::groups::manager::GroupManager;
use bcos_rpc::ChainApi;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

/// Reads the running groups on each scrape.
struct Exporter {
    groups: Weak<GroupManager>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exporter")
    }
}

/// What `GET /metrics` answers: every running group of `groups`, rendered per scrape.
pub fn metrics_source(groups: &Arc<GroupManager>) -> bcos_rpc::MetricsSource {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exporter {
        groups: Arc::downgrade(groups),
    }));
    let registry = Arc::new(registry);
    Arc::new(move || {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(%e, "cannot render metrics");
        }
        out
    })
}

type Labels = Vec<(&'static str, String)>;

fn group_label(api: &NodeApi) -> Labels {
    vec![("group", api.group.to_string())]
}

/// One metric family: its descriptor, then one sample per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, unit, kind)?;
    for (labels, metric) in samples {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges(
    encoder: &mut DescriptorEncoder,
    apis: &[Arc<NodeApi>],
    name: &str,
    help: &str,
    value: impl Fn(&NodeApi) -> i64,
) -> std::fmt::Result {
    let samples = apis
        .iter()
        .map(|a| (group_label(a), ConstGauge::new(value(a))));
    family(encoder, name, help, None, MetricType::Gauge, samples)
}

fn counters(
    encoder: &mut DescriptorEncoder,
    apis: &[Arc<NodeApi>],
    name: &str,
    help: &str,
    value: impl Fn(&NodeApi) -> u64,
) -> std::fmt::Result {
    let samples = apis
        .iter()
        .map(|a| (group_label(a), ConstCounter::new(value(a))));
    family(encoder, name, help, None, MetricType::Counter, samples)
}

fn histograms(
    encoder: &mut DescriptorEncoder,
    apis: &[Arc<NodeApi>],
    name: &str,
    help: &str,
    pick: impl Fn(&NodeApi) -> &Histogram,
) -> std::fmt::Result {
    let mut family =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for a in apis {
        let labels = group_label(a);
        pick(a).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn as_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl Collector for Exporter {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let Some(groups) = self.groups.upgrade() else {
            return Ok(());
        };
        let apis: Vec<Arc<NodeApi>> = groups.running().iter().map(|g| g.api.clone()).collect();
        let e = &mut e;
        let peers = apis.first().map_or(0, |a| a.peer_count());
        let node_wide = e.encode_descriptor(
            "bcos_peers_connected",
            "P2P peers this node is connected to",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(as_i64(peers)).encode(node_wide)?;
        gauges(
            e,
            &apis,
            "bcos_block_height",
            "Number of the head block",
            |a| a.store.head().map_or(0, |(n, _)| as_i64(n)),
        )?;
        counters(
            e,
            &apis,
            "bcos_tx_committed",
            "Transactions in committed blocks",
            |a| a.store.total_tx_count(),
        )?;
        gauges(
            e,
            &apis,
            "bcos_txpool_transactions",
            "Transactions in the pool",
            |a| as_i64(a.pool.len()),
        )?;
        gauges(
            e,
            &apis,
            "bcos_txpool_bytes",
            "Encoded bytes of the pool's transactions",
            |a| as_i64(a.pool.bytes()),
        )?;
        gauges(
            e,
            &apis,
            "bcos_consensus_view",
            "PBFT view at the height being decided, or Raft term (0 for a solo sealer)",
            |a| a.consensus.as_ref().map_or(0, |v| as_i64(v.get().view)),
        )?;
        counters(
            e,
            &apis,
            "bcos_consensus_view_changes",
            "PBFT view changes (or Raft term changes) this node went through since it started",
            |a| a.consensus.as_ref().map_or(0, |v| v.view_changes()),
        )?;
        counters(
            e,
            &apis,
            "bcos_blocks_sealed",
            "Blocks committed by this node's driver since start",
            |a| a.metrics.blocks.load(Relaxed),
        )?;
        counters(
            e,
            &apis,
            "bcos_blocks_pipelined",
            "Blocks executed while the block before them was still being made durable (SEAL-R6)",
            |a| a.metrics.pipelined_blocks.load(Relaxed),
        )?;
        histograms(
            e,
            &apis,
            "bcos_block_commit",
            "Time to make one decided block durable (segment append, fsync, state batch)",
            |a| &a.metrics.latencies.block_commit,
        )?;
        histograms(
            e,
            &apis,
            "bcos_block_execute",
            "Time to execute one block",
            |a| &a.metrics.latencies.block_execute,
        )?;
        histograms(
            e,
            &apis,
            "bcos_tx_submit_to_commit",
            "From a transaction's admission to this node's pool to the durable commit of its block",
            |a| &a.metrics.latencies.tx_submit_to_commit,
        )?;
        self.stages(e, &apis)?;
        counters(
            e,
            &apis,
            "bcos_recover_cache_hits",
            "Sender recoveries answered by the sender cache",
            |a| a.metrics.recover_cache_hits.load(Relaxed),
        )?;
        counters(
            e,
            &apis,
            "bcos_txpool_intercepted",
            "Transactions refused at admission by governance rules",
            |a| a.metrics.intercepted.load(Relaxed),
        )?;
        counters(
            e,
            &apis,
            "bcos_execute_speculative",
            "Transactions committed from a validated speculative run",
            |a| a.metrics.execute_speculative.load(Relaxed),
        )?;
        counters(
            e,
            &apis,
            "bcos_execute_conflicts",
            "Transactions re-executed after a conflict",
            |a| a.metrics.execute_conflicts.load(Relaxed),
        )?;
        counters(
            e,
            &apis,
            "bcos_execute_direct_transfers",
            "Plain transfers applied without revm's interpreter (spec/execution.md EXEC-R21)",
            |a| a.executor.direct_transfers(),
        )?;
        counters(
            e,
            &apis,
            "bcos_state_cache_hits",
            "State reads answered by the state cache",
            |a| a.store.state_cache_stats().map_or(0, |c| c.hits),
        )?;
        counters(
            e,
            &apis,
            "bcos_state_cache_misses",
            "State reads that went to RocksDB",
            |a| a.store.state_cache_stats().map_or(0, |c| c.misses),
        )?;
        gauges(
            e,
            &apis,
            "bcos_flow_log_enabled",
            "1 while the group's flow log is on",
            |a| i64::from(a.metrics.flow.is_on()),
        )
    }
}

impl Exporter {
    /// The stage counters the certification reports use: items and busy seconds per stage.
    fn stages(&self, e: &mut DescriptorEncoder, apis: &[Arc<NodeApi>]) -> std::fmt::Result {
        let rows: Vec<(Labels, &'static str, u64, f64)> = apis
            .iter()
            .flat_map(|a| {
                a.metrics
                    .stages()
                    .into_iter()
                    .map(move |(stage, items, busy)| {
                        let mut labels = group_label(a);
                        labels.push(("stage", stage.to_owned()));
                        (labels, stage, items, busy.as_secs_f64())
                    })
            })
            .collect();
        family(
            e,
            "bcos_stage_items",
            "Items each stage handled (recoveries, admissions, transactions executed or committed)",
            None,
            MetricType::Counter,
            rows.iter()
                .map(|(l, _, items, _)| (l.clone(), ConstCounter::new(*items))),
        )?;
        family(
            e,
            "bcos_stage_busy",
            "Wall time each stage spent",
            Some(&Unit::Seconds),
            MetricType::Counter,
            rows.iter()
                .map(|(l, _, _, secs)| (l.clone(), ConstCounter::new(*secs))),
        )
    }
}
