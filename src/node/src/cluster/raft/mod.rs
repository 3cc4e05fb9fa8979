//! The Raft network driver (spec/raft.md, driver obligations): one thread owns the sans-IO
//! core and applies its outputs in list order — persist (fsync) before any send, then sends,
//! timers and commits. Blocks travel beside AppendEntries keyed by hash; committed entries
//! are executed and stored in height order; membership requests in committed blocks (the
//! system contract, [`super::membership`]) are handed to the core by the leader; a node
//! behind the leader's kept log catches up by block sync from members.
//!
//! Raft tolerates crash faults only: peers are authenticated by mutual TLS, and what an
//! authenticated member sends is trusted (a synced block is re-executed and must match its
//! header, but its certificate is a log position, not a proof).

mod append;
mod blocks;
mod bodies;
mod forward;
mod sync;

use super::base::{DriverBase, Routed};
use super::config::{ClusterConfig, SeededBug};
use super::wire::Wire;
use crate::block_exec::{Candidate, SealerContext};
use crate::runtime::DriverRuntime;
use bcos_consensus::raft::{MemberChange, RaftConfig, RaftDurable, RaftMsg, RaftTimer, Role};
use bcos_consensus::{Decision, Input, Output, Protocol, Raft};
use bcos_crypto::BatchRecoverer;
use bcos_types::{Bytes, Height, SealedBlock, B256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

pub use super::event_loop::Event;

/// Blocks received beside appends and not yet committed, kept at most: the core's
/// `uncommitted_entries_max` (64). Each arrived in a frame of at most `frame_bytes_max`.
const BLOCKS_KEPT_MAX: usize = 64;

pub struct RaftDriverParts {
    pub ctx: SealerContext,
    pub rt: DriverRuntime,
    pub cfg: ClusterConfig,
    pub recoverer: std::sync::Arc<BatchRecoverer>,
    pub view: std::sync::Arc<super::ConsensusView>,
}

pub struct RaftDriver {
    base: DriverBase<RaftTimer, RaftDurable>,
    core: Raft,
    /// Executed blocks waiting for their commit: the leader's own proposals, and blocks a
    /// follower checked before acknowledging their entries.
    candidates: HashMap<B256, Candidate>,
    /// Blocks found invalid at `head + 1` (never acknowledged).
    invalid: HashSet<B256>,
    /// The part of the leader's last append that waits for this node's head to reach it.
    held: Option<(u32, bcos_consensus::raft::Append)>,
    /// Set when a committed block does not execute here: this node stops applying blocks
    /// (its state would fork) but keeps running (spec/raft.md §5.1).
    halted_at: Option<Height>,
    /// Blocks by hash from appends (and our own proposals), for commits and re-sends.
    blocks: HashMap<B256, SealedBlock>,
    /// Committed decisions waiting for their block (or an earlier height).
    pending: BTreeMap<Height, Decision>,
    /// Membership changes governance wants and the configuration lacks (GOV-R9), read
    /// from the committed state after every stored block.
    wanted: BTreeSet<MemberChange>,
    last_role: Option<(u64, Role, Option<u32>)>,
    /// The uncommitted bodies last made durable ([`bodies`]).
    bodies_written: BTreeSet<(Height, B256)>,
    /// The head and since when (ms) it has not moved, and when a follower may next hand
    /// its ready transactions to the leader ([`forward`]).
    stall: crate::cluster::stall_forward::StallForward,
    /// A governed election timeout this node refused (logged once per value).
    timeout_refused: Option<u64>,
}

impl RaftDriver {
    pub fn new(p: RaftDriverParts) -> anyhow::Result<Self> {
        let mut rc = RaftConfig::new(p.cfg.members.len() as u32, p.cfg.index);
        if !p.cfg.voters.is_empty() {
            rc.members = p.cfg.voters.iter().copied().collect();
        }
        rc.election_timeout_ticks = p.cfg.election_timeout_ms;
        rc.election_spread_ticks = p.cfg.election_spread_ms;
        rc.heartbeat_ticks = p.cfg.heartbeat_ms;
        rc.bug = match p.cfg.seeded_bug {
            Some(SeededBug::RaftVoteTwice) => Some(bcos_consensus::raft::SeededBug::VoteTwice),
            Some(SeededBug::RaftCommitOldTerm) => {
                Some(bcos_consensus::raft::SeededBug::CommitOldTerm)
            }
            _ => None,
        };
        let (base, saved) = DriverBase::new(p.ctx, p.cfg, p.rt, p.recoverer, p.view)?;
        let core =
            Raft::restore(rc, base.head.number(), saved).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut d = RaftDriver {
            base,
            core,
            candidates: HashMap::new(),
            invalid: HashSet::new(),
            held: None,
            halted_at: None,
            blocks: HashMap::new(),
            pending: BTreeMap::new(),
            wanted: BTreeSet::new(),
            last_role: None,
            bodies_written: BTreeSet::new(),
            stall: Default::default(),
            timeout_refused: None,
        };
        d.load_bodies()?;
        // GOV-R9: what governance wants survives a restart in the state, not in memory.
        d.refresh_wanted()?;
        d.apply_governed_timeout();
        Ok(d)
    }

    pub fn run(mut self, inbox: &super::inbox::Inbox) -> anyhow::Result<()> {
        self.start()?;
        let clock = self.base.clock.clone();
        super::event_loop::run(&mut self, inbox, &*clock)
    }

    /// The first step after construction (a restarted node arms its election timer).
    pub fn start(&mut self) -> anyhow::Result<()> {
        let out = self.core.resume();
        self.apply(out)?;
        self.publish();
        Ok(())
    }

    /// The committed head this driver stands on.
    pub fn head(&self) -> &SealedBlock {
        &self.base.head
    }

    pub fn core(&self) -> &Raft {
        &self.core
    }

    /// What the driver holds beside its core, for a stall report: bodies, executed
    /// candidates, blocks found invalid, a held append, a halt.
    pub fn describe_held(&self) -> String {
        format!(
            "bodies {:?}, candidates {}, invalid {}, held {:?}, halted {:?}",
            self.blocks.values().map(|b| b.number()).collect::<Vec<_>>(),
            self.candidates.len(),
            self.invalid.len(),
            self.held
                .as_ref()
                .map(|(from, a)| (*from, a.entries.first().map(|e| e.index))),
            self.halted_at
        )
    }

    /// Whether this node holds the body of the block `hash` (uncommitted, kept in memory).
    pub fn holds_block(&self, hash: &B256) -> bool {
        self.blocks.contains_key(hash) || self.candidates.contains_key(hash)
    }

    fn feed(&mut self, input: Input<RaftMsg, RaftTimer>) -> anyhow::Result<()> {
        let started = Instant::now();
        let out = self.core.handle(input);
        self.base.ctx.metrics.consensus.record(0, started.elapsed());
        self.apply(out)?;
        self.publish();
        Ok(())
    }

    fn publish(&mut self) {
        let now = (self.core.term(), self.core.role(), self.core.leader());
        if self.last_role != Some(now) {
            tracing::info!(term = now.0, role = ?now.1, leader = ?now.2, members = ?self.core.members(), "raft role");
            self.last_role = Some(now);
        }
        self.base.view.set(super::ConsensusSnapshot {
            next_height: self.base.head.number() + 1,
            view: self.core.term(),
            leader: self.core.leader().unwrap_or(u32::MAX),
            timeout_ms: self.core.config().election_timeout_ticks,
        });
        self.base
            .view
            .set_members(self.core.members().into_iter().collect());
    }

    /// Outputs in list order; a persist is durable before the next output runs (RAFT-R2).
    fn apply(
        &mut self,
        outputs: Vec<Output<RaftMsg, RaftTimer, RaftDurable>>,
    ) -> anyhow::Result<()> {
        for o in outputs {
            match self.base.apply_output(o)? {
                Some(Routed::Send { to, msg }) => {
                    let w = self.to_wire(&msg);
                    self.base.net.send(to, w.encode());
                }
                Some(Routed::Broadcast(msg)) => {
                    let w = self.to_wire(&msg);
                    self.base.net.broadcast(w.encode());
                }
                Some(Routed::Commit(d)) => {
                    tracing::debug!(height = d.height, "decided");
                    self.base.ctx.metrics.flow.block(
                        crate::flow::BlockStage::Committed,
                        d.height,
                        Some(&d.block_hash),
                    );
                    if d.height > self.base.head.number() {
                        self.pending.insert(d.height, d);
                    }
                }
                None => {}
            }
        }
        self.store_pending()
    }

    /// An append carries the blocks of its entries.
    fn to_wire(&self, msg: &RaftMsg) -> Wire {
        let blocks = match msg {
            RaftMsg::Append(a) => a
                .entries
                .iter()
                .filter_map(|e| self.block_bytes(e.index, &e.block_hash))
                .collect(),
            _ => Vec::new(),
        };
        Wire::Raft {
            msg: Bytes::from(postcard::to_allocvec(msg).unwrap_or_default()),
            blocks,
        }
    }

    /// Keeps a body from an append. When the room is full the lowest heights win: the next
    /// block to execute must always fit, or a follower far behind could fill the room with
    /// later blocks and never execute the next one (bcos-sim raft seed 201).
    fn keep_block(&mut self, b: SealedBlock) {
        if self.blocks.len() >= BLOCKS_KEPT_MAX {
            // Bodies at or below the head are of no use any more (a committed entry's block
            // is in the store); one that never left (its height was filled by sync, or by
            // another block) would otherwise hold its place for good, and a room full of
            // them refuses every new body: the follower then never acknowledges the next
            // entry (bcos-sim raft seed 674, with wallet-like resubmission).
            let head = self.base.head.number();
            self.blocks.retain(|_, k| k.number() > head);
        }
        if self.blocks.len() >= BLOCKS_KEPT_MAX && !self.blocks.contains_key(&b.hash) {
            let highest = self.blocks.values().map(|k| (k.number(), k.hash)).max();
            match highest {
                Some((n, h)) if n > b.number() => {
                    self.blocks.remove(&h);
                }
                _ => return,
            }
        }
        self.blocks.insert(b.hash, b);
    }

    fn block_bytes(&self, height: Height, hash: &B256) -> Option<Bytes> {
        if let Some(b) = self.blocks.get(hash) {
            return Some(Bytes::from(b.block.encode_bytes()));
        }
        // An executed block whose body left `blocks` (a later append named another block at
        // its height) may still be this leader's entry: without this, a leader could hold
        // the block and never send it (bcos-sim raft seed 48).
        if let Some(c) = self.candidates.get(hash) {
            return Some(Bytes::from(c.block.block.encode_bytes()));
        }
        // A committed entry a slow follower still needs.
        match self.base.ctx.store.block_by_number(height) {
            Ok(Some(b)) if b.hash == *hash => Some(Bytes::from(b.block.encode_bytes())),
            _ => None,
        }
    }

    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        if from as usize >= self.base.cfg.members.len() || from == self.base.cfg.index {
            return Ok(());
        }
        match w {
            Wire::Raft { msg, blocks } => {
                let msg: RaftMsg = match postcard::from_bytes(&msg) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(peer = from, "dropped undecodable raft message: {e}");
                        return Ok(());
                    }
                };
                if let RaftMsg::Append(a) = &msg {
                    if !a.entries.is_empty() {
                        tracing::debug!(
                            peer = from,
                            term = a.term,
                            first = a.entries[0].index,
                            count = a.entries.len(),
                            commit = a.commit,
                            "append"
                        );
                    }
                    let wanted: HashMap<B256, Height> =
                        a.entries.iter().map(|e| (e.block_hash, e.index)).collect();
                    // A block for a height this append fills with another block is stale (a
                    // deposed leader's): it gives way, so stale blocks cannot fill the room.
                    let heights: HashMap<Height, B256> =
                        a.entries.iter().map(|e| (e.index, e.block_hash)).collect();
                    self.blocks
                        .retain(|hash, b| heights.get(&b.number()).is_none_or(|h| h == hash));
                    for raw in blocks {
                        if let Ok(b) = bcos_types::Block::decode_bytes(&raw) {
                            let b = b.seal();
                            if wanted.get(&b.hash) == Some(&b.number()) {
                                self.keep_block(b);
                            }
                        }
                    }
                }
                if let RaftMsg::Append(a) = msg {
                    return self.admit_append(from, a);
                }
                if let RaftMsg::AppendReply(r) = &msg {
                    tracing::debug!(
                        peer = from,
                        matched = r.match_index,
                        ok = r.success,
                        "append reply"
                    );
                }
                self.feed(Input::Message { from, msg })
            }
            Wire::Status { height, .. } => {
                self.base.sync.on_status(from, height);
                Ok(())
            }
            Wire::SyncRequest { from: start, count } => self.serve_sync(from, start, count),
            Wire::SyncBlocks(blocks) => self.apply_synced(from, blocks),
            Wire::Txs(_) | Wire::Amop(_) => Ok(()),
            other => {
                tracing::warn!(
                    peer = from,
                    kind = other.kind(),
                    "dropped: pbft message in a raft group"
                );
                Ok(())
            }
        }
    }

    fn fire_timers(&mut self) -> anyhow::Result<()> {
        for t in self.base.due_timers() {
            self.feed(Input::Timeout(t))?;
        }
        Ok(())
    }

    fn is_leader(&self) -> bool {
        self.core.role() == Role::Leader
    }
}

impl super::event_loop::Steps for RaftDriver {
    fn next_deadline_ms(&self) -> u64 {
        self.base.next_deadline_ms()
    }

    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        self.base.flush_deferred()?;
        RaftDriver::on_wire(self, from, w)
    }

    fn after_wake(&mut self) -> anyhow::Result<()> {
        self.base.flush_deferred()?;
        self.fire_timers()?;
        self.periodic()?;
        self.forward_if_stalled();
        self.maybe_seal()
    }
}
