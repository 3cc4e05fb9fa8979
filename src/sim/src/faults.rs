//! The faults of one run, drawn from its seed ("swarm testing": each seed switches some
//! faults on at some intensity, so a sweep covers calm runs, lossy runs, crash-heavy runs
//! and mixes of all). The faults act only in the faulty phase; the quiet phase that follows
//! keeps normal latencies only, so that liveness can be judged.

use crate::config::Protocol;
use crate::rng::SimRng;

/// Per-run fault rates and bounds (virtual milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Normal one-way latency of a frame, uniform in this range.
    pub latency_ms: (u64, u64),
    /// A frame is lost.
    pub drop_p: f64,
    /// A frame arrives twice (the copy with its own latency).
    pub duplicate_p: f64,
    /// A frame is held back up to `delay_max_ms` (which also reorders it).
    pub delay_p: f64,
    pub delay_max_ms: u64,
    /// Mean time between scheduled crashes (`None`: no scheduled crashes).
    pub crash_every_ms: Option<u64>,
    /// How long a crashed node stays down.
    pub downtime_ms: (u64, u64),
    /// A node crashes right after a step in which it sent frames or announced a block, so
    /// the crash falls between two steps of the driver (where deferred work is lost).
    pub step_crash_p: f64,
    /// When a node crashes right after a step, each frame of that step is lost with this
    /// probability: `Transport::send` only queues a frame in the process (bcos-net's send
    /// queue), and a killed process loses what it had not written yet.
    pub crash_loses_queued_p: f64,
    /// Right after a step in which a node decided or proposed a block, it is cut off from
    /// every peer (for `partition_ms`) with this probability: the moment where a leader's
    /// proposal or a decision reaches only part of the cluster.
    pub isolate_p: f64,
    /// Mean time between network partitions (`None`: none).
    pub partition_every_ms: Option<u64>,
    pub partition_ms: (u64, u64),
    /// Nodes down at once at most.
    pub down_max: u32,
    /// Each node's clock runs ahead of virtual time by up to this much.
    pub clock_skew_ms_max: u64,
}

impl FaultPlan {
    /// No faults at all (the quiet phase, and `--calm`).
    pub fn calm(n: u32) -> Self {
        FaultPlan {
            latency_ms: (1, 10),
            drop_p: 0.0,
            duplicate_p: 0.0,
            delay_p: 0.0,
            delay_max_ms: 0,
            crash_every_ms: None,
            downtime_ms: (0, 0),
            step_crash_p: 0.0,
            crash_loses_queued_p: 0.0,
            isolate_p: 0.0,
            partition_every_ms: None,
            partition_ms: (0, 0),
            down_max: Self::tolerated(Protocol::Pbft, n),
            clock_skew_ms_max: 0,
        }
    }

    /// Crashed nodes a cluster of `n` tolerates and still commits: f for PBFT, a minority
    /// for Raft.
    pub fn tolerated(protocol: Protocol, n: u32) -> u32 {
        match protocol {
            Protocol::Pbft => n.saturating_sub(1) / 3,
            Protocol::Raft => n.saturating_sub(1) / 2,
        }
    }

    /// Nodes down at once at most when the nodes run `groups`: a crash takes down every
    /// group of a node, so the least tolerant group bounds it (at least one, as
    /// [`FaultPlan::draw`] allows: a group that tolerates none only stalls until the node
    /// is back). One group on every node gives [`FaultPlan::draw`]'s own bound.
    pub fn down_max_for(groups: &[crate::groups::SimGroup]) -> u32 {
        groups
            .iter()
            .map(|g| Self::tolerated(g.protocol, g.members.len() as u32).max(1))
            .min()
            .unwrap_or(1)
    }

