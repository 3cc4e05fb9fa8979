//! The PBFT driver (spec/pbft.md §5): an adapter around the sans-IO core on the shared
//! [`DriverBase`] (runtime, head, timers, sync, output order: persist before any send).
//! Around the core it signs and checks what the core leaves to its driver: BLS
//! votes and certificates ([`super::votes`]), signed view changes, blocks shipped beside
//! pre-prepares and new views (checked, executed, fed back as `Executed`), and block sync
//! with certificate verification ([`sync`]).
//!
//! Handlers live in sibling files: [`inbound`] (peer messages), [`outbound`] (core outputs
//! to the wire), [`blocks`] (proposals, execution, decisions), [`sync`].

mod blocks;
mod bodies;
mod forward;
mod inbound;
mod outbound;
pub mod proposals;
mod sync;
pub mod validator_set;
pub mod view_changes;

use super::base::{DriverBase, Routed};
use super::config::{ClusterConfig, Member, SeededBug};
use super::keys::SignerKeys;
use super::votes::VoteBook;
use super::wire::Wire;
use crate::block_exec::{Candidate, SealerContext};
use crate::flow::BlockStage;
use crate::runtime::DriverRuntime;
use bcos_consensus::pbft::{CommitCert, PbftConfig, PbftDurable, PbftMsg, PbftTimer};
use bcos_consensus::{Input, Output, Pbft, Protocol};
use bcos_crypto::BatchRecoverer;
use bcos_types::{Height, SealedBlock, B256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

pub use super::event_loop::Event;

/// A height the core decided whose block is not stored yet: its certificate still needs
/// valid votes, or the block itself must come from a peer.
struct PendingDecision {
    cert: CommitCert,
}

pub struct PbftDriver {
    base: DriverBase<PbftTimer, PbftDurable>,
    core: Pbft,
    keys: SignerKeys,
    members: Vec<Member>,
    book: VoteBook,
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
    /// Height for which "the pool has work" was told to a non-leader core.
    work_signaled: Option<(Height, u64)>,
    /// Bodies of the blocks this node voted for above its head, as made durable
    /// ([`bodies`]).
    voted_bodies: BTreeMap<(Height, B256), Vec<u8>>,
    /// Proofs of this node's locks (height, view, block), as made durable ([`bodies`]).
    lock_proofs: BTreeMap<(Height, u64, B256), bodies::KeptProof>,
    /// When the head stopped, and when ready transactions may next go to every validator
    /// ([`forward`]).
    stall: crate::cluster::stall_forward::StallForward,
    /// Consensus messages for heights whose validator set is not known yet
    /// ([`validator_set`]).
    held: validator_set::HeldMsgs,
    /// View timeouts that fired while the core was ahead of the store.
    held_timeouts: Vec<PbftTimer>,
    /// The validator set in force from each height since this driver started (PBFT-R20),
    /// the latest `validator_set::SET_HISTORY_MAX` changes.
    set_history: BTreeMap<Height, Vec<u32>>,
}

pub struct PbftDriverParts {
    pub ctx: SealerContext,
    pub rt: DriverRuntime,
    pub keys: SignerKeys,
    pub cfg: ClusterConfig,
    pub recoverer: std::sync::Arc<BatchRecoverer>,
    pub view: std::sync::Arc<super::ConsensusView>,
}

impl PbftDriver {
    pub fn new(p: PbftDriverParts) -> anyhow::Result<Self> {
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
        if validators.get(me) != Some(&p.keys.bls_public()) {
            anyhow::bail!("keys/bls.key does not match members[{me}].bls_public_key");
        }
        if p.cfg.members[me].node_id != p.keys.node_id {
            anyhow::bail!("keys/node_id.key does not match members[{me}].node_id");
        }
        // PBFT-R20: the sets of head + 1 and head + 2, from the committed state.
        let (s1, s2) = {
            let state: &dyn bcos_storage::StateReader = &*p.ctx.store;
            validator_set::sets_from_state(state, p.cfg.members.len() as u32, &p.cfg.voters)?
        };
        let mut book = VoteBook::new(
            p.cfg.group_id,
            me,
            p.keys.bls.clone(),
            validators,
            p.cfg.vote_cache_entries,
            p.cfg.votes_per_peer_max,
        );
        let members = p.cfg.members.clone();
        let (base, saved) = DriverBase::new(p.ctx, p.cfg, p.rt, p.recoverer, p.view)?;
        let next = base.head.number() + 1;
        book.set_validators_from(next, s1.iter().map(|i| *i as usize).collect());
        book.set_validators_from(next + 1, s2.iter().map(|i| *i as usize).collect());
        // A snapshot a height ahead of the store was made under that height's set.
        let ahead = saved
            .as_ref()
            .is_some_and(|d: &PbftDurable| d.height == next + 1);
        let set = if ahead { s2.clone() } else { s1.clone() };
        let mut pcfg = PbftConfig::with_validators(set, base.cfg.index);
        pcfg.view_timeout_ticks = base.cfg.view_timeout_ms;
        pcfg.bug = match base.cfg.seeded_bug {
            Some(SeededBug::PbftQuorumTwoF) => Some(bcos_consensus::pbft::SeededBug::QuorumTwoF),
            Some(SeededBug::PbftNoLock) => Some(bcos_consensus::pbft::SeededBug::NoLock),
            _ => None,
        };
        let core =
            Pbft::restore(pcfg, base.head.number(), saved).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut d = PbftDriver {
            view_changes: view_changes::ViewChanges::new(members.len()),
            members,
            base,
            core,
            keys: p.keys,
            book,
            proposals: proposals::Proposals::default(),
            candidates: HashMap::new(),
            invalid: HashSet::new(),
            pending: BTreeMap::new(),
            work_signaled: None,
            voted_bodies: BTreeMap::new(),
            lock_proofs: BTreeMap::new(),
            stall: Default::default(),
            held: Default::default(),
            held_timeouts: Vec::new(),
            set_history: BTreeMap::new(),
        };
        d.note_set(next, s1);
        d.note_set(next + 1, s2);
        d.load_bodies()?;
        d.apply_governed_timeout();
        Ok(d)
    }

    /// Runs until `Stop`; an error means going on would be unsafe (storage failure, or this
    /// node's execution disagreeing with a certified decision).
    pub fn run(mut self, inbox: &super::inbox::Inbox) -> anyhow::Result<()> {
        self.start()?;
        let clock = self.base.clock.clone();
        super::event_loop::run(&mut self, inbox, &*clock)
    }

    /// The first step after construction (a restart resends this node's latest votes).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.core.config().votes() {
            let out = self.core.resume();
            self.apply(out)?;
        }
        self.publish();
        self.execute_proposed()
    }

    /// The committed head this driver stands on.
    pub fn head(&self) -> &SealedBlock {
        &self.base.head
    }

    pub fn core(&self) -> &Pbft {
        &self.core
    }

    /// The validator set that decided (or decides) `height`, if this driver has known it
    /// since it started (PBFT-R20).
    pub fn validators_at(&self, height: Height) -> Option<Vec<u32>> {
        self.set_history
            .range(..=height)
            .next_back()
            .map(|(_, s)| s.clone())
    }

    /// Feeds one input to the core and carries out what it asks. A core that does not vote,
    /// or works on a height whose set is unknown or not its own, gets nothing about that
    /// height: its timeouts wait for the next stored block (PBFT-R20).
    fn feed(&mut self, input: Input<PbftMsg, PbftTimer>) -> anyhow::Result<()> {
        if !self.core.config().votes() {
            return Ok(());
        }
        if !self.settled() {
            match input {
                Input::Timeout(t) => {
                    if !self.held_timeouts.contains(&t) {
                        self.held_timeouts.push(t);
                    }
                    return Ok(());
                }
                Input::Message { ref msg, .. } if msg.height() >= self.core.next_height() => {
                    return Ok(());
                }
                _ => {}
            }
        }
        let started = Instant::now();
        let out = self.core.handle(input);
        self.base.ctx.metrics.consensus.record(0, started.elapsed());
        self.apply(out)?;
        self.retry_pending()?;
        self.publish();
        Ok(())
    }

    pub(super) fn publish(&self) {
        self.base.view.set(super::ConsensusSnapshot {
            next_height: self.core.next_height(),
            view: self.core.view(),
            leader: self.core.leader(),
            timeout_ms: self.core.config().view_timeout_ticks,
        });
        let set = &self.core.config().validators;
        if self.base.view.members() != *set {
            self.base.view.set_members(set.clone());
        }
    }

    /// PBFT-R2: outputs in list order; a persist is durable before the next output runs.
    fn apply(
        &mut self,
        outputs: Vec<Output<PbftMsg, PbftTimer, PbftDurable>>,
    ) -> anyhow::Result<()> {
        self.keep_lock_proof(&outputs)?;
        for o in outputs {
            match self.base.apply_output(o)? {
                Some(Routed::Send { to, msg }) => {
                    self.keep_voted_body(&msg)?;
                    self.flow_vote(&msg);
                    if let Some(w) = self.wire_for(msg) {
                        self.base.net.send(to, w.encode());
                    }
                }
                Some(Routed::Broadcast(msg)) => {
                    self.keep_voted_body(&msg)?;
                    self.flow_vote(&msg);
                    if let Some(w) = self.wire_for(msg) {
                        self.base.net.broadcast(w.encode());
                    }
                }
                Some(Routed::Commit(d)) => {
                    let flow = &self.base.ctx.metrics.flow;
                    flow.block(BlockStage::Committed, d.height, Some(&d.block_hash));
                    self.on_decision(d)?
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Flow log: this node's own votes mark its phases. A pre-prepare (the leader's) or a
    /// prepare vote means it took the proposal; a commit vote, that it saw a prepare quorum.
    fn flow_vote(&self, msg: &PbftMsg) {
        let flow = &self.base.ctx.metrics.flow;
        match msg {
            PbftMsg::PrePrepare(m) => {
                flow.block(BlockStage::PrePrepared, m.height, Some(&m.block_hash))
            }
            PbftMsg::Prepare(m) => {
                flow.block(BlockStage::PrePrepared, m.height, Some(&m.block_hash))
            }
            PbftMsg::Commit(m) => {
                flow.block(BlockStage::Prepared, m.height, Some(&m.body.block_hash))
            }
            PbftMsg::ViewChange(_) | PbftMsg::NewView(_) => {}
        }
    }

    fn fire_timers(&mut self) -> anyhow::Result<()> {
        for t in self.base.due_timers() {
            tracing::info!(?t, "view timer fired");
            self.feed(Input::Timeout(t))?;
        }
        Ok(())
    }

    fn me(&self) -> u32 {
        self.base.cfg.index
    }
}

impl super::event_loop::Steps for PbftDriver {
    fn next_deadline_ms(&self) -> u64 {
        self.base.next_deadline_ms()
    }

    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        self.base.flush_deferred()?;
        PbftDriver::on_wire(self, from, w)
    }

    fn after_wake(&mut self) -> anyhow::Result<()> {
        self.base.flush_deferred()?;
        self.fire_timers()?;
        self.periodic()?;
        self.forward_if_stalled();
        self.maybe_seal()
    }
}
