//! What a run saw, and its verdict.

use crate::checkers::Violation;
use crate::client::ClientStats;
use crate::config::SimConfig;
use crate::net::NetStats;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held, blocks were committed, and liveness was reached after the faults.
    Pass,
    /// A property failed (the first violation is in the report).
    Fail,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub config: SimConfig,
    pub faults: String,
    pub verdict: Verdict,
    pub violations: Vec<Violation>,
    pub trace_hash: String,
    /// Virtual time simulated (ms).
    pub virtual_ms: u64,
    pub events: u64,
    /// Highest height the honest nodes stored.
    pub height: u64,
    /// Each node's stored head at the end.
    pub heads: Vec<u64>,
    pub client: ClientStats,
    pub latency_ms_p50: u64,
    pub latency_ms_max: u64,
    pub net: NetStats,
    pub crashes: u64,
    pub step_crashes: u64,
    pub restarts: u64,
    /// PBFT: view changes the nodes went through; Raft: terms that had a leader.
    pub view_changes: u64,
    pub max_view_or_term: u64,
    pub byzantine_frames: u64,
    /// When liveness was reached after the faults stopped (ms after the quiet phase began).
    pub settled_after_ms: Option<u64>,
    pub wall_s: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Committed heights per wall-clock second.
    pub fn blocks_per_s(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.height as f64 / self.wall_s
        } else {
            0.0
        }
    }

    /// Faults injected of every kind (network, crashes, Byzantine frames).
    pub fn faults_injected(&self) -> u64 {
        self.net.faults() + self.net.partitions + self.crashes + self.byzantine_frames
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "{} n={} seed={} ticks={}{}{}",
            c.protocol,
            c.nodes,
            c.seed,
            c.ticks,
            c.bug
                .map(|b| format!(" bug={}", crate::config::bug_name(b)))
                .unwrap_or_default(),
            c.byzantine
                .map(|b| format!(" byzantine={b}"))
                .unwrap_or_default()
        )?;
        writeln!(f, "  faults:     {}", self.faults)?;
        writeln!(
            f,
            "  simulated:  {:.1} s virtual, {} events, {:.2} s wall",
            self.virtual_ms as f64 / 1000.0,
            self.events,
            self.wall_s
        )?;
        writeln!(
            f,
            "  blocks:     height {} (heads {:?}), {:.0} blocks/s simulated",
            self.height,
            self.heads,
            self.blocks_per_s()
        )?;
        writeln!(
            f,
            "  txs:        {} signed ({} deploys, {} calls), {} with receipts, {} resubmissions; latency p50 {} ms, max {} ms",
            self.client.created,
            self.client.deploys,
            self.client.calls,
            self.client.acked,
            self.client.resubmissions,
            self.latency_ms_p50,
            self.latency_ms_max
        )?;
        let n = &self.net;
        writeln!(
            f,
            "  network:    {} frames, {} deliveries; dropped {}, duplicated {}, delayed {}, cut by {} partitions ({} isolations) {}, lost in crashes {}, to down nodes {}",
            n.frames_sent, n.deliveries, n.dropped, n.duplicated, n.delayed, n.partitions, n.isolations, n.partitioned, n.lost_in_crash, n.to_down_node
        )?;
        writeln!(
            f,
            "  nodes:      {} crashes ({} right after a step), {} restarts; {} {}, highest {}",
            self.crashes,
            self.step_crashes,
            self.restarts,
            self.view_changes,
            match c.protocol {
                crate::config::Protocol::Pbft => "view changes",
                crate::config::Protocol::Raft => "terms with a leader",
            },
            self.max_view_or_term
        )?;
        if c.byzantine.is_some() {
            writeln!(
                f,
                "  byzantine:  {} frames forged, suppressed or malformed",
                self.byzantine_frames
            )?;
        }
        match self.settled_after_ms {
            Some(ms) => writeln!(f, "  liveness:   settled {ms} ms after the faults stopped")?,
            None => writeln!(f, "  liveness:   not settled")?,
        }
        for v in &self.violations {
            writeln!(f, "  VIOLATION   {v}")?;
        }
        writeln!(
            f,
            "  verdict:    {}",
            match self.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
            }
        )?;
        write!(f, "  trace hash: {}", self.trace_hash)
    }
}
