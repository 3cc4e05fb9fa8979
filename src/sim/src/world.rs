//! One run: N real drivers on one thread under virtual time. The loop pops the next event
//! (a delivery, a wake-up, a client action, a fault), steps the node it concerns through
//! the driver's own entry points (`on_wire` then `after_wake`, as the node's event loop
//! does), then looks at what the step did ([`crate::steps`]).

use crate::byzantine::Byzantine;
use crate::checkers::{Checkers, LIVENESS_BOUND_MS};
use crate::client::{Client, RETRY_INTERVAL_MS};
use crate::config::SimConfig;
use crate::events::{Event, EventQueue};
use crate::faults::FaultPlan;
use crate::net::Network;
use crate::node::SimNode;
use crate::report::{Report, Verdict};
use crate::rng::SimRng;
use crate::runtime::{MemDurable, NodeClock, VirtualTime};
use crate::setup::{self, Chain, Validator};
use crate::trace::Trace;
use bcos_crypto::BatchRecoverer;
use bcos_storage::{ChainStore, MemStore};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct WorldStats {
    pub events: u64,
    pub crashes: u64,
    pub step_crashes: u64,
    pub restarts: u64,
    pub view_changes: u64,
    pub max_view_or_term: u64,
}

pub struct World {
    pub cfg: SimConfig,
    pub chain: &'static Chain,
    pub rng: SimRng,
    pub time: Arc<VirtualTime>,
    pub q: EventQueue,
    pub nodes: Vec<SimNode>,
    pub vals: Vec<Validator>,
    /// The faulty phase's plan (the network's plan turns calm when it ends).
    pub plan: FaultPlan,
    pub net: Network,
    pub client: Client,
    pub checkers: Checkers,
    pub byz: Option<Byzantine>,
    pub trace: Trace,
    /// Recovers senders of submitted and forwarded transactions (the node's ingress).
    pub recoverer: BatchRecoverer,
    pub submit_every_ms: u64,
    pub quiet_since: Option<u64>,
    pub settled_at: Option<u64>,
    pub stats: WorldStats,
    /// Per node: the (height, view) its core was at after its last step.
    pub last_pos: Vec<(u64, u64)>,
    /// PBFT: the last new view delivered per height: its re-proposal and whether the block
    /// came with it.
    pub last_new_view: std::collections::BTreeMap<u64, (bcos_types::B256, bool)>,
    /// The step being looked at handled a block-sync response.
    pub synced_step: bool,
}

/// Runs one simulation to its verdict.
pub fn run(cfg: &SimConfig) -> anyhow::Result<Report> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let mut w = World::new(cfg)?;
    w.boot()?;
    w.run_loop()?;
    Ok(w.report(started.elapsed().as_secs_f64()))
}

