//! Multi-node groups: configuration, keys (`bcos init`), the P2P wire format, transaction
//! forwarding, BLS vote book and the consensus drivers. A node with a `[cluster]` section
//! runs one of these drivers instead of the solo sealer.

pub mod base;
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
pub mod sync_server;
pub mod sync_tracker;
pub mod timers;
pub mod votes;
pub mod wire;

use crate::block_exec::SealerContext;
use crate::runtime::{DriverRuntime, FileDurable, NetTransport, Transport};
use anyhow::Context;
use bcos_crypto::BatchRecoverer;
use bcos_net::{Network, NetworkHandle};
use bcos_sync::{Doorbell, Wake};
use config::{ClusterConfig, ConsensusKind};
use inbox::Inbox;
use keys::NodeKeys;
use pbft::{PbftDriver, PbftDriverParts};
use std::sync::Arc;
use wire::Wire;

/// The consensus position a driver publishes for RPC (`bcos_getConsensusStatus`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusSnapshot {
    pub next_height: u64,
    pub view: u64,
    pub leader: u32,
}

#[derive(Debug, Default)]
pub struct ConsensusView {
    snapshot: parking_lot::Mutex<ConsensusSnapshot>,
    /// The voting members (Raft's current configuration; every validator for PBFT).
    members: parking_lot::Mutex<Vec<u32>>,
}

impl ConsensusView {
    pub fn get(&self) -> ConsensusSnapshot {
        *self.snapshot.lock()
    }

    pub fn set(&self, s: ConsensusSnapshot) {
        *self.snapshot.lock() = s;
    }

    pub fn members(&self) -> Vec<u32> {
        self.members.lock().clone()
    }

    pub fn set_members(&self, m: Vec<u32>) {
        *self.members.lock() = m;
    }
}

/// A running cluster driver and its network.
pub struct Cluster {
    pub net: NetworkHandle,
    pub forwarder: gossip::TxForwarder,
    pub driver: std::thread::JoinHandle<()>,
    pub view: Arc<ConsensusView>,
}

/// What [`start`] needs from the node.
pub struct StartParts {
    pub cfg: ClusterConfig,
    pub keys_dir: std::path::PathBuf,
    pub state_dir: std::path::PathBuf,
    pub ctx: SealerContext,
    pub recoverer: BatchRecoverer,
    pub ingress: Arc<crate::pool::Ingress>,
    /// Hears a driver error.
    pub failed: tokio::sync::oneshot::Sender<String>,
    /// Raft's membership admin when `cluster.admin` is unset (the first dev account).
    pub default_admin: bcos_types::Address,
}

/// Starts the network and the driver thread.
pub async fn start(parts: StartParts) -> anyhow::Result<Cluster> {
    let StartParts {
        cfg,
        keys_dir,
        state_dir,
        ctx,
        recoverer,
        ingress,
        failed,
        default_admin,
    } = parts;
    let (keys_dir, state_dir) = (keys_dir.as_path(), state_dir.as_path());
    cfg.validate()?;
    let keys = NodeKeys::load(keys_dir)?;
    if keys.tls.index != cfg.index {
        anyhow::bail!(
            "the TLS certificate in {} is for node {}, the config says {}",
            keys_dir.display(),
            keys.tls.index,
            cfg.index
        );
    }
    keys.check_certificate(bcos_net::pki::unix_now_s())?;
    let (net, mut inbound) = Network::start(cfg.net_config(), keys.tls.clone(), keys.ca.clone())
        .await
        .with_context(|| format!("starting P2P on {}", cfg.listen_addr))?;
    let forwarder = gossip::TxForwarder::start(
        net.clone(),
        cfg.gossip_queue_max,
        cfg.gossip_batch_max,
        (cfg.frame_bytes_max / 2) as usize,
    );
    let inbox = Arc::new(Inbox::new(
        cfg.driver_queue_per_peer_max,
        cfg.driver_queue_per_peer_bytes_max,
    ));
    spawn_doorbell_relay(ctx.doorbell.clone(), inbox.clone())?;

    let pool = ctx.pool.clone();
    let to_driver = inbox.clone();
    tokio::spawn(async move {
        while let Some((from, frame)) = inbound.recv().await {
            match Wire::decode(&frame) {
                Ok(Wire::Txs(list)) => admit_forwarded(&pool, &ingress, from, list),
                Ok(w) => {
                    let kind = w.kind();
                    if to_driver.push(from, w, frame.len()).is_err() {
                        tracing::debug!(
                            peer = from,
                            kind,
                            "peer's driver queue full; message dropped"
                        );
                    }
                }
                Err(e) => tracing::warn!(peer = from, "dropped undecodable frame: {e}"),
            }
        }
    });

    let view = Arc::new(ConsensusView::default());
    let transport: Arc<dyn Transport> = Arc::new(NetTransport(net.clone()));
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
            let admin = cfg.admin.unwrap_or(default_admin);
            let d = raft::RaftDriver::new(raft::RaftDriverParts {
                view: view.clone(),
                ctx,
                rt,
                cfg,
                recoverer,
                admin,
            })?;
            let inbox = inbox.clone();
            Box::new(move || d.run(&inbox))
        }
    };
    let driver = std::thread::Builder::new()
        .name("consensus".into())
        .spawn(move || {
            if let Err(e) = run() {
                tracing::error!("consensus driver stopped: {e:#}");
                let _ = failed.send(format!("{e:#}"));
            }
        })?;
    Ok(Cluster {
        net,
        forwarder,
        driver,
        view,
    })
}

fn admit_forwarded(
    pool: &crate::pool::Pool,
    ingress: &crate::pool::Ingress,
    from: u32,
    list: Vec<bcos_types::Bytes>,
) {
    for raw in list {
        match pool.rules().check_raw(&raw) {
            Ok(tx) => {
                if let Err(e) = ingress.offer(Arc::new(tx)) {
                    tracing::debug!(peer = from, "forwarded transaction not queued: {e}");
                }
            }
            Err(e) => tracing::debug!(peer = from, "forwarded transaction refused: {e}"),
        }
    }
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
