//! One simulated node's part in one group (with a single group, the node itself): what
//! survives a crash (its chain store and its consensus record) and what a crash destroys
//! (the driver, its pool, its block feed, its in-flight work). A node crash takes down its
//! part in every group at once (`crate::steps`).

use crate::config::{ByzantineKind, Protocol};
use crate::runtime::{MemDurable, NodeClock, Outbox, SimTransport};
use crate::setup::{self, Chain, Validator};
use alloy_primitives::bytes::Bytes;
use bcos_execution::SystemContracts;
use bcos_node::cluster::config::ClusterConfig;
use bcos_node::cluster::event_loop::Steps;
use bcos_node::cluster::pbft::{PbftDriver, PbftDriverParts};
use bcos_node::cluster::raft::{RaftDriver, RaftDriverParts};
use bcos_node::cluster::sync_server::InlineSyncServer;
use bcos_node::cluster::wire::Wire;
use bcos_node::cluster::ConsensusView;
use bcos_node::pool::Pool;
use bcos_node::runtime::{DriverRuntime, Transport};
use bcos_storage::{CachedStore, ChainStore, MemStore};
use bcos_types::{CommittedBlock, SealedBlock, B256};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What the checkers watch of a core's state after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreState {
    Pbft {
        height: u64,
        view: u64,
        /// The view of its lock (PBFT-R6).
        lock_view: Option<u64>,
        /// Its own prepare and commit votes at this height: (view, what it voted for).
        prepared: Option<(u64, B256)>,
        committed: Option<(u64, B256)>,
    },
    Raft {
        term: u64,
        voted_for: Option<u32>,
        /// Last log entry (index, term).
        last: (u64, u64),
        commit: u64,
        /// The term of the entry at the commit index, when the log window holds it.
        commit_term: Option<u64>,
        leader: bool,
    },
}

/// The production driver of either protocol.
pub enum Driver {
    Pbft(Box<PbftDriver>),
    Raft(Box<RaftDriver>),
}

impl Driver {
    pub fn steps(&mut self) -> &mut dyn Steps {
        match self {
            Driver::Pbft(d) => &mut **d,
            Driver::Raft(d) => &mut **d,
        }
    }

    pub fn next_deadline_ms(&self) -> u64 {
        match self {
            Driver::Pbft(d) => d.next_deadline_ms(),
            Driver::Raft(d) => d.next_deadline_ms(),
        }
    }

    pub fn head(&self) -> &SealedBlock {
        match self {
            Driver::Pbft(d) => d.head(),
            Driver::Raft(d) => d.head(),
        }
    }

    /// Where the driver stands, for a liveness report.
    pub fn describe(&self) -> String {
        use bcos_consensus::Protocol as _;
        match self {
            Driver::Pbft(d) => {
                let c = d.core();
                let st = c.state();
                format!(
                    "head {}, core at height {} view {}{}, lock {}, timer {:?}, work {}, leader {}",
                    d.head().number(),
                    c.next_height(),
                    c.view(),
                    if st.view_active {
                        ""
                    } else {
                        " (waiting for its new view)"
                    },
                    st.lock.as_ref().map_or("none".to_string(), |l| format!(
                        "view {} {:.10}",
                        l.view,
                        l.block_hash.to_string()
                    )),
                    st.timer,
                    st.work_pending,
                    c.leader()
                )
            }
            Driver::Raft(d) => {
                let c = d.core();
                let last = c.state().log.last();
                format!(
                    "head {}, {:?} in term {}, log last {}@{}, commit {}, {}",
                    d.head().number(),
                    c.role(),
                    c.term(),
                    last.index,
                    last.term,
                    c.commit_index(),
                    d.describe_held()
                )
            }
        }
    }

    /// Raft: this node leads, its log ends in an uncommitted entry above its head, and it
    /// does not hold that entry's block. The body lives only in memory (the durable record
    /// names it by hash): when every node that had it crashed, no follower can execute the
    /// entry, so none acknowledges it, and the leader can neither commit nor replace it (a
    /// driver bug the simulator found, fixed by durable bodies; src/sim/README.md).
    pub fn raft_leader_without_block(&self) -> bool {
        match self {
            Driver::Raft(d) => {
                let c = d.core();
                let last = c.state().log.last();
                let hash = c.state().log.get(last.index).map(|e| e.block_hash);
                c.role() == bcos_consensus::raft::Role::Leader
                    && last.index > d.head().number()
                    && hash.is_some_and(|h| !d.holds_block(&h))
            }
            Driver::Pbft(_) => false,
        }
    }

