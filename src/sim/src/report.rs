//! What a run saw, and its verdict: for the whole run and, with several groups, per group.

use crate::checkers::Violation;
use crate::client::ClientStats;
use crate::config::{Protocol, SimConfig};
use crate::net::NetStats;
use crate::world::World;
use bcos_storage::StateCacheStats;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held, blocks were committed, and liveness was reached after the faults.
    Pass,
    /// A property failed (the first violation is in the report).
    Fail,
    /// Every check held, but the run never reached the states its properties are about
    /// (a settlement run credited no record; a membership run never held the smaller set):
    /// bounded evidence, not a pass.
    Inconclusive,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => {
                "INCONCLUSIVE (every check held, but the run never reached what it is about: \
                 no settlement record credited, or the smaller voter set never held)"
            }
        })
    }
}

/// One group's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupVerdict {
    /// No violation, blocks committed, liveness reached after the faults.
    Pass,
    /// A property of this group failed (or it committed nothing, or did not settle).
    Fail,
    /// No violation of its own, but the run stopped at another group's violation before
    /// this group's progress and liveness could be judged: neither pass nor fail.
    Inconclusive,
}

impl fmt::Display for GroupVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupVerdict::Pass => "PASS",
            GroupVerdict::Fail => "FAIL",
            GroupVerdict::Inconclusive => {
                "INCONCLUSIVE (the run stopped at another group's violation)"
            }
        })
    }
}

/// What one group's chain did.
#[derive(Debug, Clone)]
pub struct GroupReport {
    pub id: u32,
    pub protocol: Protocol,
    /// Node indices of its members.
    pub members: Vec<u32>,
    pub chain_id: u64,
    /// Highest height its honest members stored (its blocks committed).
    pub height: u64,
    /// Each member's stored head at the end.
    pub heads: Vec<u64>,
    pub client: ClientStats,
    /// PBFT: view changes its members went through; Raft: terms that had a leader.
    pub view_changes: u64,
    pub max_view_or_term: u64,
    /// Its frames (partitions and crashes hit every group of a node or link at once; they
    /// are counted for the run).
    pub net: NetStats,
    pub settled_after_ms: Option<u64>,
    pub violations: usize,
    pub verdict: GroupVerdict,
    /// Raft: the voter sets its members' configurations held.
    pub voter_sets: Vec<Vec<u32>>,
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
    /// Blocks committed: the highest height the honest nodes stored, summed over the
    /// groups (a single-chain run's height).
    pub height: u64,
    /// Each node's stored head at the end (of group 0's chain, with several groups).
    pub heads: Vec<u64>,
    pub client: ClientStats,
    pub latency_ms_p50: u64,
    pub latency_ms_max: u64,
    pub net: NetStats,
    pub crashes: u64,
    pub step_crashes: u64,
    pub restarts: u64,
    /// PBFT: view changes the nodes went through; Raft: terms that had a leader (summed
    /// over the groups).
    pub view_changes: u64,
    pub max_view_or_term: u64,
    pub byzantine_frames: u64,
    /// When liveness was reached after the faults stopped (ms after the quiet phase began;
    /// every group, with several).
    pub settled_after_ms: Option<u64>,
    pub wall_s: f64,
    /// Per group (one entry in a single-chain run).
    pub groups: Vec<GroupReport>,
    /// Settlement runs: what the settlement did.
    pub settlement: Option<crate::settlement::report::SettlementReport>,
    /// The state caches in front of the nodes' stores (spec/durability.md §2.1), summed over
    /// every node of every group: hits and misses over the run, entries held at the end.
    /// Not in the trace hash: which keys share a shard, and so what is evicted, depends on
    /// the process's hash seed, while what a read returns does not.
    pub state_cache: StateCacheStats,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// A property failed (an inconclusive run did not fail, nor pass).
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
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
        self.net.faults()
            + self.net.partitions
            + self.crashes
            + self.byzantine_frames
            + self.settlement.as_ref().map_or(0, |s| s.link.faults())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let multi = c.multi_group();
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{}{:?}", g.protocol, g.members))
            .collect();
        writeln!(
            f,
            "{} n={} seed={} ticks={}{}{}{}",
            c.protocol,
            c.nodes,
            c.seed,
            c.ticks,
            c.bug
                .map(|b| format!(" bug={}", crate::config::bug_name(b)))
                .unwrap_or_default(),
            c.byzantine
                .map(|b| format!(" byzantine={b}"))
                .unwrap_or_default(),
            if multi {
                format!(" groups={}", groups.join(","))
            } else {
                String::new()
            }
        )?;

