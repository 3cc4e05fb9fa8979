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

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info, warn};

use crate::config::PeerIndex;
use crate::framing::{self, FrameReader};
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
}

async fn dial(
    peer: PeerIndex,
    addr: SocketAddr,
    connector: &TlsConnector,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, DialError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(DialError::Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let name = tls::server_name(peer).map_err(|e| DialError::Handshake(e.to_string()))?;
    let mut stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| DialError::Handshake(format!("tls: {e}")))?;
    let mut ack = [0u8; ACK_BYTES];
    stream
        .read_exact(&mut ack)
        .await
        .map_err(|e| DialError::Handshake(format!("refused by acceptor: {e}")))?;
    let expected = [ACK_MAGIC, peer.to_be_bytes()].concat();
    if ack[..] != expected[..] {
        return Err(DialError::Handshake("bad ack".into()));
    }
    Ok(stream)
}

/// Keeps a send-only connection to `peer` up and drains its queue into it. Ends when the
/// queue's senders are gone (the network was dropped).
pub(crate) async fn dial_loop(
    shared: Arc<Shared>,
    peer: PeerIndex,
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Bytes>,
    connector: TlsConnector,
) {
    let cfg = &shared.config;
    let mut backoff_ms = cfg.connect_retry_ms;
    let handshake_timeout = Duration::from_millis(cfg.handshake_timeout_ms);
    loop {
        match tokio::time::timeout(handshake_timeout, dial(peer, addr, &connector)).await {
            Ok(Ok(stream)) => {
                backoff_ms = cfg.connect_retry_ms;
                shared.link_up(peer);
                info!(peer, %addr, "connected");
                let end = send_loop(stream, &mut queue).await;
                shared.link_down(peer);
                match end {
                    None => return,
                    Some(reason) => info!(peer, %addr, %reason, "link lost; redialling"),
                }
            }
            Ok(Err(DialError::Unreachable(e))) => debug!(peer, %addr, error = %e, "dial failed"),
            Ok(Err(DialError::Handshake(e))) => {
                warn!(peer, %addr, error = %e, "outbound handshake failed");
                shared
                    .stats
                    .send_modify(|s| s.handshakes_failed_outbound += 1);
            }
            Err(_) => {
                warn!(peer, %addr, "outbound handshake timed out");
                shared
                    .stats
                    .send_modify(|s| s.handshakes_failed_outbound += 1);
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

/// Writes queued frames until the link fails (returns the reason) or the queue closes (None).
/// Frames in a write that fails are lost: delivery is at most once, and consensus recovers
/// lost messages by its own timeouts and block sync.
async fn send_loop(
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    queue: &mut mpsc::Receiver<Bytes>,
) -> Option<String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut probe = [0u8; 64];
    let mut batch = BytesMut::new();
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
                        Ok(frame) => framing::encode(&frame, &mut batch),
                        Err(_) => break,
                    }
                }
                let written = async {
                    wr.write_all(&batch).await?;
                    wr.flush().await
                };
                if let Err(e) = written.await {
                    return Some(format!("write: {e}"));
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
        }
    }
}

/// Handshake, identify and then read one accepted connection until it ends or errs.
pub(crate) async fn serve_inbound(
    shared: Arc<Shared>,
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    deliver: mpsc::Sender<(PeerIndex, Bytes)>,
    conn_id: u64,
    permit: OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let mut stream = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            warn!(%remote, error = %e, "inbound handshake failed; connection dropped");
            shared
                .stats
                .send_modify(|s| s.handshakes_failed_inbound += 1);
            return;
        }
        Err(_) => {
            warn!(%remote, "inbound handshake timed out; connection dropped");
            shared
                .stats
                .send_modify(|s| s.handshakes_failed_inbound += 1);
            return;
        }
    };
    let claimed = tls::peer_index(stream.get_ref().1.peer_certificates());
    let Some((peer, slot)) = claimed.and_then(|p| shared.inbound.get(&p).map(|slot| (p, slot)))
    else {
        warn!(%remote, ?claimed, "certificate names no configured peer; connection refused");
        shared.stats.send_modify(|s| s.peers_refused += 1);
        return;
    };
    let ack = [ACK_MAGIC, shared.self_index.to_be_bytes()].concat();
    let acked = tokio::time::timeout(timeout, async {
        stream.write_all(&ack).await?;
        stream.flush().await
    })
    .await;
    if !matches!(acked, Ok(Ok(()))) {
        warn!(%remote, peer, "could not ack inbound connection; dropped");
        return;
    }
    drop(permit);
    // the newest connection of a peer wins: a restarted peer replaces its stale one
    slot.send_replace(conn_id);
    let mut latest = slot.subscribe();
    shared.stats.send_modify(|s| s.inbound_connections += 1);
    info!(%remote, peer, "inbound link up");

    let mut reader = FrameReader::new(shared.config.frame_bytes_max);
    loop {
        tokio::select! {
            frame = reader.next(&mut stream) => match frame {
                Ok(Some(frame)) => {
                    // back-pressure: a full receive queue stops reading, it does not buffer
                    if deliver.send((peer, frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    info!(%remote, peer, "inbound link closed by peer");
                    return;
                }
                Err(e) => {
                    warn!(%remote, peer, error = %e, "bad frame; closing this connection");
                    shared.stats.send_modify(|s| s.frames_rejected += 1);
                    return;
                }
            },
            changed = latest.changed() => {
                if changed.is_err() || *latest.borrow() != conn_id {
                    info!(%remote, peer, "inbound link superseded by a newer connection");
                    shared.stats.send_modify(|s| s.inbound_superseded += 1);
                    return;
                }
            }
        }
    }
}
