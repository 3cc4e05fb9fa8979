//! Transport configuration. Every limit is a named field with a documented default.

use std::net::SocketAddr;

/// Index of a consensus node in the chain's node list; it is also the node's certificate name
/// (`node-<index>.bcos`, see [`crate::pki::node_dns_name`]).
pub type PeerIndex = u32;

/// Configuration of one node's P2P transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Address the TLS listener binds (ignored by [`crate::Network::start_on`]).
    pub listen_addr: SocketAddr,
    /// The other nodes: index and address to dial. An entry with our own index is ignored.
    /// Only certificates naming one of these indices are accepted.
    pub peers: Vec<(PeerIndex, SocketAddr)>,
    /// Largest frame payload accepted or sent, in bytes. Default 16 MiB: a block of a few
    /// thousand transactions fits; anything larger is an attack or a bug.
    pub frame_bytes_max: u32,
    /// First delay before redialling a peer after a failed or lost connection. Default 100 ms.
    pub connect_retry_ms: u64,
    /// The delay doubles after each failure up to this cap. Default 5000 ms.
    pub connect_retry_max_ms: u64,
    /// TCP connect plus TLS handshake plus the acceptor's ack must finish within this.
    /// Default 5000 ms; a silent or slow-loris connection is dropped after it.
    pub handshake_timeout_ms: u64,
    /// Frames queued per peer while the link is slow or down. When full, new frames to that
    /// peer are dropped and counted (`NetStats::frames_dropped_queue_full`). Default 4096.
    pub send_queue_frames_max: usize,
    /// Frames received from all peers and not yet taken by the consumer. When full, readers
    /// stop reading (TCP back-pressure) instead of buffering more. Default 8192.
    pub recv_queue_frames_max: usize,
    /// Inbound connections allowed in the handshake phase at once; more wait in the kernel's
    /// accept backlog. Default 64.
    pub handshakes_inflight_max: usize,
}

impl NetConfig {
    /// A configuration with the documented defaults.
    pub fn new(listen_addr: SocketAddr, peers: Vec<(PeerIndex, SocketAddr)>) -> Self {
        Self {
            listen_addr,
            peers,
            frame_bytes_max: 16 * 1024 * 1024,
            connect_retry_ms: 100,
            connect_retry_max_ms: 5_000,
            handshake_timeout_ms: 5_000,
            send_queue_frames_max: 4096,
            recv_queue_frames_max: 8192,
            handshakes_inflight_max: 64,
        }
    }
}
