//! What every consensus driver shares (DESIGN.md "One core, three drivers"; issue 12): the
//! runtime (clock, transport, durable record, sync server), the chain's head and block
//! storage, timers, head announcements and block sync, the published consensus view, and
//! the order in which a core's outputs are carried out (PBFT-R2 / RAFT-R2: a persist is
//! durable before the next output runs). A protocol's driver ([`super::pbft`],
//! [`super::raft`], [`super::solo`]) is an adapter around its core that embeds this base and
//! handles only what differs: how messages go on the wire, how a decision finds its block
//! and certificate, and when to propose.

use super::config::{ClusterConfig, SeededBug};
use super::deferred::Deferred;
use super::sync_tracker::SyncTracker;
use super::timers::Timers;
use super::ConsensusView;
use crate::block_exec::{self, Candidate, SealerContext};
use crate::runtime::{load_json, store_json, Clock, DriverRuntime, Durable, SyncServe, Transport};
use anyhow::Context;
use bcos_consensus::{Decision, Output};
use bcos_crypto::BatchRecoverer;
use bcos_types::{Height, RecoveredTx, SealedBlock};
use serde::{de::DeserializeOwned, Serialize};
use std::hash::Hash;
use std::sync::Arc;

/// The outputs an adapter carries out itself; the base does persists, timers and evidence.
pub enum Routed<M> {
    Send { to: u32, msg: M },
    Broadcast(M),
    Commit(Decision),
}

pub struct DriverBase<T, D> {
    pub ctx: SealerContext,
    pub cfg: ClusterConfig,
    pub net: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    durable: Box<dyn Durable>,
    /// Bodies of uncommitted blocks the adapter must not lose in a crash.
    pub bodies: Box<dyn Durable>,
    sync_server: Box<dyn SyncServe>,
    pub recoverer: Arc<BatchRecoverer>,
    /// The store's head block.
    pub head: SealedBlock,
    pub timers: Timers<T>,
    pub sync: SyncTracker,
    pub view: Arc<ConsensusView>,
    /// Seeded bugs only: what the next step writes late.
    deferred: Deferred<D>,
}

