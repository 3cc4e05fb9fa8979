//! Multi-node groups: configuration, keys (`bcos init`), the P2P wire format, transaction
//! forwarding, BLS vote book and the consensus drivers. A node with a `[cluster]` section
//! runs one of these drivers instead of the solo sealer.

pub mod base;
pub mod ca;
pub mod commit_stage;
pub mod config;
pub mod deferred;
pub mod durable;
pub mod event_loop;
pub mod gossip;
pub mod inbox;
pub mod init;
pub mod keys;
pub mod membership;
pub mod pbft;
pub mod raft;
pub mod solo;
pub mod stall_forward;
pub mod sync_server;
pub mod sync_tracker;
pub mod timers;
pub mod trust;
pub mod votes;
pub mod wire;

use crate::block_exec::SealerContext;
use crate::runtime::{DriverRuntime, FileDurable, Transport};
use anyhow::Context;
use bcos_crypto::BatchRecoverer;
use bcos_net::{Network, NetworkHandle};
use bcos_sync::{Doorbell, Wake};
use config::{ClusterConfig, ConsensusKind};
use inbox::Inbox;
use keys::NodeKeys;
use pbft::{PbftDriver, PbftDriverParts};
use std::sync::Arc;

/// The consensus position a driver publishes for RPC (`bcos_getConsensusStatus`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusSnapshot {
    pub next_height: u64,
    pub view: u64,
    pub leader: u32,
    /// The consensus timeout in force (GOV-R7): PBFT's view-0 timeout, Raft's least
    /// election timeout.
    pub timeout_ms: u64,
}

#[derive(Debug, Default)]
pub struct ConsensusView {
    snapshot: parking_lot::Mutex<ConsensusSnapshot>,
    /// The voting members (Raft's current configuration; PBFT's validator set at the
    /// height its core works on).
    members: parking_lot::Mutex<Vec<u32>>,
    /// PBFT: the validator set in force from each height, as far back as the driver knew
    /// it when it started (spec/pbft.md PBFT-R20).
    sets: parking_lot::Mutex<std::collections::BTreeMap<u64, Vec<u32>>>,
    /// Times the view (PBFT) or term (Raft) went up since the node started.
    view_changes: std::sync::atomic::AtomicU64,
}

impl ConsensusView {
    pub fn get(&self) -> ConsensusSnapshot {
        *self.snapshot.lock()
    }

    pub fn set(&self, s: ConsensusSnapshot) {
        let mut snapshot = self.snapshot.lock();
        // Raft's term only grows, so this counts its elections exactly. PBFT's view restarts
        // at 0 with each height; a rise is counted, and views passed at a new height before
        // this saw it count only beyond the last height's view.
        let raised = s.view.saturating_sub(snapshot.view);
        self.view_changes
            .fetch_add(raised, std::sync::atomic::Ordering::Relaxed);
        *snapshot = s;
    }