    /// This seed's faults: each kind is on with probability one half.
    pub fn draw(rng: &mut SimRng, protocol: Protocol, n: u32) -> Self {
        let mut p = FaultPlan::calm(n);
        p.down_max = Self::tolerated(protocol, n).max(1);
        p.latency_ms = (1, rng.between(2, 20));
        if rng.chance(0.5) {
            p.drop_p = *rng.pick(&[0.01, 0.05, 0.15, 0.3]).unwrap_or(&0.05);
        }
        if rng.chance(0.5) {
            p.duplicate_p = *rng.pick(&[0.01, 0.05, 0.2]).unwrap_or(&0.05);
        }
        if rng.chance(0.5) {
            p.delay_p = *rng.pick(&[0.02, 0.1, 0.3]).unwrap_or(&0.1);
            p.delay_max_ms = *rng.pick(&[100, 500, 2_000]).unwrap_or(&500);
        }
        if rng.chance(0.5) {
            p.crash_every_ms = Some(*rng.pick(&[500, 1_500, 4_000]).unwrap_or(&1_500));
            p.downtime_ms = (50, *rng.pick(&[300, 1_500, 5_000]).unwrap_or(&1_500));
        }
        if rng.chance(0.5) {
            p.step_crash_p = *rng.pick(&[0.002, 0.01, 0.05]).unwrap_or(&0.01);
            if p.downtime_ms.1 == 0 {
                p.downtime_ms = (50, 1_000);
            }
            p.crash_loses_queued_p = *rng.pick(&[0.0, 0.5, 1.0]).unwrap_or(&0.5);
        }
        if rng.chance(0.5) {
            p.partition_every_ms = Some(*rng.pick(&[1_000, 3_000, 8_000]).unwrap_or(&3_000));
            p.partition_ms = (100, *rng.pick(&[500, 2_000, 6_000]).unwrap_or(&2_000));
        }
        if rng.chance(0.5) {
            p.isolate_p = *rng.pick(&[0.02, 0.1, 0.3]).unwrap_or(&0.1);
            if p.partition_ms.1 == 0 {
                p.partition_ms = (100, *rng.pick(&[500, 2_000]).unwrap_or(&500));
            }
        }
        if rng.chance(0.5) {
            p.clock_skew_ms_max = *rng.pick(&[50, 500, 2_000]).unwrap_or(&500);
        }
        p
    }

    /// A short description for the report.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "latency {}-{} ms",
            self.latency_ms.0, self.latency_ms.1
        )];
        if self.drop_p > 0.0 {
            parts.push(format!("drop {:.0}%", self.drop_p * 100.0));
        }
        if self.duplicate_p > 0.0 {
            parts.push(format!("duplicate {:.0}%", self.duplicate_p * 100.0));
        }
        if self.delay_p > 0.0 {
            parts.push(format!(
                "delay {:.0}% up to {} ms",
                self.delay_p * 100.0,
                self.delay_max_ms
            ));
        }
        if let Some(c) = self.crash_every_ms {
            parts.push(format!(
                "crash every ~{c} ms (down {}-{} ms)",
                self.downtime_ms.0, self.downtime_ms.1
            ));
        }
        if self.step_crash_p > 0.0 {
            parts.push(format!(
                "crash after a step {:.1}% (its frames lost {:.0}%)",
                self.step_crash_p * 100.0,
                self.crash_loses_queued_p * 100.0
            ));
        }
        if self.isolate_p > 0.0 {
            parts.push(format!(
                "isolate after a decision or proposal {:.0}% ({}-{} ms)",
                self.isolate_p * 100.0,
                self.partition_ms.0,
                self.partition_ms.1
            ));
        }
        if let Some(pt) = self.partition_every_ms {
            parts.push(format!(
                "partition every ~{pt} ms ({}-{} ms)",
                self.partition_ms.0, self.partition_ms.1
            ));
        }
        if self.clock_skew_ms_max > 0 {
            parts.push(format!("clock skew up to {} ms", self.clock_skew_ms_max));
        }
        parts.join(", ")
    }
}
