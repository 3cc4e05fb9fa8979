//! [`Network`]: the listener, one dialler per peer, the handle the node sends through, and the
//! counters that make dropped frames and refused connections visible.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::warn;

use crate::config::{NetConfig, PeerIndex};
use crate::error::NetError;
use crate::framing;
use crate::peer;
use crate::pki::{CaCert, NodeCert};
use crate::tls;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// Counters since start. Connection-level failures are logged and counted here; they never
/// reach the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Inbound TLS handshakes that failed or timed out (e.g. a certificate from an unknown CA,
    /// or a client that is not speaking TLS).
    pub handshakes_failed_inbound: u64,
    /// Outbound TLS handshakes or acks that failed or timed out.
    pub handshakes_failed_outbound: u64,
    /// Verified certificates naming an index not in the peer list (or our own).
    pub peers_refused: u64,
    /// Inbound connections closed for a malformed, empty, oversized or truncated frame.
    pub frames_rejected: u64,
    /// Frames not sent because the peer's send queue was full.
    pub frames_dropped_queue_full: u64,
    /// Inbound connections accepted after verification.
    pub inbound_connections: u64,
    /// Inbound connections closed because the same peer connected again.
    pub inbound_superseded: u64,
}

/// State of our send-only link to one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkState {
    pub connected: bool,
    /// Times the link came up (verified and acked by the peer).
    pub connects: u64,
    /// Times the link went down after having been up.
    pub disconnects: u64,
}

/// State shared by the tasks of one network.
pub(crate) struct Shared {
    pub(crate) self_index: PeerIndex,
    pub(crate) config: NetConfig,
    pub(crate) stats: watch::Sender<NetStats>,
    links: HashMap<PeerIndex, watch::Sender<LinkState>>,
    /// Per peer, the id of its newest inbound connection; older ones close when it changes.
    pub(crate) inbound: HashMap<PeerIndex, watch::Sender<u64>>,
}

impl Shared {
    pub(crate) fn link_up(&self, peer: PeerIndex) {
        if let Some(link) = self.links.get(&peer) {
            link.send_modify(|l| {
                l.connected = true;
                l.connects += 1;
            });
        }
    }

    pub(crate) fn link_down(&self, peer: PeerIndex) {
        if let Some(link) = self.links.get(&peer) {
            link.send_modify(|l| {
                l.connected = false;
                l.disconnects += 1;
            });
        }
    }
}

/// Aborts every task when the last handle goes away.
struct Tasks(Mutex<Vec<JoinHandle<()>>>);

impl Tasks {
    fn take(&self) -> Vec<JoinHandle<()>> {
        match self.0.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in self.take() {
            task.abort();
        }
    }
}

/// Sends frames to peers; cheap to clone. Dropping the last clone stops the network.
#[derive(Clone)]
pub struct NetworkHandle {
    shared: Arc<Shared>,
    queues: Arc<HashMap<PeerIndex, mpsc::Sender<Bytes>>>,
    tasks: Arc<Tasks>,
    local_addr: SocketAddr,
}

/// Entry point of the transport.
pub struct Network;