impl World {
    fn new(cfg: &SimConfig) -> anyhow::Result<World> {
        let chain = setup::chain()?;
        let mut root = SimRng::new(cfg.seed);
        // Separate streams, drawn first: the faults and keys of a seed do not depend on
        // what the run does (so a seeded bug changes the run, not its setup).
        let plan = FaultPlan::draw(&mut root.fork(), cfg.protocol, cfg.nodes);
        let vals = setup::validators(&mut root.fork(), cfg.nodes)?;
        let mut workload = root.fork();
        let submit_every_ms = *workload.pick(&[10u64, 30, 100]).unwrap_or(&30);
        let time = Arc::new(VirtualTime::default());
        let mut skew = root.fork();
        let nodes = (0..cfg.nodes)
            .map(|i| -> anyhow::Result<SimNode> {
                let store: Arc<dyn ChainStore> = Arc::new(MemStore::new());
                bcos_node::genesis::ensure_genesis(&*store, &chain.genesis)?;
                Ok(SimNode {
                    index: i,
                    byzantine: cfg.byzantine.filter(|b| b.node == i).map(|b| b.kind),
                    clock: Arc::new(NodeClock {
                        time: time.clone(),
                        skew_ms: skew.between(0, plan.clock_skew_ms_max),
                    }),
                    store,
                    durable: MemDurable::default(),
                    bodies: MemDurable::default(),
                    live: None,
                    wake_at: None,
                    checked_head: 0,
                    acked: Default::default(),
                    starts: 0,
                    last_state: None,
                    sent_state: None,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let group_id = setup::cluster_config(cfg, &vals, 0).group_id;
        let frame_bytes_max = setup::cluster_config(cfg, &vals, 0).frame_bytes_max as usize;
        let byz = cfg.byzantine.and_then(|b| {
            vals.get(b.node as usize)
                .map(|v| Byzantine::new(b.kind, b.node, cfg.nodes, group_id, v.keys.bls.clone()))
        });
        Ok(World {
            checkers: Checkers::new(cfg.protocol, &vals, group_id)?,
            client: Client::new(
                &chain.genesis.keys,
                chain.chain.chain_id,
                chain.chain.base_fee_wei,
            ),
            net: Network::new(plan.clone(), frame_bytes_max),
            recoverer: setup::inline_recoverer(chain)?,
            last_pos: vec![(0, 0); cfg.nodes as usize],
            last_new_view: Default::default(),
            synced_step: false,
            cfg: cfg.clone(),
            chain,
            rng: root,
            time,
            q: EventQueue::default(),
            nodes,
            vals,
            plan,
            byz,
            trace: Trace::default(),
            submit_every_ms,
            quiet_since: None,
            settled_at: None,
            stats: WorldStats::default(),
        })
    }

    pub fn now(&self) -> u64 {
        self.time.now_ms()
    }

    fn boot(&mut self) -> anyhow::Result<()> {
        for i in 0..self.cfg.nodes {
            self.start_node(i)?;
        }
        self.q
            .push(self.rng.between(1, self.submit_every_ms), Event::Submit);
        self.q.push(RETRY_INTERVAL_MS, Event::Retry);
        if let Some(every) = self.plan.crash_every_ms {
            self.q
                .push(self.rng.between(every / 2, every * 3 / 2), Event::Crash);
        }
        if let Some(every) = self.plan.partition_every_ms {
            self.q.push(
                self.rng.between(every / 2, every * 3 / 2),
                Event::PartitionStart,
            );
        }
        self.q.push(self.cfg.ticks, Event::Quiet);
        Ok(())
    }

    fn run_loop(&mut self) -> anyhow::Result<()> {
        let end_ms = self.cfg.ticks + LIVENESS_BOUND_MS;
        while let Some((at, ev)) = self.q.pop() {
            if at > end_ms {
                break;
            }
            self.time.advance_to(at);
            self.stats.events += 1;
            self.trace.u64(at);
            self.trace.u64(u64::from(ev.tag()));
            self.handle(at, ev)?;
            if self.checkers.failed() || self.settled_at.is_some() {
                break;
            }
        }
        let now = self.now();
        if !self.checkers.failed() && self.settled_at.is_none() {
            let heads = self.heads();
            let states: Vec<String> = self
                .nodes
                .iter()
                .map(|n| match &n.live {
                    Some(l) => format!(
                        "node {}: {}, deadline {} ms, pool {} ready {} gapped",
                        n.index,
                        l.driver.describe(),
                        l.driver.next_deadline_ms().saturating_sub(n.clock.skew_ms),
                        l.pool.ready_len(),
                        l.pool.gapped_len()
                    ),
                    None => format!("node {}: down", n.index),
                })
                .collect();
            let known = self.known_stall();
            self.checkers.fail_known(
                "liveness",
                now,
                format!(
                    "{LIVENESS_BOUND_MS} ms after the faults stopped: {} transactions without a \
                     receipt, honest heads {heads:?}; {}",
                    self.client.pending(),
                    states.join("; ")
                ),
                known,
            );
        }
        if self.checkers.height() == 0 && !self.checkers.failed() {
            self.checkers
                .fail_global("progress", now, "the run committed no block".into());
        }
        Ok(())
    }

    fn handle(&mut self, at: u64, ev: Event) -> anyhow::Result<()> {
        match ev {
            Event::Deliver { from, to, frame } => {
                self.trace.u64(u64::from(from) << 32 | u64::from(to));
                self.trace.bytes(&frame);
                self.deliver(from, to, &frame)?;
            }
            Event::Wake { node } => {
                self.trace.u64(u64::from(node));
                if self.nodes[node as usize].wake_at == Some(at) {
                    self.nodes[node as usize].wake_at = None;
                    self.step(node, None)?;
                }
            }
            Event::Submit => {
                if self.quiet_since.is_none() {
                    if let Some(h) = self.client.create(&mut self.rng, at) {
                        self.submit(h)?;
                    }
                    let next = at + self.rng.between(1, 2 * self.submit_every_ms);
                    self.q.push(next, Event::Submit);
                }
            }
            Event::Retry => {
                for h in self.client.due(at) {
                    self.submit(h)?;
                }
                self.q.push(at + RETRY_INTERVAL_MS, Event::Retry);
                self.check_settled(at);
            }
            Event::Crash => {
                if self.quiet_since.is_none() {
                    let up: Vec<u32> = self.up_nodes();
                    if self.down_count() < self.plan.down_max {
                        if let Some(&n) = self.rng.pick(&up) {
                            self.crash(n, false);
                        }
                    }
                    if let Some(every) = self.plan.crash_every_ms {
                        let next = at + self.rng.between(every / 2, every * 3 / 2);
                        self.q.push(next, Event::Crash);
                    }
                }
            }
            Event::Restart { node } => {
                if !self.nodes[node as usize].is_up() {
                    self.restart(node)?;
                }
            }
            Event::PartitionStart => {
                if self.quiet_since.is_none() {
                    self.net.partition(&mut self.rng, self.cfg.nodes);
                    let (lo, hi) = self.plan.partition_ms;
                    let heal = at + self.rng.between(lo, hi);
                    self.q.push(heal, Event::PartitionHeal);
                }
            }
            Event::PartitionHeal => {
                self.net.heal();
                if let (None, Some(every)) = (self.quiet_since, self.plan.partition_every_ms) {
                    let next = at + self.rng.between(every / 2, every * 3 / 2);
                    self.q.push(next, Event::PartitionStart);
                }
            }
            Event::Heal => self.net.heal(),
            Event::Quiet => {
                self.quiet_since = Some(at);
                self.net.plan = FaultPlan {
                    latency_ms: self.plan.latency_ms,
                    ..FaultPlan::calm(self.cfg.nodes)
                };
                self.net.heal();
                for n in 0..self.cfg.nodes {
                    if !self.nodes[n as usize].is_up() {
                        self.restart(n)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn up_nodes(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|n| n.is_up())
            .map(|n| n.index)
            .collect()
    }

    pub fn down_count(&self) -> u32 {
        self.nodes.iter().filter(|n| !n.is_up()).count() as u32
    }

    /// Every honest node's stored head.
    pub fn heads(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.honest())
            .map(|n| n.store.head().map_or(0, |(h, _)| h))
            .collect()
    }

    /// Whether a liveness failure is one of the driver bugs this simulator found and that
    /// are fixed since (src/sim/README.md, "Bugs found"; a regression is named), recognised by their exact state:
    /// - `raft-block-body-lost`: a Raft leader whose log ends above its head in an entry
    ///   whose block body it does not hold (bodies are kept in memory only; when every node
    ///   that had it crashed, no follower can execute and acknowledge the entry);
    /// - `pbft-locked-block-lost`: every honest PBFT node is locked on one block at the next
    ///   height, and the last new view re-proposed it without its bytes (the lock is durable,
    ///   the block is not: every node that held it restarted);
    /// - `pbft-view-change-split`: every honest PBFT node waits for a new view at one height
    ///   but not all in the same view (a node that left view v after seeing a quorum of view
    ///   changes for it no longer repeats its own, so the others never reach that quorum; on
    ///   a timeout without one they only repeat theirs, PBFT-R10).
    fn known_stall(&self) -> Option<&'static str> {
        let live: Vec<&crate::node::Live> = self
            .nodes
            .iter()
            .filter(|n| n.honest())
            .filter_map(|n| n.live.as_ref())
            .collect();
        if live.iter().any(|l| l.driver.raft_leader_without_block()) {
            return Some("raft-block-body-lost");
        }
        let locks: Vec<Option<(u64, bcos_types::B256)>> =
            live.iter().map(|l| l.driver.pbft_lock()).collect();
        if let Some(Some((h, hash))) = locks.first() {
            let all_same = locks.iter().all(|l| *l == Some((*h, *hash)));
            if all_same && self.last_new_view.get(h) == Some(&(*hash, false)) {
                return Some("pbft-locked-block-lost");
            }
        }
        let waiting: Vec<Option<(u64, u64)>> =
            live.iter().map(|l| l.driver.pbft_waiting_view()).collect();
        if let Some(Some((h, v))) = waiting.first() {
            let all_waiting_at_h = waiting.iter().all(|w| w.is_some_and(|(h2, _)| h2 == *h));
            let split = waiting.iter().any(|w| w.is_some_and(|(_, v2)| v2 != *v));
            if all_waiting_at_h && split {
                return Some("pbft-view-change-split");
            }
        }
        None
    }

    /// Liveness is reached once faults stopped, every transaction has a receipt and every
    /// honest node is up at one head.
    fn check_settled(&mut self, now: u64) {
        let Some(quiet) = self.quiet_since else {
            return;
        };
        if self.client.pending() > 0 || self.nodes.iter().any(|n| n.honest() && !n.is_up()) {
            return;
        }
        let heads = self.heads();
        if heads.windows(2).all(|w| w[0] == w[1]) {
            self.settled_at = Some(now - quiet);
        }
    }

    fn report(self, wall_s: f64) -> Report {
        let mut lat = self.client.latencies_ms();
        lat.sort_unstable();
        let failed = self.checkers.failed();
        let mut trace = self.trace;
        for v in &self.checkers.violations {
            trace.bytes(v.to_string().as_bytes());
        }
        let heads = self
            .nodes
            .iter()
            .map(|n| n.store.head().map_or(0, |(h, _)| h))
            .collect::<Vec<_>>();
        for h in &heads {
            trace.u64(*h);
        }
        Report {
            faults: self.plan.describe(),
            verdict: if failed { Verdict::Fail } else { Verdict::Pass },
            violations: self.checkers.violations.clone(),
            trace_hash: trace.finish(),
            virtual_ms: self.time.now_ms(),
            events: self.stats.events,
            height: self.checkers.height(),
            heads,
            client: self.client.stats.clone(),
            latency_ms_p50: lat.get(lat.len() / 2).copied().unwrap_or(0),
            latency_ms_max: lat.last().copied().unwrap_or(0),
            net: self.net.stats.clone(),
            crashes: self.stats.crashes,
            step_crashes: self.stats.step_crashes,
            restarts: self.stats.restarts,
            view_changes: match self.cfg.protocol {
                crate::config::Protocol::Pbft => self.stats.view_changes,
                crate::config::Protocol::Raft => self.checkers.leader_terms() as u64,
            },
            max_view_or_term: self.stats.max_view_or_term,
            byzantine_frames: self.byz.as_ref().map_or(0, |b| {
                b.stats.forged + b.stats.suppressed + b.stats.malformed + b.stats.stale
            }),
            settled_after_ms: self.settled_at,
            wall_s,
            config: self.cfg,
        }
    }
}
