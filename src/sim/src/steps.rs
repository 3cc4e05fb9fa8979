//! Stepping one driver (one node's part in one group) and looking at what the step did:
//! frames it sent go to the network ([`crate::traffic`]), blocks it announced become
//! receipts for the group's client, blocks it stored go to the group's agreement and
//! certificate checkers, and its next deadline becomes a wake-up. A crash may follow right
//! after the step, so that it falls between two steps of the driver; a crash takes down
//! every group of the node (one process), and a restart brings them all back.

use crate::config::Protocol;
use crate::events::Event;
use crate::node::SimNode;
use crate::world::World;
use bcos_node::cluster::wire::Wire;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tokio::sync::broadcast::error::TryRecvError;

/// The slot of `node` in group `g`; callers name only members.
pub(crate) fn rep(w: &World, g: usize, node: u32) -> &SimNode {
    w.groups[g]
        .rep(node)
        .unwrap_or_else(|| panic!("node {node} is not a member of group {g}"))
}

pub(crate) fn rep_mut(w: &mut World, g: usize, node: u32) -> &mut SimNode {
    w.groups[g]
        .rep_mut(node)
        .unwrap_or_else(|| panic!("node {node} is not a member of group {g}"))
}

impl World {
    /// Starts the node's driver of every group it is a member of.
    pub(crate) fn start_node(&mut self, node: u32) -> anyhow::Result<()> {
        for g in self.groups_of(node) {
            self.start_rep(g, node)?;
        }
        Ok(())
    }

