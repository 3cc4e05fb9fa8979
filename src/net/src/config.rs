//! Transport configuration. Every limit is a named field with a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::NetError;

/// Index of a consensus node in the chain's node list; it is also the node's certificate name
/// (`node-<index>.bcos`, see [`crate::pki::node_dns_name`]).
pub type PeerIndex = u32;

/// One configured peer: what to dial and who must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    pub index: PeerIndex,
    /// Where its listener is reached. Inbound connections whose source IP is this address's
    /// IP get the peer handshake share (see [`NetConfig::handshakes_inflight_max`]).
    pub addr: SocketAddr,
    /// The node id its certificate must carry (hex, as in the certificate's CN; compared
    /// case-insensitively, an optional `0x` ignored). A CA-signed certificate for this index
    /// with another node id is refused (P2P-I1).
    pub node_id_hex: String,
}

impl PeerSpec {
    pub fn new(index: PeerIndex, addr: SocketAddr, node_id_hex: impl Into<String>) -> Self {
        Self {
            index,
            addr,
            node_id_hex: node_id_hex.into(),
        }
    }
}

/// Node ids compare as lower-case hex without a `0x` prefix.
pub fn normalize_node_id(hex: &str) -> String {
    let hex = hex.trim();
    hex.strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex)
        .to_ascii_lowercase()
}

/// Configuration of one node's P2P transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Address the TLS listener binds (ignored by [`crate::Network::start_on`]).
    pub listen_addr: SocketAddr,
    /// The other nodes. An entry with our own index is ignored. Only certificates naming one
    /// of these indices with that entry's node id are accepted.
    pub peers: Vec<PeerSpec>,
    /// Largest frame payload accepted or sent, in bytes. Default 16 MiB: a block of a few
    /// thousand transactions fits; anything larger is an attack or a bug.
    pub frame_bytes_max: u32,
    /// First delay before redialling a peer after a failed or lost connection. Default 100 ms.
    pub connect_retry_ms: u64,
    /// The delay doubles after each failure up to this cap. Default 5000 ms.
    pub connect_retry_max_ms: u64,
    /// TCP connect plus TLS handshake plus the acceptor's ack must finish within this, both
    /// ways. Default 2000 ms: a handshake takes milliseconds even across a continent, and a
    /// silent or slow-loris connection must not hold a handshake slot for long.
    pub handshake_timeout_ms: u64,
    /// Frames queued per peer while the link is slow or down. When full, new frames to that
    /// peer are dropped and counted (`NetStats::frames_dropped_queue_full`). Default 4096.
    pub send_queue_frames_max: usize,
    /// Payload bytes queued per peer (frames not yet written). A frame that would exceed it is
    /// dropped and counted (`NetStats::frames_dropped_queue_bytes`). Must be at least
    /// `frame_bytes_max`. Default 64 MiB, so all peers together hold at most
    /// `peers × 64 MiB`.
    pub send_queue_bytes_max: usize,
    /// A write to a peer (one batch of queued frames) must finish within this; a peer that
    /// stops reading is disconnected after it (`NetStats::write_timeouts`) and redialled.
    /// Default 15000 ms: a 16 MiB frame at 10 Mbit/s takes about 13 s.
    pub write_timeout_ms: u64,
    /// Frames received from one peer and not yet taken by the consumer. When full, that
    /// peer's reader stops reading (TCP back-pressure on that peer only). Default 4096.
    pub recv_queue_frames_max: usize,
    /// Payload bytes received from one peer and not yet taken by the consumer; past it that
    /// peer's reader stops as above. Must be at least `frame_bytes_max`. Default 32 MiB, so
    /// the receive side holds at most `peers × 32 MiB`.
    pub recv_queue_bytes_max: usize,
    /// Inbound handshakes in progress at once from addresses that are not a configured
    /// peer's IP; a connection past it is closed at once (`NetStats::handshakes_refused_busy`).
    /// Connections from a configured peer's IP do not count against it, so junk from
    /// elsewhere cannot starve validators' reconnects. Default 64.
    pub handshakes_inflight_max: usize,
    /// Inbound handshakes in progress at once from one IP address, plus one for each
    /// configured peer at that IP (so validators sharing a host never refuse each other); a
    /// connection past it is closed at once (`NetStats::handshakes_refused_per_ip`). Default 4.
    pub handshakes_per_ip_max: usize,
    /// Handshake failures are logged at warn at most once per remote IP per this interval
    /// (the rest at debug; `NetStats` counts them all). Default 10000 ms.
    pub handshake_log_interval_ms: u64,
    /// A deny list of node ids and certificate serials (see [`crate::deny`]); `None` denies
    /// nothing. Re-read when its modification time, size or inode changes; a newly denied
    /// peer's connections are closed.
    pub deny_list_file: Option<PathBuf>,
    /// How often the deny list file's metadata is checked. Default 1000 ms.
    pub deny_list_poll_ms: u64,
}

impl NetConfig {
    /// A configuration with the documented defaults.
    pub fn new(listen_addr: SocketAddr, peers: Vec<PeerSpec>) -> Self {
        Self {
            listen_addr,
            peers,
            frame_bytes_max: 16 * 1024 * 1024,
            connect_retry_ms: 100,
            connect_retry_max_ms: 5_000,
            handshake_timeout_ms: 2_000,
            send_queue_frames_max: 4096,
            send_queue_bytes_max: 64 * 1024 * 1024,
            write_timeout_ms: 15_000,
            recv_queue_frames_max: 4096,
            recv_queue_bytes_max: 32 * 1024 * 1024,
            handshakes_inflight_max: 64,
            handshakes_per_ip_max: 4,
            handshake_log_interval_ms: 10_000,
            deny_list_file: None,
            deny_list_poll_ms: 1_000,
        }
    }

    /// Refuses limits that would stall or disable the transport.
    pub fn check(&self) -> Result<(), NetError> {
        let positive = [
            self.frame_bytes_max as u64,
            self.send_queue_frames_max as u64,
            self.send_queue_bytes_max as u64,
            self.recv_queue_frames_max as u64,
            self.recv_queue_bytes_max as u64,
            self.handshakes_inflight_max as u64,
            self.handshakes_per_ip_max as u64,
            self.handshake_timeout_ms,
            self.write_timeout_ms,
            self.deny_list_poll_ms,
        ];
        if positive.contains(&0) {
            return Err(NetError::Config("limits must be positive"));
        }
        let frame = self.frame_bytes_max as usize;
        if self.send_queue_bytes_max < frame || self.recv_queue_bytes_max < frame {
            // a largest frame could never be queued, and a reader would wait forever
            return Err(NetError::Config(
                "send_queue_bytes_max and recv_queue_bytes_max must be at least frame_bytes_max",
            ));
        }
        // permits of one tokio semaphore; far above any sane budget
        if self.recv_queue_bytes_max > u32::MAX as usize {
            return Err(NetError::Config("recv_queue_bytes_max must be below 4 GiB"));
        }
        Ok(())
    }
}