        writeln!(f, "  faults:     {}", self.faults)?;
        writeln!(
            f,
            "  simulated:  {:.1} s virtual, {} events, {:.2} s wall",
            self.virtual_ms as f64 / 1000.0,
            self.events,
            self.wall_s
        )?;
        if multi {
            writeln!(
                f,
                "  blocks:     {} over {} groups, {:.0} blocks/s simulated",
                self.height,
                self.groups.len(),
                self.blocks_per_s()
            )?;
            for g in &self.groups {
                writeln!(f, "  {g}")?;
            }
        } else {
            writeln!(
                f,
                "  blocks:     height {} (heads {:?}), {:.0} blocks/s simulated",
                self.height,
                self.heads,
                self.blocks_per_s()
            )?;
        }
        writeln!(
            f,
            "  txs:        {} signed ({} deploys, {} calls), {} with receipts, {} resubmissions ({} to the same node, {} of them refused); latency p50 {} ms, max {} ms",
            self.client.created,
            self.client.deploys,
            self.client.calls,
            self.client.acked,
            self.client.resubmissions,
            self.client.resubmissions_same_node,
            self.client.refused_same_node,
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
            "  nodes:      {} crashes ({} right after a step), {} restarts{}; {} {}, highest {}",
            self.crashes,
            self.step_crashes,
            self.restarts,
            if multi {
                " (each takes every group of its node)"
            } else {
                ""
            },
            self.view_changes,
            match (multi, c.protocol) {
                (true, _) => "view changes (PBFT) and terms with a leader (Raft)",
                (false, Protocol::Pbft) => "view changes",
                (false, Protocol::Raft) => "terms with a leader",
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
        if c.state_cache_entries > 0 {
            let sc = &self.state_cache;
            let reads = sc.hits + sc.misses;
            writeln!(
                f,
                "  cache:      state cache of {} per shard per store: {} reads, {} hits ({:.0} \
                 %), {} misses; {} of {} entries held at the end",
                match c.state_cache_entries {
                    1 => "1 entry".to_string(),
                    n => format!("{n} entries"),
                },
                reads,
                sc.hits,
                if reads > 0 {
                    sc.hits as f64 * 100.0 / reads as f64
                } else {
                    0.0
                },
                sc.misses,
                sc.entries,
                sc.bytes_max / bcos_storage::STATE_CACHE_ENTRY_BYTES as u64
            )?;
        }
        if c.membership_changes {
            let sets = self
                .groups
                .first()
                .map(|g| g.voter_sets.clone())
                .unwrap_or_default();
            writeln!(
                f,
                "  membership: {} governance proposals; voter sets held: {:?}",
                self.client.proposals, sets
            )?;
        }
        match self.settled_after_ms {
            Some(ms) => writeln!(f, "  liveness:   settled {ms} ms after the faults stopped")?,
            None => writeln!(f, "  liveness:   not settled")?,
        }
        if let Some(s) = &self.settlement {
            writeln!(
                f,
                "  injected:   {} faults (network {}, partitions {}, crashes {}, client links {})",
                self.faults_injected(),
                self.net.faults(),
                self.net.partitions,
                self.crashes,
                s.link.faults()
            )?;
            writeln!(f, "{s}")?;
        }
        for v in &self.violations {
            writeln!(f, "  VIOLATION   {v}")?;
        }
        writeln!(f, "  verdict:    {}", self.verdict)?;
        write!(f, "  trace hash: {}", self.trace_hash)
    }
}

impl fmt::Display for GroupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group {}:    {} on nodes {:?}, chain id {}: height {} (heads {:?}), {} txs ({} with \
             receipts), {} {}, {} deliveries, {} network faults, {}: {}",
            self.id,
            self.protocol,
            self.members,
            self.chain_id,
            self.height,
            self.heads,
            self.client.created,
            self.client.acked,
            self.view_changes,
            match self.protocol {
                Protocol::Pbft => "view changes",
                Protocol::Raft => "terms with a leader",
            },
            self.net.deliveries,
            self.net.faults(),
            match self.settled_after_ms {
                Some(ms) => format!("settled {ms} ms after the faults stopped"),
                None => "not settled".into(),
            },
            self.verdict
        )
    }
}