    /// PBFT: the block this node's core is locked on at the height it works on.
    pub fn pbft_lock(&self) -> Option<(u64, B256)> {
        match self {
            Driver::Pbft(d) => d
                .core()
                .state()
                .lock
                .as_ref()
                .filter(|l| l.height == d.head().number() + 1)
                .map(|l| (l.height, l.block_hash)),
            Driver::Raft(_) => None,
        }
    }

    pub fn core_state(&self) -> CoreState {
        use bcos_consensus::Protocol as _;
        match self {
            Driver::Pbft(d) => {
                let c = d.core();
                let st = c.state();
                CoreState::Pbft {
                    height: c.next_height(),
                    view: c.view(),
                    lock_view: st.lock.as_ref().map(|l| l.view),
                    prepared: st.my_prepare.as_ref().map(|p| (p.view, p.block_hash)),
                    committed: st.my_commit.as_ref().map(|m| (m.view, m.body.block_hash)),
                }
            }
            Driver::Raft(d) => {
                let c = d.core();
                let st = c.state();
                let last = st.log.last();
                CoreState::Raft {
                    term: c.term(),
                    voted_for: st.voted_for,
                    last: (last.index, last.term),
                    commit: c.commit_index(),
                    commit_term: st.log.term_at(c.commit_index()),
                    leader: c.role() == bcos_consensus::raft::Role::Leader,
                }
            }
        }
    }

    /// PBFT: (height, view) this node's core waits for a new view in, if it does.
    pub fn pbft_waiting_view(&self) -> Option<(u64, u64)> {
        use bcos_consensus::Protocol as _;
        match self {
            Driver::Pbft(d) => {
                let c = d.core();
                (!c.state().view_active).then(|| (c.next_height(), c.view()))
            }
            Driver::Raft(_) => None,
        }
    }

    /// The voters this node's core runs with: Raft's configuration (RAFT-R15), PBFT's
    /// validator set at the height it works on (PBFT-R20).
    pub fn voters(&self) -> Vec<u32> {
        match self {
            Driver::Raft(d) => d.core().members().iter().copied().collect(),
            Driver::Pbft(d) => d.core().config().validators.clone(),
        }
    }

    /// PBFT: the validator set that decided `height`, as this driver knows it.
    pub fn validators_at(&self, height: u64) -> Option<Vec<u32>> {
        match self {
            Driver::Pbft(d) => d.validators_at(height),
            Driver::Raft(_) => None,
        }
    }

    /// (height the core works on, its view or term, whether this node leads it now).
    pub fn position(&self) -> (u64, u64, bool) {
        use bcos_consensus::Protocol as _;
        match self {
            Driver::Pbft(d) => {
                let c = d.core();
                (c.next_height(), c.view(), c.leader() == c.config().me)
            }
            Driver::Raft(d) => {
                let c = d.core();
                (
                    c.commit_index() + 1,
                    c.term(),
                    c.role() == bcos_consensus::raft::Role::Leader,
                )
            }
        }
    }
}

/// A running incarnation of a node.
pub struct Live {
    pub driver: Driver,
    pub pool: Arc<Pool>,
    pub outbox: Arc<Outbox>,
    pub feed: broadcast::Receiver<Arc<CommittedBlock>>,
}

