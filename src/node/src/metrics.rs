//! Per-stage counters: how many items each stage handled and the time it spent, so a
//! benchmark can attribute cost (recover, admit, consensus, execute, commit) without a
//! profiler. Each stage has a tracing span of the same name for flamegraphs (`BCOS_FLAME_FILE`).
//!
//! Beside them, one group's latency histograms (exported as Prometheus histograms by
//! `exporter`) and its flow log switch ([`crate::flow::Flow`]).

use crate::flow::Flow;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Stage {
    items: AtomicU64,
    nanos: AtomicU64,
}

impl Stage {
    pub fn record(&self, items: usize, elapsed: Duration) {
        self.items.fetch_add(items as u64, Relaxed);
        self.nanos.fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }
    fn json(&self) -> serde_json::Value {
        let items = self.items.load(Relaxed);
        let nanos = self.nanos.load(Relaxed);
        let per_item_us = if items == 0 {
            0.0
        } else {
            nanos as f64 / items as f64 / 1000.0
        };
        json!({ "items": items, "busy_ms": nanos / 1_000_000, "per_item_us": per_item_us })
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Sender recovery (wall time of parallel batches); items are ECDSA recoveries performed.
    pub recover: Stage,
    /// Senders handed to recovery that came from the sender cache instead (including those
    /// another path of the node was recovering at the time).
    pub recover_cache_hits: AtomicU64,
    /// Pool admission checks and insertion.
    pub admit: Stage,
    /// EVM execution of sealed blocks.
    pub execute: Stage,
    /// How parallel execution (`sealer.execute_threads`, EXEC-R17..R20) committed the
    /// executed transactions: from a validated speculative run, or again after a conflict;
    /// and blocks it ran serially from the start.
    pub execute_speculative: AtomicU64,
    pub execute_conflicts: AtomicU64,
    pub execute_serial_blocks: AtomicU64,
    /// Blocks that went through the parallel scheduler (whatever share of their
    /// transactions it then took from speculation).
    pub execute_parallel_blocks: AtomicU64,
    /// The consensus core handling the sealer's proposals (`Protocol::handle`); items are the
    /// proposed blocks' transactions, as for execute and commit.
    pub consensus: Stage,
    /// Durable block commit (segment append + fsync + RocksDB batch).
    pub commit: Stage,
    pub blocks: AtomicU64,
    /// Blocks the sealer executed while the block before them was still being made durable
    /// (spec/execution.md SEAL-R6).
    pub pipelined_blocks: AtomicU64,
    /// Transactions governance's rules refused at admission (spec/governance.md REG-R1).
    pub intercepted: AtomicU64,
    pub latencies: Latencies,
    /// This group's flow log (off unless switched on).
    pub flow: Flow,
}

/// One group's latency distributions, in seconds.
#[derive(Debug)]
pub struct Latencies {
    /// Making one decided block durable (segment append, fsync, RocksDB batch).
    pub block_commit: Histogram,
    /// Executing one block (serial or parallel), sealed here or received.
    pub block_execute: Histogram,
    /// From a transaction's admission into this node's pool to the durable commit of the
    /// block that includes it (transactions this node never pooled are not counted).
    pub tx_submit_to_commit: Histogram,
}

/// Block-stage buckets: 0.25 ms doubling to about 4 s.
const BLOCK_STAGE_BUCKETS: (f64, f64, u16) = (0.000_25, 2.0, 15);
/// Submit-to-commit buckets: 5 ms doubling to about 40 s.
const TX_LATENCY_BUCKETS: (f64, f64, u16) = (0.005, 2.0, 14);

fn histogram((start, factor, count): (f64, f64, u16)) -> Histogram {
    Histogram::new(exponential_buckets(start, factor, count))
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            block_commit: histogram(BLOCK_STAGE_BUCKETS),
            block_execute: histogram(BLOCK_STAGE_BUCKETS),
            tx_submit_to_commit: histogram(TX_LATENCY_BUCKETS),
        }
    }
}

impl Metrics {
    /// Group `group`'s metrics, its flow log as `flow_log` says.
    pub fn for_group(group: u32, flow_log: bool) -> Self {
        Metrics {
            flow: Flow::new(group, flow_log),
            ..Metrics::default()
        }
    }

    /// The stage counters as (name, items, busy time), for the exporter.
    pub fn stages(&self) -> [(&'static str, u64, Duration); 5] {
        let read = |s: &Stage| {
            (
                s.items.load(Relaxed),
                Duration::from_nanos(s.nanos.load(Relaxed)),
            )
        };
        let row = |name, s: &Stage| {
            let (items, busy) = read(s);
            (name, items, busy)
        };
        [
            row("recover", &self.recover),
            row("admit", &self.admit),
            row("consensus", &self.consensus),
            row("execute", &self.execute),
            row("commit", &self.commit),
        ]
    }

    /// How one block's parallel execution went.
    pub fn record_parallel(&self, stats: &bcos_execution::ParallelStats) {
        self.execute_speculative
            .fetch_add(stats.speculative as u64, Relaxed);
        self.execute_conflicts
            .fetch_add(stats.conflicts as u64, Relaxed);
        if stats.serial_block {
            self.execute_serial_blocks.fetch_add(1, Relaxed);
        } else {
            self.execute_parallel_blocks.fetch_add(1, Relaxed);
        }
    }

    /// One call of sender recovery: `stats.recovered` items, its cache hits beside them.
    pub fn record_recovery(&self, stats: bcos_crypto::RecoverStats, elapsed: Duration) {
        self.recover.record(stats.recovered, elapsed);
        self.recover_cache_hits
            .fetch_add(stats.cache_hits as u64, Relaxed);
    }

    pub fn json(&self) -> serde_json::Value {
        let mut recover = self.recover.json();
        recover["cache_hits"] = json!(self.recover_cache_hits.load(Relaxed));
        let mut admit = self.admit.json();
        admit["intercepted"] = json!(self.intercepted.load(Relaxed));
        let mut execute = self.execute.json();
        execute["speculative"] = json!(self.execute_speculative.load(Relaxed));
        execute["conflicts"] = json!(self.execute_conflicts.load(Relaxed));
        execute["serial_blocks"] = json!(self.execute_serial_blocks.load(Relaxed));
        execute["parallel_blocks"] = json!(self.execute_parallel_blocks.load(Relaxed));
        json!({
            "recover": recover,
            "admit": admit,
            "consensus": self.consensus.json(),
            "execute": execute,
            "commit": self.commit.json(),
            "blocks_sealed": self.blocks.load(Relaxed),
            "pipelined_blocks": self.pipelined_blocks.load(Relaxed),
        })
    }
}
