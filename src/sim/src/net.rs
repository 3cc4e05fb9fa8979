//! The simulated network: every frame a node sends becomes one delivery event per receiver,
//! after a latency drawn from the run's [`FaultPlan`]; in the faulty phase a frame may be
//! lost, held back (and so reordered), duplicated, or cut by a partition. Frames larger
//! than the P2P frame limit are refused as the real transport refuses them.
//!
//! One network joins the nodes, whatever groups they run (GRP-N1): a frame carries its
//! group in its delivery event (the real transport tags it, GRP-N2), partitions cut node
//! pairs, so every group on a link at once, and each frame meets the link's loss, delay and
//! duplication rates on its own.

use crate::events::{Event, EventQueue};
use crate::faults::FaultPlan;
use crate::rng::SimRng;
use alloy_primitives::bytes::Bytes;
use bcos_node::groups::tag::TAG_BYTES;

/// What the network did, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetStats {
    pub frames_sent: u64,
    pub deliveries: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub delayed: u64,
    pub partitioned: u64,
    /// Frames that arrived at a node that was down.
    pub to_down_node: u64,
    pub oversized: u64,
    pub partitions: u64,
    /// Partitions that cut one node off right after it decided or proposed.
    pub isolations: u64,
    /// Frames lost because their sender crashed before writing them.
    pub lost_in_crash: u64,
}

impl NetStats {
    /// Network faults injected (for progress output).
    pub fn faults(&self) -> u64 {
        self.dropped + self.duplicated + self.delayed + self.partitioned + self.lost_in_crash
    }
}

pub struct Network {
    pub plan: FaultPlan,
    /// `side[i]`: which side of the current partition node i is on; `None`: no partition.
    pub side: Option<Vec<bool>>,
    pub frame_bytes_max: usize,
    /// Every group's frames together.
    pub stats: NetStats,
    /// Each group's frames (partitions and isolations cut links, so they count only in
    /// `stats`).
    pub group_stats: Vec<NetStats>,
}

impl Network {
    pub fn new(plan: FaultPlan, frame_bytes_max: usize, groups: usize) -> Self {
        Network {
            plan,
            side: None,
            frame_bytes_max,
            stats: NetStats::default(),
            group_stats: vec![NetStats::default(); groups],
        }
    }

    /// Counts one thing that happened to a frame of `group`, in its group's figures and in
    /// the total.
    pub fn count(&mut self, group: usize, what: impl Fn(&mut NetStats)) {
        what(&mut self.stats);
        if let Some(s) = self.group_stats.get_mut(group) {
            what(s);
        }
    }

    fn cut(&self, a: u32, b: u32) -> bool {
        self.side
            .as_ref()
            .is_some_and(|s| s.get(a as usize) != s.get(b as usize))
    }

    /// Schedules the delivery of `group`'s `frame` from node `from` to each node of `to`.
    #[allow(clippy::too_many_arguments)] // the queue, the clock and the frame's addresses
    pub fn send(
        &mut self,
        rng: &mut SimRng,
        q: &mut EventQueue,
        now: u64,
        group: usize,
        from: u32,
        to: &[u32],
        frame: &Bytes,
    ) {
        self.count(group, |s| s.frames_sent += 1);
        // The real transport carries the group tag in front of every frame (GRP-N2).
        if frame.len() + TAG_BYTES > self.frame_bytes_max {
            self.count(group, |s| s.oversized += 1);
            return;
        }
        for &dst in to {
            if self.cut(from, dst) {
                self.count(group, |s| s.partitioned += 1);
                continue;
            }
            if rng.chance(self.plan.drop_p) {
                self.count(group, |s| s.dropped += 1);
                continue;
            }
            let copies = if rng.chance(self.plan.duplicate_p) {
                self.count(group, |s| s.duplicated += 1);
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut latency = rng.between(self.plan.latency_ms.0, self.plan.latency_ms.1);
                if rng.chance(self.plan.delay_p) {
                    self.count(group, |s| s.delayed += 1);
                    latency += rng.between(0, self.plan.delay_max_ms);
                }
                q.push(
                    now + latency,
                    Event::Deliver {
                        group: group as u32,
                        from,
                        to: dst,
                        frame: frame.clone(),
                    },
                );
            }
        }
    }

    /// Splits the nodes in two non-empty sides at random.
    pub fn partition(&mut self, rng: &mut SimRng, n: u32) {
        if n < 2 {
            return;
        }
        let mut side: Vec<bool> = (0..n).map(|_| rng.chance(0.5)).collect();
        if side.iter().all(|s| *s) || side.iter().all(|s| !*s) {
            let i = rng.below(u64::from(n)) as usize;
            side[i] = !side[i];
        }
        self.side = Some(side);
        self.stats.partitions += 1;
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&mut self, node: u32, n: u32) {
        self.side = Some((0..n).map(|i| i == node).collect());
        self.stats.partitions += 1;
        self.stats.isolations += 1;
    }

    pub fn heal(&mut self) {
        self.side = None;
    }
}