impl World {
    /// The run's report; the trace hash closes over the violations and every member's
    /// final head.
    pub(crate) fn report(self, wall_s: f64) -> Report {
        let failed = self.failed();
        let mut trace = self.trace;
        let violations: Vec<Violation> = self
            .groups
            .iter()
            .flat_map(|g| g.checkers.violations.iter().cloned())
            .collect();
        for v in &violations {
            trace.bytes(v.to_string().as_bytes());
        }
        let mut client = ClientStats::default();
        let mut lat = Vec::new();
        let mut groups = Vec::new();
        let mut state_cache = StateCacheStats::default();
        for g in &self.groups {
            for sc in g.reps.values().filter_map(|r| r.store.state_cache_stats()) {
                state_cache.hits += sc.hits;
                state_cache.misses += sc.misses;
                state_cache.entries += sc.entries;
                state_cache.bytes += sc.bytes;
                state_cache.bytes_max += sc.bytes_max;
            }
            let heads = g.all_heads();
            for h in &heads {
                trace.u64(*h);
            }
            client.add(&g.client.stats);
            lat.extend(g.client.latencies_ms());
            let height = g.checkers.height();
            // A run that ran its course gave every group that did not commit or settle a
            // violation; one cut short by another group's leaves it undecided.
            let verdict = if g.checkers.failed() {
                GroupVerdict::Fail
            } else if height > 0 && g.settled_at.is_some() {
                GroupVerdict::Pass
            } else {
                GroupVerdict::Inconclusive
            };
            groups.push(GroupReport {
                id: g.id,
                protocol: g.spec.protocol,
                members: g.spec.members.clone(),
                chain_id: g.chain.chain.chain_id,
                height,
                heads,
                client: g.client.stats.clone(),
                view_changes: match g.spec.protocol {
                    Protocol::Pbft => g.view_changes,
                    Protocol::Raft => g.checkers.leader_terms() as u64,
                },
                max_view_or_term: g.max_view_or_term,
                net: self
                    .net
                    .group_stats
                    .get(g.id as usize)
                    .cloned()
                    .unwrap_or_default(),
                settled_after_ms: g.settled_at,
                violations: g.checkers.violations.len(),
                verdict,
                voter_sets: g.voter_sets.iter().cloned().collect(),
            });
        }
        lat.sort_unstable();
        let settlement = self
            .settlement
            .as_ref()
            .map(crate::settlement::report::SettlementReport::of);
        if let Some(s) = &settlement {
            trace.u64(s.records_created());
            trace.u64(s.records_credited());
            trace.bytes(&s.merchant_balance.to_be_bytes::<32>());
        }
        // A membership-change run that never saw the smaller voter set did not reach the
        // states it is about.
        let changed = groups.first().is_some_and(|g| g.voter_sets.len() >= 2);
        let verdict = if failed {
            Verdict::Fail
        } else if settlement
            .as_ref()
            .is_some_and(|s| s.records_credited() == 0)
            || (self.cfg.membership_changes && !changed)
        {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        };
        Report {
            faults: self.plan.describe(),
            verdict,
            settlement,
            violations,
            trace_hash: trace.finish(),
            virtual_ms: self.time.now_ms(),
            events: self.stats.events,
            height: groups.iter().map(|g| g.height).sum(),
            heads: groups.first().map(|g| g.heads.clone()).unwrap_or_default(),
            client,
            latency_ms_p50: lat.get(lat.len() / 2).copied().unwrap_or(0),
            latency_ms_max: lat.last().copied().unwrap_or(0),
            net: self.net.stats.clone(),
            crashes: self.stats.crashes,
            step_crashes: self.stats.step_crashes,
            restarts: self.stats.restarts,
            view_changes: groups.iter().map(|g| g.view_changes).sum(),
            max_view_or_term: groups.iter().map(|g| g.max_view_or_term).max().unwrap_or(0),
            byzantine_frames: self.byz.as_ref().map_or(0, |b| {
                b.stats.forged + b.stats.suppressed + b.stats.malformed + b.stats.stale
            }),
            settled_after_ms: self.settled_at,
            wall_s,
            config: self.cfg,
            groups,
            state_cache,
        }
    }
}
