//! Stepping one node and looking at what the step did: frames it sent go to the network
//! (through its Byzantine module, if it has one, or past the vote checker if it is honest),
//! blocks it announced become receipts for the client, blocks it stored go to the
//! agreement and certificate checkers, and its next deadline becomes a wake-up. A crash may
//! follow right after the step, so that it falls between two steps of the driver.

use crate::config::Protocol;
use crate::events::Event;
use crate::runtime::Dest;
use crate::world::World;
use alloy_primitives::bytes::Bytes as Frame;
use bcos_node::cluster::wire::Wire;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use tokio::sync::broadcast::error::TryRecvError;

impl World {
    pub(crate) fn start_node(&mut self, node: u32) -> anyhow::Result<()> {
        let i = node as usize;
        let cfg = crate::setup::cluster_config(&self.cfg, &self.vals, node);
        let started = catch_unwind(AssertUnwindSafe(|| {
            self.nodes[i].start(self.chain, self.cfg.protocol, cfg, &self.vals[i])
        }));
        let failure = match started {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("start failed: {e:#}")),
            Err(p) => Some(format!("start panicked: {}", panic_text(&p))),
        };
        if let Some(why) = failure {
            if self.nodes[i].honest() {
                self.checkers
                    .fail("no driver failure", self.now(), node, why);
            }
            return Ok(());
        }
        self.after_step(node, false)
    }

    pub(crate) fn restart(&mut self, node: u32) -> anyhow::Result<()> {
        let i = node as usize;
        tracing::info!(target: "bcos_sim", node, at_ms = self.now(), "restart");
        self.stats.restarts += 1;
        if self.nodes[i].honest() {
            let now = self.now();
            let n = &self.nodes[i];
            self.checkers.check_acked(now, node, &*n.store, &n.acked)?;
        }
        let sent = self.nodes[i].sent_state.take();
        self.nodes[i].last_state = None;
        self.start_node(node)?;
        if let (Some(sent), Some(restored), true) = (
            sent,
            self.nodes[i].last_state.clone(),
            self.nodes[i].honest(),
        ) {
            self.checkers.on_restart(self.now(), node, &sent, &restored);
        }
        Ok(())
    }

    /// Drops the node's driver and pool; it restarts after a downtime (at once, give or
    /// take, once the faults have stopped).
    pub(crate) fn crash(&mut self, node: u32, right_after_step: bool) {
        if let Some(l) = &self.nodes[node as usize].live {
            tracing::info!(
                target: "bcos_sim",
                node,
                right_after_step,
                at_ms = self.now(),
                state = %l.driver.describe(),
                "crash"
            );
        }
        self.nodes[node as usize].crash();
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

    /// One turn of the node's event loop: a frame in (`on_wire`), then `after_wake`; or
    /// `after_wake` alone for a wake-up. Each of the two is a driver step of its own, and a
    /// crash may fall after either.
    pub(crate) fn step(&mut self, node: u32, input: Option<(u32, Wire)>) -> anyhow::Result<()> {
        if let Some((from, w)) = input {
            // A synced block legitimately moves a commit index onto an entry of an earlier
            // term (it was committed in that term); the commit rule is the leader's own.
            self.synced_step = matches!(w, Wire::SyncBlocks(_));
            let up = self.driver_call(node, |n| n.on_wire(from, w))?;
            self.synced_step = false;
            if !up {
                return Ok(());
            }
        }
        self.driver_call(node, |n| n.wake())?;
        Ok(())
    }

    /// Runs one driver entry point and looks at what it did; false when the node is down
    /// afterwards (it crashed, failed or was down already).
    fn driver_call(
        &mut self,
        node: u32,
        call: impl FnOnce(&mut crate::node::SimNode) -> anyhow::Result<()>,
    ) -> anyhow::Result<bool> {
        let i = node as usize;
        if !self.nodes[i].is_up() {
            return Ok(false);
        }
        let n = &mut self.nodes[i];
        let r = catch_unwind(AssertUnwindSafe(|| call(n)));
        let failure = match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("driver stopped: {e:#}")),
            Err(p) => Some(format!("driver panicked: {}", panic_text(&p))),
        };
        self.after_step(node, failure.is_none())?;
        if let Some(why) = failure {
            if self.nodes[i].honest() {
                self.checkers
                    .fail("no driver failure", self.now(), node, why);
            }
            if self.nodes[i].is_up() {
                self.crash(node, false);
            }
        }
        Ok(self.nodes[i].is_up())
    }

    pub(crate) fn after_step(&mut self, node: u32, may_crash: bool) -> anyhow::Result<()> {
        let i = node as usize;
        let now = self.now();
        let mut frames = self.nodes[i].take_outbox();
        let proposed = frames.iter().any(|(_, f)| carries_block(f));
        let sent_any = !frames.is_empty();
        // A crash right after this step (decided now, so that the frames the step queued
        // can be lost with it).
        let crash_now = may_crash
            && (!frames.is_empty() || self.announced_pending(i))
            && self.quiet_since.is_none()
            && self.nodes[i].is_up()
            && self.rng.chance(self.plan.step_crash_p)
            && self.down_count() < self.plan.down_max;
        if crash_now {
            let before = frames.len();
            let p = self.plan.crash_loses_queued_p;
            frames.retain(|_| !self.rng.chance(p));
            self.net.stats.lost_in_crash += (before - frames.len()) as u64;
        }
        for (dest, frame) in frames {
            self.emit(node, dest, frame);
        }
        // Receipts the node showed.
        let honest = self.nodes[i].honest();
        let mut decided = false;
        while let Some(live) = self.nodes[i].live.as_mut() {
            let b = match live.feed.try_recv() {
                Ok(b) => b,
                Err(TryRecvError::Lagged(k)) => {
                    anyhow::bail!("node {node} announced {k} blocks the simulator did not read")
                }
                Err(_) => break,
            };
            decided = true;
            tracing::debug!(target: "bcos_sim", node, at_ms = now, height = b.number(), txs = b.block.block.txs.len(), "announced");
            self.trace.u64(b.number());
            self.trace.bytes(b.block.hash.as_slice());
            if honest {
                self.checkers.on_announce(now, node, &b);
                self.nodes[i].acked.insert(b.number(), b.block.hash);
            }
            self.client.on_block(node, &b, now);
        }
        // Blocks it stored.
        if honest {
            let n = &self.nodes[i];
            let checked = self
                .checkers
                .check_store(now, node, &*n.store, n.checked_head)?;
            self.nodes[i].checked_head = checked;
        }
        self.observe_position(node);
        self.observe_state(node, sent_any);
        self.schedule_wake(node);
        if crash_now {
            self.crash(node, true);
        } else if (decided || proposed)
            && self.quiet_since.is_none()
            && self.net.side.is_none()
            && self.rng.chance(self.plan.isolate_p)
        {
            self.net.isolate(node, self.cfg.nodes);
            let (lo, hi) = self.plan.partition_ms;
            let heal = now + self.rng.between(lo, hi);
            self.q.push(heal, Event::Heal);
        }
        Ok(())
    }

    /// Whether the node's block feed holds announcements not read yet.
    fn announced_pending(&self, i: usize) -> bool {
        self.nodes[i]
            .live
            .as_ref()
            .is_some_and(|l| !l.feed.is_empty())
    }

    /// Step checks on the core's state, and what a restart must restore.
    fn observe_state(&mut self, node: u32, sent_any: bool) {
        let i = node as usize;
        if !self.nodes[i].honest() {
            return;
        }
        let Some(now) = self.nodes[i].live.as_ref().map(|l| l.driver.core_state()) else {
            return;
        };
        if let Some(prev) = self.nodes[i].last_state.take() {
            if !self.synced_step {
                self.checkers.on_step(self.now(), node, &prev, &now);
            }
        }
        if sent_any {
            self.nodes[i].sent_state = Some(now.clone());
        }
        self.nodes[i].last_state = Some(now);
    }

    fn observe_position(&mut self, node: u32) {
        let i = node as usize;
        let Some(live) = self.nodes[i].live.as_ref() else {
            return;
        };
        let (height, view, leads) = live.driver.position();
        self.stats.max_view_or_term = self.stats.max_view_or_term.max(view);
        match self.cfg.protocol {
            Protocol::Pbft => {
                let (h0, v0) = self.last_pos[i];
                if height == h0 && view > v0 {
                    self.stats.view_changes += view - v0;
                }
            }
            Protocol::Raft => {
                if leads && self.nodes[i].honest() {
                    self.checkers.on_leader(self.now(), node, view);
                }
            }
        }
        self.last_pos[i] = (height, view);
    }

    fn schedule_wake(&mut self, node: u32) {
        let i = node as usize;
        let now = self.now();
        let n = &self.nodes[i];
        let Some(live) = n.live.as_ref() else { return };
        let deadline = live
            .driver
            .next_deadline_ms()
            .saturating_sub(n.clock.skew_ms);
        // A deadline already due after `after_wake` ran is served on the next ms.
        let at = deadline.max(now + 1);
        if n.wake_at.is_none_or(|w| at < w) {
            self.nodes[i].wake_at = Some(at);
            self.q.push(at, Event::Wake { node });
        }
    }

    /// A frame the node's driver sent leaves through its Byzantine module, or past the
    /// vote checker.
    fn emit(&mut self, node: u32, dest: Dest, frame: Frame) {
        let outs = match (&mut self.byz, self.nodes[node as usize].honest()) {
            (Some(b), false) => b.transform(&mut self.rng, dest, frame),
            _ => {
                if let Ok(w) = Wire::decode(&frame) {
                    let to = match dest {
                        Dest::To(p) => Some(p),
                        Dest::All => None,
                    };
                    self.checkers.on_send(self.now(), node, to, &w);
                }
                vec![(dest, frame)]
            }
        };
        let now = self.now();
        for (dest, frame) in outs {
            let to: Vec<u32> = match dest {
                Dest::To(p) if p < self.cfg.nodes && p != node => vec![p],
                Dest::To(_) => Vec::new(),
                Dest::All => (0..self.cfg.nodes).filter(|p| *p != node).collect(),
            };
            self.net
                .send(&mut self.rng, &mut self.q, now, node, &to, &frame);
        }
    }

    pub(crate) fn deliver(&mut self, from: u32, to: u32, frame: &Frame) -> anyhow::Result<()> {
        if !self.nodes[to as usize].is_up() {
            self.net.stats.to_down_node += 1;
            return Ok(());
        }
        self.net.stats.deliveries += 1;
        // The node's network task: undecodable frames are dropped, forwarded
        // transactions go to the pool, the rest to the driver.
        match Wire::decode(frame) {
            Err(_) => Ok(()),
            Ok(Wire::Txs(list)) => {
                let mut any = false;
                for raw in list {
                    any |= self.admit(to, &raw).is_ok();
                }
                if any {
                    self.step(to, None)?;
                }
                Ok(())
            }
            Ok(w) => {
                match &w {
                    Wire::PrePrepare { msg, .. } => {
                        tracing::debug!(target: "bcos_sim::frames", from, to, at_ms = self.now(), height = msg.height, view = msg.view, block = %msg.block_hash, "pre-prepare")
                    }
                    Wire::NewView {
                        height,
                        view,
                        reproposal,
                        block,
                        ..
                    } => {
                        tracing::debug!(target: "bcos_sim::frames", from, to, at_ms = self.now(), height, view, reproposal = ?reproposal, with_block = block.is_some(), "new view");
                        if let Some(r) = reproposal {
                            self.last_new_view.insert(*height, (*r, block.is_some()));
                        }
                    }
                    _ => {}
                }
                self.step(to, Some((from, w)))
            }
        }
    }

    /// The RPC path: static rules, sender recovery, pool admission.
    fn admit(&mut self, node: u32, raw: &[u8]) -> Result<(), String> {
        let live = self.nodes[node as usize]
            .live
            .as_ref()
            .ok_or_else(|| "node is down".to_string())?;
        let tx = live
            .pool
            .rules()
            .check_raw(raw)
            .map_err(|e| e.to_string())?;
        let rtx = self
            .recoverer
            .recover_one(Arc::new(tx))
            .map_err(|e| e.to_string())?;
        match live.pool.admit_batch(vec![Ok(rtx)]).pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no admission result".into()),
        }
    }

    /// Submits a client transaction to a random live node, which forwards it to its peers
    /// (as `bcos_node::cluster::gossip` does) and wakes its driver.
    pub(crate) fn submit(&mut self, hash: bcos_types::B256) -> anyhow::Result<()> {
        let now = self.now();
        let Some(raw) = self.client.txs.get(&hash).map(|r| r.raw.clone()) else {
            return Ok(());
        };
        self.client.sent(&hash, now);
        let up = self.up_nodes();
        let Some(&node) = self.rng.pick(&up) else {
            self.client.stats.no_node += 1;
            return Ok(());
        };
        match self.admit(node, &raw) {
            Ok(()) => {
                tracing::debug!(target: "bcos_sim", node, tx = %hash, "submitted");
                let fwd = Wire::Txs(vec![raw]).encode();
                self.emit(node, Dest::All, fwd);
                self.step(node, None)
            }
            Err(why) => {
                tracing::debug!(target: "bcos_sim", node, tx = %hash, %why, "submission refused");
                self.client.stats.refused += 1;
                Ok(())
            }
        }
    }
}

/// A proposal: a PBFT pre-prepare or new view with its block, a Raft append with blocks.
fn carries_block(frame: &Frame) -> bool {
    match Wire::decode(frame) {
        Ok(Wire::PrePrepare { .. }) => true,
        Ok(Wire::NewView { block, .. }) => block.is_some(),
        Ok(Wire::Raft { blocks, .. }) => !blocks.is_empty(),
        _ => false,
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
