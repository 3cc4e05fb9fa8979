//! One task per link: a dialler per configured peer that owns our send-only connection to it,
//! and a reader per accepted connection that delivers the peer's frames.
//!
//! Each pair of nodes thus holds two connections, one per direction. That avoids any
//! tie-breaking between simultaneous dials, and a restarted peer is found again by the side
//! that lost it: our dialler redials with backoff, and the peer's dialler replaces its stale
//! inbound connection on our side (the newest inbound connection of a peer wins).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info};

use crate::admission::HandshakeSlot;
use crate::config::PeerIndex;
use crate::deny::DenyList;
use crate::framing::{self, FrameReader};
use crate::pki::PeerIdentity;
use crate::queues::{Delivered, Delivery, SendQueueRx};
use crate::tls;
use crate::transport::Shared;

/// Sent by the acceptor once it has verified and identified the dialler: the dialler counts
/// the link as up only then. In TLS 1.3 the client finishes its handshake before the server
/// has checked the client certificate, so without this a refused dialler would think it had
/// connected. Magic, then the acceptor's index (big-endian).
const ACK_MAGIC: [u8; 4] = *b"BCOS";
const ACK_BYTES: usize = 8;
/// Frames coalesced into one TLS write while more are queued.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

enum DialError {
    /// TCP could not connect: the peer is down; not worth a warning on every retry.
    Unreachable(std::io::Error),
    /// TLS or ack failure: a misconfigured or untrusted peer.
    Handshake(String),
    /// The peer's certificate is valid but not the configured peer's or is denied; counted
    /// by [`Shared::admit_identity`].
    Identity(String),
}

type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

async fn dial(
    shared: &Shared,
    peer: PeerIndex,
    addr: SocketAddr,
    connector: &TlsConnector,
) -> Result<(ClientStream, Peer), DialError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(DialError::Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let name = tls::server_name(peer).map_err(|e| DialError::Handshake(e.to_string()))?;
    let mut stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| DialError::Handshake(format!("tls: {e}")))?;
    // rustls checked the chain, the name node-<peer>.bcos and the validity dates (P2P-I2);
    // the node id and the deny list are ours to check (P2P-I1, P2P-I3)
    let identity = Peer::of(stream.get_ref().1.peer_certificates())
        .ok_or_else(|| DialError::Handshake("acceptor certificate names no node".into()))?;
    if !shared.anchors.trusts(&identity.cert) {
        // The roots changed during the handshake (P2P-I4).
        return Err(DialError::Handshake(
            "no trusted CA signed the acceptor".into(),
        ));
    }
    if identity.id.index != peer {
        return Err(DialError::Handshake(format!(
            "acceptor certificate is for node {}",
            identity.id.index
        )));
    }
    shared
        .admit_identity(&identity.id)
        .map_err(DialError::Identity)?;
    let mut ack = [0u8; ACK_BYTES];
    stream
        .read_exact(&mut ack)
        .await
        .map_err(|e| DialError::Handshake(format!("refused by acceptor: {e}")))?;
    let expected = [ACK_MAGIC, peer.to_be_bytes()].concat();
    if ack[..] != expected[..] {
        return Err(DialError::Handshake("bad ack".into()));
    }
    Ok((stream, identity))
}

/// Keeps a send-only connection to `peer` up and drains its queue into it. Ends when the
/// queue's senders are gone (the network was dropped).
pub(crate) async fn dial_loop(
    shared: Arc<Shared>,
    peer: PeerIndex,
    addr: SocketAddr,
    mut queue: SendQueueRx,
    connector: TlsConnector,
) {
    let cfg = &shared.config;
    let mut backoff_ms = cfg.connect_retry_ms;
    let handshake_timeout = Duration::from_millis(cfg.handshake_timeout_ms);
    let mut deny = Refusals::new(&shared);
    loop {
        if let Some(node_id) = shared.node_ids.get(&peer) {
            if deny.deny.borrow_and_update().denies_node_id(node_id) {
                // no dialling a denied node until the list changes
                info!(peer, "peer is on the deny list; not dialling");
                if deny.deny.changed().await.is_err() {
                    return;
                }
                continue;
            }
        }
        match tokio::time::timeout(handshake_timeout, dial(&shared, peer, addr, &connector)).await {
            Ok(Ok((stream, identity))) => {
                backoff_ms = cfg.connect_retry_ms;
                shared.link_up(peer);
                info!(peer, %addr, "connected");
                let end = send_loop(&shared, stream, &identity, &mut queue, &mut deny).await;
                shared.link_down(peer);
                match end {
                    None => return,
                    Some(reason) => info!(peer, %addr, %reason, "link lost; redialling"),
                }
            }
            Ok(Err(DialError::Unreachable(e))) => debug!(peer, %addr, error = %e, "dial failed"),
            Ok(Err(DialError::Identity(e))) => {
                shared.log_refusal(addr.ip(), "outbound peer refused", &e);
            }
            Ok(Err(DialError::Handshake(e))) => {
                shared.count(|s| s.handshakes_failed_outbound += 1);
                shared.log_refusal(addr.ip(), "outbound handshake failed", &e);
            }
            Err(_) => {
                shared.count(|s| s.handshakes_failed_outbound += 1);
                shared.log_refusal(addr.ip(), "outbound handshake timed out", &peer);
            }
        }
        if queue.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
        backoff_ms = backoff_ms
            .saturating_mul(2)
            .min(cfg.connect_retry_max_ms.max(cfg.connect_retry_ms));
    }
}