/// A node's slot in one group of the simulated cluster.
pub struct SimNode {
    /// The node's index in the cluster (its position in the group may differ).
    pub index: u32,
    pub byzantine: Option<ByzantineKind>,
    /// The node's clock (shared by its groups: one process).
    pub clock: Arc<NodeClock>,
    /// Its cluster section in this group (consensus positions, vote domain).
    pub cluster: ClusterConfig,
    /// The group's system contracts (each incarnation's executor gets them).
    pub contracts: SystemContracts,
    /// Survives crashes: commits are atomic and durable on return.
    pub store: Arc<dyn ChainStore>,
    /// The same store, typed: a MemStore behind the state cache (disabled when
    /// `--state-cache-entries` is 0). A crash empties the cache, as a node process opens
    /// its store with an empty one (DUR-R7).
    pub state_cache: Arc<CachedStore<MemStore>>,
    /// Survives crashes: the consensus core's record.
    pub durable: MemDurable,
    /// Survives crashes: the bodies of uncommitted blocks the driver made durable.
    pub bodies: MemDurable,
    pub live: Option<Live>,
    /// When the queue holds this node's next wake-up (earlier ones are stale).
    pub wake_at: Option<u64>,
    /// Heights of the store already checked (agreement, certificates).
    pub checked_head: u64,
    /// Blocks this node announced (receipts it showed), by height: it must still have them
    /// after any crash.
    pub acked: BTreeMap<u64, B256>,
    /// Incarnations started (1 + restarts).
    pub starts: u32,
    /// The core's state after its last step (step checks compare against it).
    pub last_state: Option<CoreState>,
    /// The core's state after the last step in which it sent frames: what others may rely
    /// on, so what a restart must restore (or pass).
    pub sent_state: Option<CoreState>,
    /// The (height, view) its core was at after its last step (view changes are counted
    /// from it).
    pub last_pos: (u64, u64),
}

impl SimNode {
    pub fn is_up(&self) -> bool {
        self.live.is_some()
    }

    pub fn honest(&self) -> bool {
        self.byzantine.is_none()
    }

    /// Starts (or restarts) the node from its store and durable record: a fresh pool, a
    /// fresh driver, as a node process starting after a crash.
    pub fn start(
        &mut self,
        chain: &Chain,
        protocol: Protocol,
        validator: &Validator,
    ) -> anyhow::Result<()> {
        let cfg = self.cluster.clone();
        let nc = setup::node_context(
            chain,
            self.store.clone(),
            self.clock.clone(),
            self.contracts.clone(),
        )?;
        let outbox = Arc::new(Outbox::default());
        let transport: Arc<dyn Transport> = Arc::new(SimTransport(outbox.clone()));
        let clock: Arc<dyn bcos_node::runtime::Clock> = self.clock.clone();
        let rt = DriverRuntime {
            net: transport.clone(),
            clock: clock.clone(),
            durable: Box::new(self.durable.clone()),
            bodies: Box::new(self.bodies.clone()),
            sync_server: Box::new(InlineSyncServer::new(
                self.store.clone(),
                transport,
                clock,
                &cfg,
            )),
        };
        let view = Arc::new(ConsensusView::default());
        let mut driver = match protocol {
            Protocol::Pbft => Driver::Pbft(Box::new(PbftDriver::new(PbftDriverParts {
                ctx: nc.ctx,
                rt,
                keys: validator.keys.clone(),
                cfg,
                recoverer: setup::inline_recoverer(chain)?,
                view,
            })?)),
            Protocol::Raft => Driver::Raft(Box::new(RaftDriver::new(RaftDriverParts {
                ctx: nc.ctx,
                rt,
                cfg,
                recoverer: setup::inline_recoverer(chain)?,
                view,
            })?)),
        };
        match &mut driver {
            Driver::Pbft(d) => d.start()?,
            Driver::Raft(d) => d.start()?,
        }
        self.live = Some(Live {
            driver,
            pool: nc.pool,
            outbox,
            feed: nc.feed,
        });
        self.wake_at = None;
        self.starts += 1;
        Ok(())
    }

    /// Drops everything but the store and the durable record (and empties the store's
    /// state cache). Frames already handed to the network stay in flight.
    pub fn crash(&mut self) {
        self.live = None;
        self.wake_at = None;
        self.state_cache.clear_cache();
    }

    /// Feeds one frame from consensus position `from` to the driver (the first half of the node's event-loop turn; the
    /// simulator may crash the node before the second half, [`SimNode::wake`]).
    pub fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        match self.live.as_mut() {
            Some(live) => live.driver.steps().on_wire(from, w),
            None => Ok(()),
        }
    }

    /// `after_wake`: due timers, status and sync, sealing (after every input, and on a
    /// deadline or pool work).
    pub fn wake(&mut self) -> anyhow::Result<()> {
        match self.live.as_mut() {
            Some(live) => live.driver.steps().after_wake(),
            None => Ok(()),
        }
    }

    pub fn take_outbox(&self) -> Vec<(crate::runtime::Dest, Bytes)> {
        self.live
            .as_ref()
            .map(|l| l.outbox.take())
            .unwrap_or_default()
    }
}