    /// See `view_changes`.
    pub fn view_changes(&self) -> u64 {
        self.view_changes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn members(&self) -> Vec<u32> {
        self.members.lock().clone()
    }

    pub fn set_members(&self, m: Vec<u32>) {
        *self.members.lock() = m;
    }

    pub fn set_validator_sets(&self, sets: std::collections::BTreeMap<u64, Vec<u32>>) {
        *self.sets.lock() = sets;
    }

    /// PBFT: the validator set that decided `height`, if known.
    pub fn validators_at(&self, height: u64) -> Option<Vec<u32>> {
        self.sets
            .lock()
            .range(..=height)
            .next_back()
            .map(|(_, s)| s.clone())
    }
}

/// A running group driver.
pub struct Cluster {
    pub forwarder: gossip::TxForwarder,
    pub driver: std::thread::JoinHandle<()>,
    pub view: Arc<ConsensusView>,
    /// Where the group's frames go (attached to the node's [`crate::groups::dispatch`]).
    pub port: Arc<crate::groups::dispatch::GroupPort>,
}

/// Checks the node's keys against `[cluster]` and starts the P2P network every group of
/// the node shares (one TLS connection per pair of nodes).
pub async fn start_network(
    cfg: &ClusterConfig,
) -> anyhow::Result<(NetworkHandle, bcos_net::Inbound)> {
    cfg.validate()?;
    let keys = NodeKeys::load(&cfg.keys_dir)?;
    if keys.tls.index != cfg.index {
        anyhow::bail!(
            "the TLS certificate in {} is for node {}, the config says {}",
            cfg.keys_dir.display(),
            keys.tls.index,
            cfg.index
        );
    }
    keys.check_certificate(bcos_net::pki::unix_now_s())?;
    Network::start(cfg.net_config(), keys.tls.clone(), keys.ca.clone())
        .await
        .with_context(|| format!("starting P2P on {}", cfg.listen_addr))
}

/// What [`start`] needs from the node.
pub struct StartParts {
    /// The group's view of the cluster (`crate::groups::config::for_group`).
    pub cfg: ClusterConfig,
    /// The group number (the P2P tag).
    pub group: u32,
    pub net: NetworkHandle,
    /// The node index of each of the group's consensus positions.
    pub nodes: Vec<u32>,
    pub keys_dir: std::path::PathBuf,
    pub state_dir: std::path::PathBuf,
    pub ctx: SealerContext,
    pub recoverer: Arc<BatchRecoverer>,
    pub ingress: Arc<crate::pool::Ingress>,
    /// Hears a driver error.
    pub failed: Box<dyn FnOnce(String) + Send>,
    /// The group's AMOP router, connected here to the group's peers.
    pub amop: Arc<crate::amop::Router>,
}

/// Starts one group's driver thread on the shared network.
pub fn start(parts: StartParts) -> anyhow::Result<Cluster> {
    let StartParts {
        cfg,
        group,
        net,
        nodes,
        keys_dir,
        state_dir,
        ctx,
        recoverer,
        ingress,
        failed,
        amop,
    } = parts;
    let (keys_dir, state_dir) = (keys_dir.as_path(), state_dir.as_path());
    cfg.validate()?;
    let keys = NodeKeys::load(keys_dir)?;
    let transport: Arc<dyn Transport> = Arc::new(crate::groups::transport::GroupTransport::new(
        net,
        group,
        nodes.clone(),
        cfg.index,
    ));
    let forwarder = gossip::TxForwarder::start(
        transport.clone(),
        cfg.gossip_queue_max,
        cfg.gossip_batch_max,
        (cfg.frame_bytes_max / 2) as usize,
    );
    let inbox = Arc::new(Inbox::new(
        cfg.driver_queue_per_peer_max,
        cfg.driver_queue_per_peer_bytes_max,
    ));
    spawn_doorbell_relay(ctx.doorbell.clone(), inbox.clone())?;
    amop.attach(Arc::new(AmopLinks {
        net: transport.clone(),
        peers: (0..nodes.len() as u32)
            .filter(|p| *p != cfg.index)
            .collect(),
    }));
    crate::amop::spawn_announcer(&amop)?;
    let port = Arc::new(crate::groups::dispatch::GroupPort {
        nodes,
        inbox: inbox.clone(),
        txs: crate::groups::dispatch::admit_into(ctx.pool.clone(), ingress, group),
        amop: Some(amop),
    });

    let view = Arc::new(ConsensusView::default());
    let clock = ctx.clock.clone();
    let (record, bodies) = match cfg.consensus {
        ConsensusKind::Pbft => ("pbft-state.json", "pbft-blocks.bin"),
        ConsensusKind::Raft => ("raft-state.json", "raft-blocks.bin"),
    };
    let rt = DriverRuntime {
        net: transport.clone(),
        clock: clock.clone(),
        durable: Box::new(FileDurable(durable::DurableFile::new(state_dir, record))),
        bodies: Box::new(FileDurable(durable::DurableFile::new(state_dir, bodies))),
        sync_server: Box::new(sync_server::SyncServer::start(
            ctx.store.clone(),
            transport,
            clock,
            &cfg,
        )?),
    };
    let run: Box<dyn FnOnce() -> anyhow::Result<()> + Send> = match cfg.consensus {
        ConsensusKind::Pbft => {
            let d = PbftDriver::new(PbftDriverParts {
                view: view.clone(),
                ctx,
                rt,
                keys: keys.signer(),
                cfg,
                recoverer,
            })?;
            let inbox = inbox.clone();
            Box::new(move || d.run(&inbox))
        }
        ConsensusKind::Raft => {
            let d = raft::RaftDriver::new(raft::RaftDriverParts {
                view: view.clone(),
                ctx,
                rt,
                cfg,
                recoverer,
            })?;
            let inbox = inbox.clone();
            Box::new(move || d.run(&inbox))
        }
    };
    let driver = std::thread::Builder::new()
        .name(format!("consensus-g{group}"))
        .spawn(move || {
            let _span = tracing::info_span!("group", group).entered();
            if let Err(e) = run() {
                tracing::error!("consensus driver stopped: {e:#}");
                failed(format!("group {group}: {e:#}"));
            }
        })?;
    Ok(Cluster {
        forwarder,
        driver,
        view,
        port,
    })
}

/// The pool's doorbell wakes the driver; closing it stops the driver.
pub(crate) fn spawn_doorbell_relay(doorbell: Doorbell, inbox: Arc<Inbox>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("doorbell".into())
        .spawn(move || loop {
            match doorbell.wait() {
                Wake::Closed => {
                    inbox.stop();
                    return;
                }
                _ => inbox.work(),
            }
        })?;
    Ok(())
}

/// AMOP's view of the group's links: frames wrapped as [`wire::Wire::Amop`].
struct AmopLinks {
    net: Arc<dyn Transport>,
    peers: Vec<u32>,
}

impl crate::amop::AmopNet for AmopLinks {
    fn send(&self, peer: u32, frame: bcos_types::Bytes) -> bool {
        self.net.send(peer, wire::Wire::Amop(frame).encode())
    }

    fn peers(&self) -> Vec<u32> {
        self.peers.clone()
    }
}