impl Network {
    /// Binds `config.listen_addr` and starts. See [`Network::start_on`].
    pub async fn start(
        config: NetConfig,
        identity: NodeCert,
        ca: CaCert,
    ) -> Result<(NetworkHandle, mpsc::Receiver<(PeerIndex, Bytes)>), NetError> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        Self::start_on(listener, config, identity, ca)
    }

    /// Starts on an already bound listener (tests bind port 0 first to learn the addresses).
    /// Returns the handle and the receiver of `(sender index, payload)` for every frame from
    /// any peer. Must be called inside a tokio runtime.
    pub fn start_on(
        listener: TcpListener,
        config: NetConfig,
        identity: NodeCert,
        ca: CaCert,
    ) -> Result<(NetworkHandle, mpsc::Receiver<(PeerIndex, Bytes)>), NetError> {
        if config.frame_bytes_max == 0
            || config.send_queue_frames_max == 0
            || config.recv_queue_frames_max == 0
            || config.handshakes_inflight_max == 0
        {
            return Err(NetError::Config("limits must be positive"));
        }
        let self_index = identity.index;
        let mut peers: HashMap<PeerIndex, SocketAddr> = HashMap::new();
        for &(index, addr) in config.peers.iter().filter(|(i, _)| *i != self_index) {
            if peers.insert(index, addr).is_some() {
                return Err(NetError::Config("a peer index appears twice"));
            }
        }
        let acceptor = TlsAcceptor::from(tls::server_config(&identity, &ca)?);
        let connector = TlsConnector::from(tls::client_config(&identity, &ca)?);
        let local_addr = listener.local_addr()?;

        let shared = Arc::new(Shared {
            self_index,
            stats: watch::Sender::new(NetStats::default()),
            links: peers
                .keys()
                .map(|&p| (p, watch::Sender::new(LinkState::default())))
                .collect(),
            inbound: peers.keys().map(|&p| (p, watch::Sender::new(0))).collect(),
            config,
        });
        let (deliver, received) = mpsc::channel(shared.config.recv_queue_frames_max);
        let mut tasks = vec![tokio::spawn(accept_loop(
            shared.clone(),
            listener,
            acceptor,
            deliver,
        ))];
        let mut queues = HashMap::new();
        for (&peer, &addr) in &peers {
            let (tx, rx) = mpsc::channel(shared.config.send_queue_frames_max);
            queues.insert(peer, tx);
            tasks.push(tokio::spawn(peer::dial_loop(
                shared.clone(),
                peer,
                addr,
                rx,
                connector.clone(),
            )));
        }
        let handle = NetworkHandle {
            shared,
            queues: Arc::new(queues),
            tasks: Arc::new(Tasks(Mutex::new(tasks))),
            local_addr,
        };
        Ok((handle, received))
    }
}

impl NetworkHandle {
    /// Our own index (from our certificate).
    pub fn self_index(&self) -> PeerIndex {
        self.shared.self_index
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configured peers (without ourselves).
    pub fn peers(&self) -> Vec<PeerIndex> {
        let mut peers: Vec<_> = self.queues.keys().copied().collect();
        peers.sort_unstable();
        peers
    }

    /// Queues `frame` for `peer`. Never waits: a full queue drops the frame, counts it and
    /// returns [`NetError::QueueFull`].
    pub fn send(&self, peer: PeerIndex, frame: Bytes) -> Result<(), NetError> {
        framing::check_outgoing(&frame, self.shared.config.frame_bytes_max)?;
        let queue = self.queues.get(&peer).ok_or(NetError::UnknownPeer(peer))?;
        self.enqueue(peer, queue, frame)
    }

    /// Queues `frame` for every peer; returns how many queues took it (full ones are counted
    /// in [`NetStats::frames_dropped_queue_full`]).
    pub fn broadcast(&self, frame: Bytes) -> Result<usize, NetError> {
        framing::check_outgoing(&frame, self.shared.config.frame_bytes_max)?;
        let mut queued = 0;
        for (&peer, queue) in self.queues.iter() {
            match self.enqueue(peer, queue, frame.clone()) {
                Ok(()) => queued += 1,
                Err(NetError::QueueFull(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(queued)
    }

    fn enqueue(
        &self,
        peer: PeerIndex,
        queue: &mpsc::Sender<Bytes>,
        frame: Bytes,
    ) -> Result<(), NetError> {
        match queue.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared
                    .stats
                    .send_modify(|s| s.frames_dropped_queue_full += 1);
                Err(NetError::QueueFull(peer))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(NetError::Closed),
        }
    }

    /// Counters; `changed()`/`wait_for` on the receiver await a change.
    pub fn stats(&self) -> watch::Receiver<NetStats> {
        self.shared.stats.subscribe()
    }

    /// State of our send-only link to `peer`.
    pub fn link(&self, peer: PeerIndex) -> Option<watch::Receiver<LinkState>> {
        self.shared.links.get(&peer).map(watch::Sender::subscribe)
    }

    /// Stops every task and waits until they are gone, so the listen port is free on return.
    pub async fn shutdown(&self) {
        let tasks = self.tasks.take();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    deliver: mpsc::Sender<(PeerIndex, Bytes)>,
) {
    // dropped with this task, which aborts every connection task
    let mut conns = JoinSet::new();
    let handshakes = Arc::new(Semaphore::new(shared.config.handshakes_inflight_max));
    let mut conn_id = 0u64;
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let accepted = loop {
            tokio::select! {
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => break accepted,
            }
        };
        match accepted {
            Ok((tcp, remote)) => {
                conn_id += 1;
                conns.spawn(peer::serve_inbound(
                    shared.clone(),
                    tcp,
                    remote,
                    acceptor.clone(),
                    deliver.clone(),
                    conn_id,
                    permit,
                ));
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
            }
        }
    }
}
