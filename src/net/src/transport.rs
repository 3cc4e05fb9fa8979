//! [`Network`]: the listener, one dialler per peer, the handle the node sends through, the
//! deny list watcher, and the counters that make dropped frames and refused connections
//! visible.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info, warn};

use crate::admission::{Admission, LogLimiter, Refusal};
use crate::config::{normalize_node_id, NetConfig, PeerIndex};
use crate::deny::{self, DenyList};
use crate::error::NetError;
use crate::framing;
use crate::peer;
use crate::pki::{CaCert, NodeCert, PeerIdentity};
use crate::queues::{self, Delivery, Dropped, Inbound, RecvBudget, SendQueue};
use crate::tls;
use crate::trust::Anchors;
use rustls::pki_types::CertificateDer;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// Counters since start. Connection-level failures are logged and counted here; they never
/// reach the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Inbound TLS handshakes that failed or timed out (e.g. a certificate from an unknown CA,
    /// an expired certificate, or a client that is not speaking TLS).
    pub handshakes_failed_inbound: u64,
    /// Outbound TLS handshakes or acks that failed or timed out.
    pub handshakes_failed_outbound: u64,
    /// Inbound connections closed before their handshake: their IP already held
    /// `handshakes_per_ip_max` handshake slots.
    pub handshakes_refused_per_ip: u64,
    /// Inbound connections from non-peer IPs closed before their handshake: all
    /// `handshakes_inflight_max` slots were taken.
    pub handshakes_refused_busy: u64,
    /// Verified certificates naming an index not in the peer list (or our own), or a node id
    /// other than the peer list's for that index (P2P-I1), either direction.
    pub peers_refused: u64,
    /// Handshakes refused because the deny list names the peer (P2P-I3), either direction.
    pub peers_denied: u64,
    /// Established connections closed because a reloaded deny list names their peer.
    pub connections_closed_denied: u64,
    /// Times the deny list file was re-read and applied.
    pub deny_list_reloads: u64,
    /// Times a changed deny list file could not be read or parsed (the previous list stays).
    pub deny_list_reload_errors: u64,
    /// Inbound connections closed for a malformed, empty, oversized or truncated frame.
    pub frames_rejected: u64,
    /// Frames not sent because the peer's send queue held `send_queue_frames_max` frames.
    pub frames_dropped_queue_full: u64,
    /// Frames not sent because they would have taken the peer's queued bytes past
    /// `send_queue_bytes_max`.
    pub frames_dropped_queue_bytes: u64,
    /// Outbound links closed because a write did not finish within `write_timeout_ms`.
    pub write_timeouts: u64,
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
    /// Per peer, the node id its certificate must carry (normalized).
    pub(crate) node_ids: HashMap<PeerIndex, String>,
    /// The deny list in force (the file's and governance's together, P2P-I3, P2P-I4);
    /// connections watch it and close when it names their peer.
    pub(crate) deny: watch::Sender<Arc<DenyList>>,
    /// Its two sources.
    deny_file: Mutex<Arc<DenyList>>,
    deny_governance: Mutex<Arc<DenyList>>,
    /// The trust roots (P2P-I4); connections re-check their peer when they change.
    pub(crate) anchors: Arc<Anchors>,
    /// Handshake failures logged at warn at most once per IP per interval.
    pub(crate) log_limiter: LogLimiter,
    /// The receive budgets (the readers hold clones through [`Delivery`]).
    recv_budgets: HashMap<PeerIndex, RecvBudget>,
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

    pub(crate) fn count(&self, f: impl FnOnce(&mut NetStats)) {
        self.stats.send_modify(f);
    }

    /// Publishes the union of the file's and governance's deny lists.
    fn publish_deny(&self) {
        let file = lock(&self.deny_file).clone();
        let governance = lock(&self.deny_governance).clone();
        self.deny.send_replace(Arc::new(file.union(&governance)));
    }

    /// Checks a peer's verified certificate against the peer list and the deny list
    /// (P2P-I1, P2P-I3); counts and describes a refusal.
    pub(crate) fn admit_identity(&self, id: &PeerIdentity) -> Result<(), String> {
        match self.node_ids.get(&id.index) {
            None => {
                self.count(|s| s.peers_refused += 1);
                Err(format!(
                    "certificate names node {}, not a configured peer",
                    id.index
                ))
            }
            Some(want) if *want != id.node_id_hex => {
                self.count(|s| s.peers_refused += 1);
                Err(format!(
                    "certificate for node {} carries node id {}, the peer list says {want}",
                    id.index, id.node_id_hex
                ))
            }
            Some(_) if self.deny.borrow().denies(id) => {
                self.count(|s| s.peers_denied += 1);
                Err(format!(
                    "node {} (node id {}, certificate serial {}) is on the deny list",
                    id.index, id.node_id_hex, id.serial_hex
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// Logs a handshake problem from `ip`: at warn once per `handshake_log_interval_ms`
    /// per IP, otherwise at debug (every one is counted in [`NetStats`]).
    pub(crate) fn log_refusal(&self, ip: IpAddr, what: &str, detail: &dyn std::fmt::Display) {
        match self.log_limiter.allow(ip) {
            Some(suppressed) => warn!(%ip, suppressed, "{what}: {detail}"),
            None => debug!(%ip, "{what}: {detail}"),
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
    queues: Arc<HashMap<PeerIndex, SendQueue>>,
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
    ) -> Result<(NetworkHandle, Inbound), NetError> {
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
    ) -> Result<(NetworkHandle, Inbound), NetError> {
        config.check()?;
        let self_index = identity.index;
        let mut peers: HashMap<PeerIndex, SocketAddr> = HashMap::new();
        let mut node_ids = HashMap::new();
        for spec in config.peers.iter().filter(|p| p.index != self_index) {
            if peers.insert(spec.index, spec.addr).is_some() {
                return Err(NetError::Config("a peer index appears twice"));
            }
            node_ids.insert(spec.index, normalize_node_id(&spec.node_id_hex));
        }
        let deny = match &config.deny_list_file {
            Some(path) => DenyList::load(path)?,
            None => DenyList::default(),
        };
        let anchors = Anchors::new(&ca)?;
        let acceptor = TlsAcceptor::from(tls::server_config_with(&identity, anchors.clone())?);
        let connector = TlsConnector::from(tls::client_config_with(&identity, anchors.clone())?);
        let local_addr = listener.local_addr()?;
        let admission = Admission::new(
            peers.values().map(SocketAddr::ip),
            config.handshakes_per_ip_max,
            config.handshakes_inflight_max,
        );
        let (delivery, inbound) = queues::delivery(
            peers.keys().copied(),
            config.recv_queue_frames_max,
            config.recv_queue_bytes_max,
        );

        let shared = Arc::new(Shared {
            self_index,
            stats: watch::Sender::new(NetStats::default()),
            links: peers
                .keys()
                .map(|&p| (p, watch::Sender::new(LinkState::default())))
                .collect(),
            inbound: peers.keys().map(|&p| (p, watch::Sender::new(0))).collect(),
            node_ids,
            deny: watch::Sender::new(Arc::new(deny.clone())),
            deny_file: Mutex::new(Arc::new(deny)),
            deny_governance: Mutex::new(Arc::new(DenyList::default())),
            anchors,
            log_limiter: LogLimiter::new(Duration::from_millis(config.handshake_log_interval_ms)),
            recv_budgets: delivery.budgets.clone(),
            config,
        });
        let mut tasks = vec![tokio::spawn(accept_loop(
            shared.clone(),
            listener,
            acceptor,
            admission,
            Arc::new(delivery),
        ))];
        if let Some(path) = shared.config.deny_list_file.clone() {
            tasks.push(tokio::spawn(watch_deny_list(shared.clone(), path)));
        }
        let mut queues = HashMap::new();
        for (&peer, &addr) in &peers {
            let (tx, rx) = queues::send_queue(
                shared.config.send_queue_frames_max,
                shared.config.send_queue_bytes_max,
            );
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
        Ok((handle, inbound))
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

    /// Queues `frame` for `peer`. Never waits: a full queue (frames or bytes) drops the
    /// frame, counts it and returns [`NetError::QueueFull`].
    pub fn send(&self, peer: PeerIndex, frame: Bytes) -> Result<(), NetError> {
        framing::check_outgoing(&frame, self.shared.config.frame_bytes_max)?;
        let queue = self.queues.get(&peer).ok_or(NetError::UnknownPeer(peer))?;
        self.enqueue(peer, queue, frame)
    }

    /// Queues `frame` for every peer; returns how many queues took it (full ones are counted
    /// in [`NetStats`]).
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

    fn enqueue(&self, peer: PeerIndex, queue: &SendQueue, frame: Bytes) -> Result<(), NetError> {
        match queue.push(frame) {
            Ok(()) => Ok(()),
            Err(Dropped::Frames) => {
                self.shared.count(|s| s.frames_dropped_queue_full += 1);
                Err(NetError::QueueFull(peer))
            }
            Err(Dropped::Bytes) => {
                self.shared.count(|s| s.frames_dropped_queue_bytes += 1);
                Err(NetError::QueueFull(peer))
            }
            Err(Dropped::Closed) => Err(NetError::Closed),
        }
    }

    /// Payload bytes queued for `peer` and not yet written, or `None` for an unknown peer.
    /// A server of large responses (block sync) checks this first and skips or defers a
    /// peer whose queue cannot take the response, instead of building it to have it dropped.
    pub fn send_queue_bytes(&self, peer: PeerIndex) -> Option<usize> {
        self.queues.get(&peer).map(SendQueue::queued_bytes)
    }

    /// Payload bytes `peer`'s send queue can still take (`send_queue_bytes_max` minus what is
    /// queued), or `None` for an unknown peer.
    pub fn send_queue_bytes_free(&self, peer: PeerIndex) -> Option<usize> {
        let max = self.shared.config.send_queue_bytes_max;
        self.send_queue_bytes(peer).map(|q| max.saturating_sub(q))
    }

    /// Payload bytes received from `peer` and not yet taken from [`Inbound`] (at most
    /// `recv_queue_bytes_max`), or `None` for an unknown peer.
    pub fn recv_queue_bytes(&self, peer: PeerIndex) -> Option<usize> {
        self.shared
            .recv_budgets
            .get(&peer)
            .map(RecvBudget::held_bytes)
    }

    /// Counters; `changed()`/`wait_for` on the receiver await a change.
    pub fn stats(&self) -> watch::Receiver<NetStats> {
        self.shared.stats.subscribe()
    }

    /// State of our send-only link to `peer`.
    pub fn link(&self, peer: PeerIndex) -> Option<watch::Receiver<LinkState>> {
        self.shared.links.get(&peer).map(watch::Sender::subscribe)
    }

    /// Follows the chain's governance (P2P-I4, spec/governance.md GOV-R8): trusts `cas` (DER
    /// certificates) besides the chain CA, and refuses the node ids (hex) and certificate
    /// serials (bytes) it revoked. Open connections of peers no trusted CA signed any more,
    /// or now revoked, close; so do handshakes from then on. Returns how many of `cas` are
    /// usable CAs (the others are skipped and logged).
    pub fn set_governance_trust(
        &self,
        cas: &[Vec<u8>],
        revoked_node_ids: &[String],
        revoked_serials: &[Vec<u8>],
    ) -> Result<usize, NetError> {
        let ders: Vec<CertificateDer<'static>> = cas
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        let usable = self.shared.anchors.set_extra(&ders)?;
        let serials = revoked_serials
            .iter()
            .map(|s| s.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let list = DenyList::from_entries(revoked_node_ids.iter().cloned(), serials);
        let changed = **lock(&self.shared.deny_governance) != list;
        if changed {
            *lock(&self.shared.deny_governance) = Arc::new(list);
            self.shared.publish_deny();
        }
        Ok(usable)
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

/// Accepts without pause: a connection admission refuses is closed at once (P2P-L3), so the
/// kernel backlog never holds junk ahead of a validator.
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    admission: Arc<Admission>,
    delivery: Arc<Delivery>,
) {
    // dropped with this task, which aborts every connection task
    let mut conns = JoinSet::new();
    let mut conn_id = 0u64;
    loop {
        let accepted = loop {
            tokio::select! {
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => break accepted,
            }
        };
        match accepted {
            Ok((tcp, remote)) => match admission.try_admit(remote.ip()) {
                Ok(slot) => {
                    conn_id += 1;
                    conns.spawn(peer::serve_inbound(
                        shared.clone(),
                        tcp,
                        remote,
                        acceptor.clone(),
                        delivery.clone(),
                        conn_id,
                        slot,
                    ));
                }
                Err(refusal) => {
                    drop(tcp);
                    let what = match refusal {
                        Refusal::PerIp => {
                            shared.count(|s| s.handshakes_refused_per_ip += 1);
                            "too many handshakes from this IP; connection closed"
                        }
                        Refusal::Busy => {
                            shared.count(|s| s.handshakes_refused_busy += 1);
                            "all handshake slots taken; connection closed"
                        }
                    };
                    shared.log_refusal(remote.ip(), what, &remote);
                }
            },
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
            }
        }
    }
}

/// Re-reads the deny list when the file changes (P2P-I3); a list that fails to load leaves
/// the previous one in force.
async fn watch_deny_list(shared: Arc<Shared>, path: PathBuf) {
    let poll = Duration::from_millis(shared.config.deny_list_poll_ms);
    let mut last = deny::stamp(&path);
    loop {
        tokio::time::sleep(poll).await;
        let now = deny::stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        match DenyList::load(&path) {
            Ok(list) => {
                info!(path = %path.display(), entries = list.len(), "deny list reloaded");
                *lock(&shared.deny_file) = Arc::new(list);
                shared.publish_deny();
                shared.count(|s| s.deny_list_reloads += 1);
            }
            Err(e) => {
                warn!(error = %e, "deny list not reloaded; the previous one stays in force");
                shared.count(|s| s.deny_list_reload_errors += 1);
            }
        }
    }
}