/// A verified peer: what its certificate says, and the certificate, to check it again when
/// the trust roots change (P2P-I4).
pub(crate) struct Peer {
    pub(crate) id: PeerIdentity,
    cert: CertificateDer<'static>,
}

impl Peer {
    fn of(certs: Option<&[CertificateDer<'static>]>) -> Option<Peer> {
        let cert = certs?.first()?.clone();
        Some(Peer {
            id: tls::peer_identity(Some(std::slice::from_ref(&cert)))?,
            cert,
        })
    }
}

/// What can end an established connection from our side: the deny list (P2P-I3, and
/// governance's revocations) and the trust roots (P2P-I4).
pub(crate) struct Refusals {
    deny: watch::Receiver<Arc<DenyList>>,
    roots: watch::Receiver<u64>,
    /// Whether the peer's certificate was checked against the roots as they are now. A
    /// receiver sees only later changes, so roots changed between the TLS handshake and
    /// this receiver's subscription would otherwise never be applied to the connection.
    roots_checked: bool,
}

impl Refusals {
    pub(crate) fn new(shared: &Shared) -> Self {
        Refusals {
            deny: shared.deny.subscribe(),
            roots: shared.anchors.subscribe(),
            roots_checked: false,
        }
    }

    /// Resolves when `peer` is denied, or no trusted CA signed its certificate any more;
    /// pending forever once the senders are gone.
    async fn refused(&mut self, shared: &Shared, peer: &Peer) -> &'static str {
        loop {
            if self.deny.borrow_and_update().denies(&peer.id) {
                return "peer is now on the deny list";
            }
            if !self.roots_checked || self.roots.has_changed().unwrap_or(false) {
                self.roots_checked = true;
                self.roots.borrow_and_update();
                if !shared.anchors.trusts(&peer.cert) {
                    return "no trusted CA signed the peer's certificate any more";
                }
            }
            tokio::select! {
                changed = self.deny.changed() => if changed.is_err() {
                    return std::future::pending().await;
                },
                changed = self.roots.changed() => if changed.is_err() {
                    return std::future::pending().await;
                } else if !shared.anchors.trusts(&peer.cert) {
                    self.roots.borrow_and_update();
                    return "no trusted CA signed the peer's certificate any more";
                },
            }
        }
    }
}

/// Writes queued frames until the link fails (returns the reason) or the queue closes (None).
/// Frames in a write that fails are lost: delivery is at most once, and consensus recovers
/// lost messages by its own timeouts and block sync.
async fn send_loop(
    shared: &Shared,
    stream: ClientStream,
    identity: &Peer,
    queue: &mut SendQueueRx,
    deny: &mut Refusals,
) -> Option<String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut probe = [0u8; 64];
    let mut batch = BytesMut::new();
    let write_timeout = Duration::from_millis(shared.config.write_timeout_ms);
    loop {
        tokio::select! {
            frame = queue.recv() => {
                let Some(frame) = frame else {
                    let _ = wr.shutdown().await;
                    return None;
                };
                batch.clear();
                framing::encode(&frame, &mut batch);
                while batch.len() < WRITE_BATCH_BYTES {
                    match queue.try_recv() {
                        Some(frame) => framing::encode(&frame, &mut batch),
                        None => break,
                    }
                }
                let written = async {
                    wr.write_all(&batch).await?;
                    wr.flush().await
                };
                // P2P-L1: a peer that stops reading cannot hold our queue and memory forever
                match tokio::time::timeout(write_timeout, written).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Some(format!("write: {e}")),
                    Err(_) => {
                        shared.count(|s| s.write_timeouts += 1);
                        return Some(format!(
                            "write of {} bytes not done within write_timeout_ms {}",
                            batch.len(),
                            shared.config.write_timeout_ms
                        ));
                    }
                }
            }
            // the acceptor never writes after its ack: this only ever sees the close
            read = rd.read(&mut probe) => {
                return Some(match read {
                    Ok(0) => "closed by peer".to_owned(),
                    Ok(_) => "peer wrote on a send-only link".to_owned(),
                    Err(e) => format!("read: {e}"),
                });
            }
            reason = deny.refused(shared, identity) => {
                shared.count(|s| s.connections_closed_denied += 1);
                let _ = wr.shutdown().await;
                return Some(reason.to_owned());
            }
        }
    }
}

