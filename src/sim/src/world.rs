//! One run: N simulated nodes on one thread under virtual time, each running one real
//! driver per group it is a member of ([`crate::group`]). The loop pops the next event (a
//! delivery, a wake-up, a client action, a fault), steps the driver it concerns through the
//! driver's own entry points (`on_wire` then `after_wake`, as the node's event loop does),
//! then looks at what the step did ([`crate::steps`], [`crate::traffic`]).

use crate::byzantine::Byzantine;
use crate::checkers::LIVENESS_BOUND_MS;
use crate::client::RETRY_INTERVAL_MS;
use crate::config::SimConfig;
use crate::events::{Event, EventQueue};
use crate::faults::FaultPlan;
use crate::group::Group;
use crate::net::Network;
use crate::report::Report;
use crate::rng::SimRng;
use crate::runtime::{NodeClock, VirtualTime};
use crate::setup::{self, Validator};
use crate::trace::Trace;
use bcos_crypto::BatchRecoverer;
use std::sync::Arc;
use std::time::Instant;

/// What happened to the nodes (every group on a node at once).
#[derive(Debug, Default)]
pub struct WorldStats {
    pub events: u64,
    pub crashes: u64,
    pub step_crashes: u64,
    pub restarts: u64,
}

pub struct World {
    pub cfg: SimConfig,
    pub rng: SimRng,
    pub time: Arc<VirtualTime>,
    pub q: EventQueue,
    /// The groups, by number (one in a single-chain run).
    pub groups: Vec<Group>,
    /// Each node's keys: one identity per node, whatever groups it runs (GRP-N1).
    pub vals: Vec<Validator>,
    /// The faulty phase's plan (the network's plan turns calm when it ends).
    pub plan: FaultPlan,
    pub net: Network,
    pub byz: Option<Byzantine>,
    pub trace: Trace,
    /// Recovers senders of submitted and forwarded transactions (the node's ingress; one
    /// for every group, GRP-R1).
    pub recoverer: Arc<BatchRecoverer>,
    pub submit_every_ms: u64,
    pub quiet_since: Option<u64>,
    /// When every group had reached liveness (ms after the faults stopped).
    pub settled_at: Option<u64>,
    pub stats: WorldStats,
    /// The step being looked at handled a block-sync response.
    pub synced_step: bool,
    /// Settlement runs: the settler, the relayers and the settlement checker.
    pub settlement: Option<crate::settlement::Settlement>,
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
    pub(crate) fn new(cfg: &SimConfig) -> anyhow::Result<World> {
        let mut root = SimRng::new(cfg.seed);
        let specs = cfg.group_list();
        // Separate streams, drawn first: the faults and keys of a seed do not depend on
        // what the run does (so a seeded bug changes the run, not its setup).
        let mut plan = FaultPlan::draw(&mut root.fork(), cfg.protocol, cfg.nodes);
        plan.down_max = FaultPlan::down_max_for(&specs);
        let vals = setup::validators(&mut root.fork(), cfg.nodes)?;
        let mut workload = root.fork();
        let submit_every_ms = *workload.pick(&[10u64, 30, 100]).unwrap_or(&30);
        let time = Arc::new(VirtualTime::default());
        let mut skew = root.fork();
        let clocks: Vec<Arc<NodeClock>> = (0..cfg.nodes)
            .map(|_| {
                Arc::new(NodeClock {
                    time: time.clone(),
                    skew_ms: skew.between(0, plan.clock_skew_ms_max),
                })
            })
            .collect();
        let contracts = match &cfg.settlement {
            Some(s) => {
                let merchant = crate::settlement::merchant();
                crate::settlement::setup::build(cfg, &vals, s, merchant)?.contracts
            }
            None => Vec::new(),
        };
        let mut groups = specs
            .into_iter()
            .enumerate()
            .map(|(g, spec)| {
                let c = contracts
                    .get(g)
                    .cloned()
                    .unwrap_or_else(|| bcos_node::settlement::system_contracts(None));
                Group::new(cfg, g as u32, spec, &vals, &clocks, c)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Its own stream, drawn only in settlement runs (the others replay as before).
        let settlement = match &cfg.settlement {
            Some(s) => Some(crate::settlement::Settlement::new(
                s.clone(),
                &mut root.fork(),
                &mut groups,
            )?),
            None => None,
        };
        let base = setup::cluster_config(cfg, &vals, 0);
        // Single-group runs only (validated): group 0's vote domain and positions.
        let byz = cfg.byzantine.and_then(|b| {
            vals.get(b.node as usize).map(|v| {
                Byzantine::new(b.kind, b.node, cfg.nodes, base.group_id, v.keys.bls.clone())
            })
        });
        Ok(World {
            net: Network::new(plan.clone(), base.frame_bytes_max as usize, groups.len()),
            recoverer: setup::inline_recoverer(setup::chain()?)?,
            synced_step: false,
            cfg: cfg.clone(),
            rng: root,
            time,
            q: EventQueue::default(),
            groups,
            vals,
            plan,
            byz,
            trace: Trace::default(),
            submit_every_ms,
            quiet_since: None,
            settled_at: None,
            stats: WorldStats::default(),
            settlement,
        })
    }

    pub fn now(&self) -> u64 {
        self.time.now_ms()
    }

    pub(crate) fn boot(&mut self) -> anyhow::Result<()> {
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
        if self.cfg.membership_changes {
            self.q.push(self.cfg.ticks / 4, Event::Govern { step: 0 });
            self.q
                .push(self.cfg.ticks * 5 / 8, Event::Govern { step: 1 });
        }
        if let Some(s) = &self.settlement {
            let (settle, relay, relayers) =
                (s.settle_every_ms, s.relay_every_ms, s.relayers.len() as u32);
            self.q.push(self.rng.between(1, settle), Event::SettleTick);
            for relayer in 0..relayers {
                self.q
                    .push(self.rng.between(1, relay), Event::RelayTick { relayer });
            }
        }
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
            if let Some(s) = self.settlement.as_mut() {
                s.checker.check(&mut self.groups, at)?;
            }
            if self.failed() || self.settled_at.is_some() {
                break;
            }
        }
        // A run stopped by a violation says nothing of the other groups' liveness; one that
        // ran its course judges every group.
        if self.failed() {
            return Ok(());
        }
        let now = self.now();
        for g in &mut self.groups {
            if g.settled_at.is_none() {
                let (detail, known) = (g.stall_detail(), g.known_stall());
                g.checkers.fail_known("liveness", now, detail, known);
            }
            if g.checkers.height() == 0 && !g.checkers.failed() {
                g.checkers
                    .fail_global("progress", now, "the run committed no block".into());
            }
        }
        // XS-L1: with an honest relayer, every payment ends up credited once faults stop.
        if let Some(s) = &self.settlement {
            if !s.done() && !self.failed() {
                let detail = format!(
                    "{} ms after the faults stopped: {}",
                    LIVENESS_BOUND_MS,
                    s.checker.describe()
                );
                self.groups[crate::settlement::MERCHANT_GROUP]
                    .checkers
                    .fail_global(crate::settlement::checker::LIVENESS, now, detail);
            }
        }
        Ok(())
    }

    /// Some group's checkers found a violation.
    pub fn failed(&self) -> bool {
        self.groups.iter().any(|g| g.checkers.failed())
    }

    fn handle(&mut self, at: u64, ev: Event) -> anyhow::Result<()> {
        // A single-chain run's trace stays what it was before groups (its seeds replay).
        let multi = self.cfg.multi_group();
        match ev {
            Event::Deliver {
                group,
                from,
                to,
                frame,
            } => {
                self.trace.u64(u64::from(from) << 32 | u64::from(to));
                if multi {
                    self.trace.u64(u64::from(group));
                }
                self.trace.bytes(&frame);
                self.deliver(group as usize, from, to, &frame)?;
            }
            Event::Wake { group, node } => {
                self.trace.u64(u64::from(node));
                if multi {
                    self.trace.u64(u64::from(group));
                }
                let g = group as usize;
                let due = self.groups[g]
                    .rep_mut(node)
                    .filter(|r| r.wake_at == Some(at))
                    .map(|r| r.wake_at = None)
                    .is_some();
                if due {
                    self.step(g, node, None)?;
                }
            }
            Event::Submit => {
                if self.quiet_since.is_none() {
                    // A random group's users (no draw with one group: its seeds replay).
                    let g = if multi {
                        self.rng.below(self.groups.len() as u64) as usize
                    } else {
                        0
                    };
                    if let Some(h) = self.groups[g].client.create(&mut self.rng, at) {
                        self.submit(g, h)?;
                    }
                    let next = at + self.rng.between(1, 2 * self.submit_every_ms);
                    self.q.push(next, Event::Submit);
                }
            }
            Event::Retry => {
                for g in 0..self.groups.len() {
                    for h in self.groups[g].client.due(at) {
                        self.submit(g, h)?;
                    }
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
                if !self.node_up(node) {
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
            Event::SettleTick => self.settle_tick(at)?,
            Event::RelayTick { relayer } => {
                self.trace.u64(u64::from(relayer));
                self.relay_tick(at, relayer)?;
            }
            Event::ClientTx { group, node, raw } => {
                self.trace.u64(u64::from(group) << 32 | u64::from(node));
                self.trace.bytes(&raw);
                self.client_tx(group as usize, node, &raw)?;
            }
            Event::Govern { step } => {
                // GOV-R9: the last node leaves the voters, then comes back.
                use bcos_consensus::raft::MemberChange;
                let last = self.cfg.nodes - 1;
                let change = if step == 0 {
                    MemberChange::Remove(last)
                } else {
                    MemberChange::Add(last)
                };
                let action = bcos_node::cluster::membership::action(change);
                let h = self.groups[0].client.propose(action, at);
                self.submit(0, h)?;
            }
            Event::Quiet => {
                self.quiet_since = Some(at);
                self.net.plan = FaultPlan {
                    latency_ms: self.plan.latency_ms,
                    ..FaultPlan::calm(self.cfg.nodes)
                };
                self.net.heal();
                for n in 0..self.cfg.nodes {
                    if !self.node_up(n) {
                        self.restart(n)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the node runs (a crash takes down all its groups at once; every node is in
    /// some group).
    pub fn node_up(&self, node: u32) -> bool {
        self.groups
            .iter()
            .any(|g| g.rep(node).is_some_and(|r| r.is_up()))
    }

    pub fn up_nodes(&self) -> Vec<u32> {
        (0..self.cfg.nodes).filter(|n| self.node_up(*n)).collect()
    }

    pub fn down_count(&self) -> u32 {
        self.cfg.nodes - self.up_nodes().len() as u32
    }

    /// The groups node `node` is a member of.
    pub fn groups_of(&self, node: u32) -> Vec<usize> {
        (0..self.groups.len())
            .filter(|g| self.groups[*g].rep(node).is_some())
            .collect()
    }

    /// Liveness is reached once faults stopped and every group settled
    /// ([`Group::settled`]); each group's moment is kept for the report.
    fn check_settled(&mut self, now: u64) {
        let Some(quiet) = self.quiet_since else {
            return;
        };
        for g in &mut self.groups {
            if g.settled_at.is_none() && g.settled() {
                g.settled_at = Some(now - quiet);
            }
        }
        if let Some(s) = self.settlement.as_mut() {
            if s.complete_after_ms.is_none() && s.checker.complete() {
                s.complete_after_ms = Some(now - quiet);
            }
        }
        let settlement_done = self.settlement.as_ref().is_none_or(|s| s.done());
        if self.groups.iter().all(|g| g.settled_at.is_some()) && settlement_done {
            self.settled_at = Some(now - quiet);
        }
    }
}