impl<T, D> DriverBase<T, D>
where
    T: Copy + Eq + Hash + Ord,
    D: Serialize + DeserializeOwned,
{
    /// The base on the store's head, and the core's durable record if one was stored.
    pub fn new(
        ctx: SealerContext,
        cfg: ClusterConfig,
        rt: DriverRuntime,
        recoverer: Arc<BatchRecoverer>,
        view: Arc<ConsensusView>,
    ) -> anyhow::Result<(Self, Option<D>)> {
        let (head_n, _) = ctx.store.head().context("the store has no genesis block")?;
        let head = ctx
            .store
            .block_by_number(head_n)?
            .context("head block missing from the store")?;
        let DriverRuntime {
            net,
            clock,
            durable,
            bodies,
            sync_server,
        } = rt;
        let saved: Option<D> = load_json(&*durable)?;
        let base = DriverBase {
            sync: SyncTracker::new(&cfg, clock.now_ms()),
            ctx,
            cfg,
            net,
            clock,
            durable,
            bodies,
            sync_server,
            recoverer,
            head,
            timers: Timers::new(),
            view,
            deferred: Deferred::default(),
        };
        Ok((base, saved))
    }

    /// GOV-R7: the consensus timeout governance set, else `configured` (`[cluster]`'s).
    pub fn governed_timeout_ms(&self, configured: u64) -> u64 {
        self.ctx.consensus_timeout_ms().unwrap_or(configured)
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn bug(&self, bug: SeededBug) -> bool {
        self.cfg.seeded_bug == Some(bug)
    }

    /// Carries out one output in list order: persists (durable before anything after it),
    /// timers and evidence here; sends and decisions go back to the adapter.
    pub fn apply_output<M>(&mut self, o: Output<M, T, D>) -> anyhow::Result<Option<Routed<M>>> {
        match o {
            Output::Persist(d) if self.bug(SeededBug::SendBeforePersist) => {
                self.deferred.persist = Some(d);
            }
            Output::Persist(d) => store_json(&mut *self.durable, &d)?,
            Output::SetTimer { timer, ticks } => self.timers.set(timer, ticks, self.now_ms()),
            Output::CancelTimer(t) => self.timers.cancel(&t),
            Output::Evidence { culprit, reason } => {
                tracing::warn!(culprit, %reason, "consensus evidence");
            }
            Output::Send { to, msg } => return Ok(Some(Routed::Send { to, msg })),
            Output::Broadcast(msg) => return Ok(Some(Routed::Broadcast(msg))),
            Output::Commit(d) => return Ok(Some(Routed::Commit(d))),
        }
        Ok(None)
    }

    /// Seeded bugs only: finishes what the previous step left undone (called first in every
    /// step).
    pub fn flush_deferred(&mut self) -> anyhow::Result<()> {
        if let Some(d) = self.deferred.persist.take() {
            store_json(&mut *self.durable, &d)?;
        }
        if let Some((c, cert)) = self.deferred.commit.take() {
            block_exec::commit(&self.ctx, c, cert)?;
        }
        Ok(())
    }

    /// Timers whose deadline passed, in a fixed order.
    pub fn due_timers(&mut self) -> Vec<T> {
        let now = self.now_ms();
        self.timers.take_due(now)
    }

    /// When the owner must wake the driver even if nothing arrives.
    pub fn next_deadline_ms(&self) -> u64 {
        self.timers.next_deadline_ms(self.sync.next_status_ms())
    }

    /// Makes a decided block durable with its certificate (or, with the seeded bug, only
    /// announces it) and moves the head.
    pub fn store_block(&mut self, c: Candidate, certificate: Vec<u8>) -> anyhow::Result<()> {
        let block = c.block.clone();
        self.note_decided(&block);
        if self.bug(SeededBug::AckBeforeDurable) {
            if let Some((old, cert)) = self.deferred.commit.take() {
                block_exec::commit(&self.ctx, old, cert)?;
            }
            block_exec::announce_early(&self.ctx, &c, &certificate);
            self.deferred.commit = Some((c, certificate));
        } else {
            block_exec::commit(&self.ctx, c, certificate)?;
        }
        self.advance_head(block);
        Ok(())
    }

    /// Counts a decided block: the consensus stage's items are the decided blocks'
    /// transactions (its busy time is recorded per core input), as for execute and commit.
    pub fn note_decided(&self, block: &SealedBlock) {
        self.ctx
            .metrics
            .consensus
            .record(block.block.txs.len(), std::time::Duration::ZERO);
    }

    /// The driver builds on `block` from now on (stored, or committing: SEAL-R6).
    pub fn advance_head(&mut self, block: SealedBlock) {
        self.head = block;
        self.sync.on_head_advanced(self.now_ms());
    }

    /// Senders of a block's transactions (each hash recovered once node-wide).
    pub fn recover(&self, block: &SealedBlock) -> anyhow::Result<Vec<RecoveredTx>> {
        block_exec::recover_block(&self.recoverer, &self.ctx.metrics, block)
    }

    /// Head announcements when due, and a sync request when this node is behind its peers
    /// or its core is ahead of its store.
    pub fn periodic(&mut self, behind_core: bool, ask_anyone: bool) {
        let (status, behind) = self.sync.tick(self.now_ms(), &self.head);
        if let Some(s) = status {
            self.net.broadcast(s.encode());
        }
        if behind || behind_core {
            self.request_sync(ask_anyone);
        }
    }

    /// Asks a peer that is ahead (or, `ask_anyone`, any peer) for the blocks after the head.
    pub fn request_sync(&mut self, ask_anyone: bool) {
        let now = self.now_ms();
        if let Some((peer, req)) = self.sync.request(now, self.head.number(), ask_anyone) {
            self.net.send(peer, req.encode());
        }
    }

    /// Hands a peer's sync request to the sync server (budgets apply there).
    pub fn serve_sync(&self, peer: u32, start: Height, count: u64) {
        self.sync_server.offer(peer, start, count);
    }

    /// A sync response was applied (`applied` blocks stored); true if more is to be asked.
    pub fn on_synced(&mut self, peer: u32, applied: usize) -> bool {
        let now = self.now_ms();
        self.sync
            .on_response(peer, applied, self.head.number(), now);
        applied > 0 && self.sync.best(now) > self.head.number()
    }
}