/// Handshake, identify and then read one accepted connection until it ends or errs.
pub(crate) async fn serve_inbound(
    shared: Arc<Shared>,
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    delivery: Arc<Delivery>,
    conn_id: u64,
    slot: HandshakeSlot,
) {
    let _ = tcp.set_nodelay(true);
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let ip = remote.ip();
    let mut stream = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            shared.count(|s| s.handshakes_failed_inbound += 1);
            shared.log_refusal(ip, "inbound handshake failed; connection dropped", &e);
            return;
        }
        Err(_) => {
            shared.count(|s| s.handshakes_failed_inbound += 1);
            shared.log_refusal(
                ip,
                "inbound handshake timed out; connection dropped",
                &remote,
            );
            return;
        }
    };
    let Some(identity) = Peer::of(stream.get_ref().1.peer_certificates()) else {
        shared.count(|s| s.peers_refused += 1);
        shared.log_refusal(ip, "certificate names no node; connection refused", &remote);
        return;
    };
    if !shared.anchors.trusts(&identity.cert) {
        // The roots changed during the handshake (P2P-I4).
        shared.count(|s| s.handshakes_failed_inbound += 1);
        shared.log_refusal(ip, "no trusted CA signed the dialler; dropped", &remote);
        return;
    }
    if let Err(e) = shared.admit_identity(&identity.id) {
        shared.log_refusal(ip, "inbound peer refused", &e);
        return;
    }
    let peer = identity.id.index;
    let (Some(slot_id), Some(budget)) = (shared.inbound.get(&peer), delivery.budgets.get(&peer))
    else {
        return; // admit_identity only passes configured peers
    };
    let ack = [ACK_MAGIC, shared.self_index.to_be_bytes()].concat();
    let acked = tokio::time::timeout(timeout, async {
        stream.write_all(&ack).await?;
        stream.flush().await
    })
    .await;
    if !matches!(acked, Ok(Ok(()))) {
        shared.log_refusal(ip, "could not ack inbound connection; dropped", &peer);
        return;
    }
    drop(slot);
    // the newest connection of a peer wins: a restarted peer replaces its stale one
    slot_id.send_replace(conn_id);
    let mut latest = slot_id.subscribe();
    let mut deny = Refusals::new(&shared);
    shared.count(|s| s.inbound_connections += 1);
    info!(%remote, peer, "inbound link up");

    let mut reader = FrameReader::new(shared.config.frame_bytes_max);
    loop {
        let frame = tokio::select! {
            frame = reader.next(&mut stream) => frame,
            end = closed(&shared, &mut latest, conn_id, &mut deny, &identity) => {
                info!(%remote, peer, "inbound link closed: {end}");
                return;
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                info!(%remote, peer, "inbound link closed by peer");
                return;
            }
            Err(e) => {
                shared.count(|s| s.frames_rejected += 1);
                shared.log_refusal(ip, "bad frame; connection closed", &e);
                return;
            }
        };
        // P2P-L2: a full receive budget stops this peer's reader (TCP back-pressure on this
        // peer only), it never buffers more
        let permits = tokio::select! {
            permits = budget.acquire(frame.len()) => permits,
            end = closed(&shared, &mut latest, conn_id, &mut deny, &identity) => {
                info!(%remote, peer, "inbound link closed: {end}");
                return;
            }
        };
        let Some(permits) = permits else { return };
        if delivery
            .tx
            .send(Delivered::new(peer, frame, permits))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Resolves when this inbound connection must close: a newer connection of the same peer
/// replaced it, or the deny list now names its peer.
async fn closed(
    shared: &Shared,
    latest: &mut watch::Receiver<u64>,
    conn_id: u64,
    deny: &mut Refusals,
    identity: &Peer,
) -> &'static str {
    tokio::select! {
        () = superseded(latest, conn_id) => {
            shared.count(|s| s.inbound_superseded += 1);
            "superseded by a newer connection"
        }
        reason = deny.refused(shared, identity) => {
            shared.count(|s| s.connections_closed_denied += 1);
            reason
        }
    }
}

async fn superseded(latest: &mut watch::Receiver<u64>, conn_id: u64) {
    loop {
        if *latest.borrow_and_update() != conn_id {
            return;
        }
        if latest.changed().await.is_err() {
            return;
        }
    }
}