    fn start_rep(&mut self, g: usize, node: u32) -> anyhow::Result<()> {
        let (chain, protocol) = (self.groups[g].chain, self.groups[g].spec.protocol);
        let validator = self.vals[node as usize].clone();
        let r = rep_mut(self, g, node);
        let started = catch_unwind(AssertUnwindSafe(|| r.start(chain, protocol, &validator)));
        let failure = match started {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("start failed: {e:#}")),
            Err(p) => Some(format!("start panicked: {}", panic_text(&p))),
        };
        if let Some(why) = failure {
            if rep(self, g, node).honest() {
                let now = self.now();
                self.groups[g]
                    .checkers
                    .fail("no driver failure", now, node, why);
            }
            return Ok(());
        }
        self.after_step(g, node, false)
    }

    /// Restarts every group of the node, each from what it made durable.
    pub(crate) fn restart(&mut self, node: u32) -> anyhow::Result<()> {
        tracing::info!(target: "bcos_sim", node, at_ms = self.now(), "restart");
        self.stats.restarts += 1;
        for g in self.groups_of(node) {
            let now = self.now();
            let grp = &mut self.groups[g];
            if let Some(n) = grp.reps.get(&node).filter(|n| n.honest()) {
                grp.checkers.check_acked(now, node, &*n.store, &n.acked)?;
            }
            let r = rep_mut(self, g, node);
            let sent = r.sent_state.take();
            r.last_state = None;
            self.start_rep(g, node)?;
            let r = rep(self, g, node);
            if let (Some(sent), Some(restored), true) = (sent, r.last_state.clone(), r.honest()) {
                let now = self.now();
                self.groups[g]
                    .checkers
                    .on_restart(now, node, &sent, &restored);
            }
        }
        Ok(())
    }

    /// Drops the node's drivers and pools, in every group; it restarts after a downtime (at
    /// once, give or take, once the faults have stopped).
    pub(crate) fn crash(&mut self, node: u32, right_after_step: bool) {
        let now = self.now();
        for g in self.groups_of(node) {
            if let Some(l) = &rep(self, g, node).live {
                tracing::info!(
                    target: "bcos_sim",
                    node,
                    group = g,
                    right_after_step,
                    at_ms = now,
                    state = %l.driver.describe(),
                    "crash"
                );
            }
            rep_mut(self, g, node).crash();
        }
        self.stats.crashes += 1;
        if right_after_step {
            self.stats.step_crashes += 1;
        }
        let (lo, hi) = match self.quiet_since {
            None => self.plan.downtime_ms,
            Some(_) => (50, 500),
        };
        let at = self.now() + self.rng.between(lo.max(1), hi.max(1));
        self.q.push(at, Event::Restart { node });
    }

    /// One turn of the driver's event loop: a frame in from consensus position `from`
    /// (`on_wire`), then `after_wake`; or `after_wake` alone for a wake-up. Each of the two
    /// is a driver step of its own, and a crash may fall after either.
    pub(crate) fn step(
        &mut self,
        g: usize,
        node: u32,
        input: Option<(u32, Wire)>,
    ) -> anyhow::Result<()> {
        if let Some((from, w)) = input {
            // A synced block legitimately moves a commit index onto an entry of an earlier
            // term (it was committed in that term); the commit rule is the leader's own.
            self.synced_step = matches!(w, Wire::SyncBlocks(_));
            let up = self.driver_call(g, node, |n| n.on_wire(from, w))?;
            self.synced_step = false;
            if !up {
                return Ok(());
            }
        }
        self.driver_call(g, node, |n| n.wake())?;
        Ok(())
    }

    /// Runs one driver entry point and looks at what it did; false when the driver is down
    /// afterwards (its node crashed, it failed or it was down already).
    fn driver_call(
        &mut self,
        g: usize,
        node: u32,
        call: impl FnOnce(&mut SimNode) -> anyhow::Result<()>,
    ) -> anyhow::Result<bool> {
        if !rep(self, g, node).is_up() {
            return Ok(false);
        }
        let n = rep_mut(self, g, node);
        let r = catch_unwind(AssertUnwindSafe(|| call(n)));
        let failure = match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("driver stopped: {e:#}")),
            Err(p) => Some(format!("driver panicked: {}", panic_text(&p))),
        };
        self.after_step(g, node, failure.is_none())?;
        if let Some(why) = failure {
            if rep(self, g, node).honest() {
                let now = self.now();
                self.groups[g]
                    .checkers
                    .fail("no driver failure", now, node, why);
            }
            // The node's process goes down with it, every group on it.
            if rep(self, g, node).is_up() {
                self.crash(node, false);
            }
        }
        Ok(rep(self, g, node).is_up())
    }

    pub(crate) fn after_step(
        &mut self,
        g: usize,
        node: u32,
        may_crash: bool,
    ) -> anyhow::Result<()> {
        let now = self.now();
        let mut frames = rep(self, g, node).take_outbox();
        let proposed = frames.iter().any(|(_, f)| crate::traffic::carries_block(f));
        let sent_any = !frames.is_empty();
        // A crash right after this step (decided now, so that the frames the step queued
        // can be lost with it).
        let crash_now = may_crash
            && (!frames.is_empty() || announced_pending(rep(self, g, node)))
            && self.quiet_since.is_none()
            && rep(self, g, node).is_up()
            && self.rng.chance(self.plan.step_crash_p)
            && self.down_count() < self.plan.down_max;
        if crash_now {
            let before = frames.len();
            let p = self.plan.crash_loses_queued_p;
            frames.retain(|_| !self.rng.chance(p));
            let lost = (before - frames.len()) as u64;
            self.net.count(g, |s| s.lost_in_crash += lost);
        }
        for (dest, frame) in frames {
            self.emit(g, node, dest, frame);
        }
        // Receipts the node showed.
        let grp = &mut self.groups[g];
        let mut decided = false;
        if let Some(n) = grp.reps.get_mut(&node) {
            let honest = n.honest();
            while let Some(live) = n.live.as_mut() {
                let b = match live.feed.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Lagged(k)) => {
                        anyhow::bail!("node {node} announced {k} blocks the simulator did not read")
                    }
                    Err(_) => break,
                };
                decided = true;
                tracing::debug!(target: "bcos_sim", node, group = g, at_ms = now, height = b.number(), txs = b.block.block.txs.len(), "announced");
                self.trace.u64(b.number());
                self.trace.bytes(b.block.hash.as_slice());
                if honest {
                    grp.checkers.on_announce(now, node, &b);
                    n.acked.insert(b.number(), b.block.hash);
                }
                grp.client.on_block(node, &b, now);
            }
            // Blocks it stored.
            if honest {
                let sets = |h: u64| n.live.as_ref().and_then(|l| l.driver.validators_at(h));
                n.checked_head =
                    grp.checkers
                        .check_store(now, node, &*n.store, n.checked_head, &sets)?;
            }
        }
        self.observe_position(g, node);
        self.observe_state(g, node, sent_any);
        self.schedule_wake(g, node);
        // The settlement properties, after every step too (a step may commit blocks).
        if let Some(s) = self.settlement.as_mut() {
            s.checker.check(&mut self.groups, now)?;
        }
        if crash_now {
            self.crash(node, true);
        } else if (decided || proposed)
            && self.quiet_since.is_none()
            && self.net.side.is_none()
            && self.rng.chance(self.plan.isolate_p)
        {
            // The whole node is cut off: its links carry every group.
            self.net.isolate(node, self.cfg.nodes);
            let (lo, hi) = self.plan.partition_ms;
            let heal = now + self.rng.between(lo, hi);
            self.q.push(heal, Event::Heal);
        }
        Ok(())
    }

    /// Step checks on the core's state, and what a restart must restore.
    fn observe_state(&mut self, g: usize, node: u32, sent_any: bool) {
        let at = self.now();
        let grp = &mut self.groups[g];
        let Some(n) = grp.reps.get_mut(&node).filter(|n| n.honest()) else {
            return;
        };
        let Some(now) = n.live.as_ref().map(|l| l.driver.core_state()) else {
            return;
        };
        if let Some(prev) = n.last_state.take() {
            if !self.synced_step {
                grp.checkers.on_step(at, node, &prev, &now);
            }
        }
        if sent_any {
            n.sent_state = Some(now.clone());
        }
        n.last_state = Some(now);
    }

    fn observe_position(&mut self, g: usize, node: u32) {
        let at = self.now();
        let grp = &mut self.groups[g];
        let Some(n) = grp.reps.get_mut(&node) else {
            return;
        };
        let Some(live) = n.live.as_ref() else {
            return;
        };
        let (height, view, leads) = live.driver.position();
        grp.max_view_or_term = grp.max_view_or_term.max(view);
        match grp.spec.protocol {
            Protocol::Pbft => {
                let (h0, v0) = n.last_pos;
                if height == h0 && view > v0 {
                    grp.view_changes += view - v0;
                }
            }
            Protocol::Raft => {
                if leads && n.honest() {
                    grp.checkers.on_leader(at, node, view);
                }
            }
        }
        let voters = live.driver.voters();
        if !grp.voter_sets.contains(&voters) {
            grp.voter_sets.insert(voters);
        }
        n.last_pos = (height, view);
    }

    fn schedule_wake(&mut self, g: usize, node: u32) {
        let now = self.now();
        let n = rep_mut(self, g, node);
        let Some(live) = n.live.as_ref() else { return };
        let deadline = live
            .driver
            .next_deadline_ms()
            .saturating_sub(n.clock.skew_ms);
        // A deadline already due after `after_wake` ran is served on the next ms.
        let at = deadline.max(now + 1);
        if n.wake_at.is_none_or(|w| at < w) {
            n.wake_at = Some(at);
            self.q.push(
                at,
                Event::Wake {
                    group: g as u32,
                    node,
                },
            );
        }
    }
}

/// Whether the driver's block feed holds announcements not read yet.
fn announced_pending(n: &SimNode) -> bool {
    n.live.as_ref().is_some_and(|l| !l.feed.is_empty())
}

pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
