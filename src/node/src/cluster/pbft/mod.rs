//! The PBFT network driver (spec/pbft.md §5): one thread owns the sans-IO core and carries
//! out its outputs in list order — persist (fsync) before any send, then sends, timers and
//! commits. Around the core it signs and checks what the core leaves to its driver: BLS
//! votes and certificates ([`super::votes`]), signed view changes, blocks shipped beside
//! pre-prepares and new views (checked, executed, fed back as `Executed`), and block sync
//! with certificate verification ([`sync`]).
//!
//! Handlers live in sibling files: [`inbound`] (peer messages), [`outbound`] (core outputs
//! to the wire), [`blocks`] (proposals, execution, decisions), [`sync`].

mod blocks;
mod inbound;
mod outbound;
pub mod proposals;
mod sync;
pub mod view_changes;

use super::config::{ClusterConfig, Member, SeededBug};
use super::keys::SignerKeys;
use super::votes::VoteBook;
use super::wire::Wire;
use crate::block_exec::{Candidate, SealerContext};
use crate::runtime::{load_json, store_json, Clock, DriverRuntime, Durable, SyncServe, Transport};
use anyhow::Context;
use bcos_consensus::pbft::{CommitCert, PbftConfig, PbftDurable, PbftMsg, PbftTimer};
use bcos_consensus::{Input, Output, Pbft, Protocol};
use bcos_crypto::BatchRecoverer;
use bcos_types::{Height, SealedBlock, B256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

pub use super::event_loop::Event;

/// A height the core decided whose block is not stored yet: its certificate still needs
/// valid votes, or the block itself must come from a peer.
struct PendingDecision {
    cert: CommitCert,
}

pub struct PbftDriver {
    ctx: SealerContext,
    core: Pbft,
    net: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    keys: SignerKeys,
    members: Vec<Member>,
    cfg: ClusterConfig,
    book: VoteBook,
    recoverer: BatchRecoverer,
    durable: Box<dyn Durable>,
    /// The store's head block.
    head: SealedBlock,
    /// Proposed blocks not yet executed (or for a later height): the first per view.
    proposals: proposals::Proposals,
    /// Blocks for `head + 1` executed and checked.
    candidates: HashMap<B256, Candidate>,
    /// Blocks for `head + 1` found invalid (never voted for).
    invalid: HashSet<B256>,
    /// Signed view changes by (height, view, signer): a new view forwards them.
    view_changes: view_changes::ViewChanges,
    /// Decided heights not stored yet.
    pending: BTreeMap<Height, PendingDecision>,
    timers: super::timers::Timers<PbftTimer>,
    sync: super::sync_tracker::SyncTracker,
    sync_server: Box<dyn SyncServe>,
    view: std::sync::Arc<super::ConsensusView>,
    /// Height for which "the pool has work" was told to a non-leader core.
    work_signaled: Option<(Height, u64)>,
    /// Seeded bugs only: what the next step writes late.
    deferred: super::deferred::Deferred<PbftDurable>,
}

pub struct PbftDriverParts {
    pub ctx: SealerContext,
    pub rt: DriverRuntime,
    pub keys: SignerKeys,
    pub cfg: ClusterConfig,
    pub recoverer: BatchRecoverer,
    pub view: std::sync::Arc<super::ConsensusView>,
}

impl PbftDriver {
    pub fn new(p: PbftDriverParts) -> anyhow::Result<Self> {
        let (head_n, _) = p
            .ctx
            .store
            .head()
            .context("the store has no genesis block")?;
        let head = p
            .ctx
            .store
            .block_by_number(head_n)?
            .context("head block missing from the store")?;
        let validators = p
            .cfg
            .members
            .iter()
            .map(|m| {
                bcos_crypto::bls::BlsPublicKey::from_hex(&m.bls_public_key)
                    .map_err(|e| anyhow::anyhow!("member {} bls_public_key: {e}", m.index))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let me = p.cfg.index as usize;
        if validators[me] != p.keys.bls_public() {
            anyhow::bail!("keys/bls.key does not match members[{me}].bls_public_key");
        }
        if p.cfg.members[me].node_id != p.keys.node_id {
            anyhow::bail!("keys/node_id.key does not match members[{me}].node_id");
        }
        let mut pcfg = PbftConfig::new(p.cfg.members.len() as u32, p.cfg.index);
        pcfg.view_timeout_ticks = p.cfg.view_timeout_ms;
        pcfg.bug = match p.cfg.seeded_bug {
            Some(SeededBug::PbftQuorumTwoF) => Some(bcos_consensus::pbft::SeededBug::QuorumTwoF),
            Some(SeededBug::PbftNoLock) => Some(bcos_consensus::pbft::SeededBug::NoLock),
            _ => None,
        };
        let DriverRuntime {
            net,
            clock,
            durable,
            sync_server,
        } = p.rt;
        let saved: Option<PbftDurable> = load_json(&*durable)?;
        let core = Pbft::restore(pcfg, head_n, saved).map_err(|e| anyhow::anyhow!("{e}"))?;
        let book = VoteBook::new(
            p.cfg.group_id,
            me,
            p.keys.bls.clone(),
            validators,
            p.cfg.vote_cache_entries,
            p.cfg.votes_per_peer_max,
        );
        Ok(PbftDriver {
            sync: super::sync_tracker::SyncTracker::new(&p.cfg, clock.now_ms()),
            sync_server,
            clock,
            view_changes: view_changes::ViewChanges::new(p.cfg.members.len()),
            members: p.cfg.members.clone(),
            ctx: p.ctx,
            core,
            net,
            keys: p.keys,
            cfg: p.cfg,
            book,
            recoverer: p.recoverer,
            durable,
            head,
            proposals: proposals::Proposals::default(),
            candidates: HashMap::new(),
            invalid: HashSet::new(),
            pending: BTreeMap::new(),
            timers: super::timers::Timers::new(),
            work_signaled: None,
            deferred: Default::default(),
            view: p.view,
        })
    }

    /// Runs until `Stop`; an error means going on would be unsafe (storage failure, or this
    /// node's execution disagreeing with a certified decision).
    pub fn run(mut self, inbox: &super::inbox::Inbox) -> anyhow::Result<()> {
        self.start()?;
        let clock = self.clock.clone();
        super::event_loop::run(&mut self, inbox, &*clock)
    }

    /// The first step after construction (a restart resends this node's latest votes).
    pub fn start(&mut self) -> anyhow::Result<()> {
        let out = self.core.resume();
        self.apply(out)?;
        self.publish();
        self.execute_proposed()
    }

    /// The committed head this driver stands on.
    pub fn head(&self) -> &SealedBlock {
        &self.head
    }

    pub fn core(&self) -> &Pbft {
        &self.core
    }

    /// Feeds one input to the core and carries out what it asks.
    fn feed(&mut self, input: Input<PbftMsg, PbftTimer>) -> anyhow::Result<()> {
        let started = Instant::now();
        let out = self.core.handle(input);
        self.ctx.metrics.consensus.record(0, started.elapsed());
        self.apply(out)?;
        self.retry_pending()?;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        self.view.set(super::ConsensusSnapshot {
            next_height: self.core.next_height(),
            view: self.core.view(),
            leader: self.core.leader(),
        });
        if self.view.members().is_empty() {
            self.view
                .set_members((0..self.members.len() as u32).collect());
        }
    }

    /// PBFT-R2: outputs in list order; a persist is durable before the next output runs.
    fn apply(
        &mut self,
        outputs: Vec<Output<PbftMsg, PbftTimer, PbftDurable>>,
    ) -> anyhow::Result<()> {
        for o in outputs {
            match o {
                Output::Persist(d) if self.cfg.seeded_bug == Some(SeededBug::SendBeforePersist) => {
                    self.deferred.persist = Some(d)
                }
                Output::Persist(d) => store_json(&mut *self.durable, &d)?,
                Output::Send { to, msg } => {
                    if let Some(w) = self.wire_for(msg) {
                        self.net.send(to, w.encode());
                    }
                }
                Output::Broadcast(msg) => {
                    if let Some(w) = self.wire_for(msg) {
                        self.net.broadcast(w.encode());
                    }
                }
                Output::SetTimer { timer, ticks } => {
                    self.timers.set(timer, ticks, self.clock.now_ms())
                }
                Output::CancelTimer(t) => self.timers.cancel(&t),
                Output::Commit(d) => self.on_decision(d)?,
                Output::Evidence { culprit, reason } => {
                    tracing::warn!(culprit, %reason, "consensus evidence");
                }
            }
        }
        Ok(())
    }

    /// Seeded bugs only: finishes what the previous step left undone.
    fn flush_deferred(&mut self) -> anyhow::Result<()> {
        if let Some(d) = self.deferred.persist.take() {
            store_json(&mut *self.durable, &d)?;
        }
        if let Some((c, cert)) = self.deferred.commit.take() {
            crate::block_exec::commit(&self.ctx, c, cert)?;
        }
        Ok(())
    }

    fn fire_timers(&mut self) -> anyhow::Result<()> {
        for t in self.timers.take_due(self.clock.now_ms()) {
            tracing::info!(?t, "view timer fired");
            self.feed(Input::Timeout(t))?;
        }
        Ok(())
    }

    fn me(&self) -> u32 {
        self.cfg.index
    }
}

impl super::event_loop::Steps for PbftDriver {
    fn next_deadline_ms(&self) -> u64 {
        self.timers.next_deadline_ms(self.sync.next_status_ms())
    }

    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        self.flush_deferred()?;
        PbftDriver::on_wire(self, from, w)
    }

    fn after_wake(&mut self) -> anyhow::Result<()> {
        self.flush_deferred()?;
        self.fire_timers()?;
        self.periodic()?;
        self.maybe_seal()
    }
}
