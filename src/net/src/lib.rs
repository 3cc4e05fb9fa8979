//! bcos-net: the P2P transport of the consensus nodes.
//!
//! spec/pbft.md §System model assumes *authenticated channels*: a message that claims to come
//! from node `i` was sent by node `i`. This crate provides them:
//!
//! - [`pki`]: a chain CA and CA-signed node certificates (ECDSA P-256) with an expiry. A node
//!   certificate's DNS subject alt name `node-<index>.bcos` is its identity on the wire; its
//!   CN carries the node id (secp256k1 key hex). Votes are additionally signed by the
//!   consensus layer; TLS only vouches for who is at the other end of a connection.
//! - [`Network`]: TCP with mutual TLS 1.3 (rustls, `ring` provider). Both ends require a
//!   certificate chaining to the chain CA, the only trust root, and within its validity dates
//!   (P2P-I2); anything else fails the handshake (logged, counted, dropped). The sender of
//!   every received frame is the peer index taken from the verified certificate. A
//!   certificate naming an index not in the peer list, or a node id other than the peer
//!   list's for that index (P2P-I1), is refused both ways, and so is one the [`deny`] list
//!   names (P2P-I3); a deny list change closes the named peers' open connections.
//! - [`trust`]: the trust roots are the chain CA plus the CAs the chain's governance added,
//!   and governance's revocations join the deny list (P2P-I4,
//!   [`NetworkHandle::set_governance_trust`]); a change closes the connections of peers no
//!   trusted CA signed any more, or now revoked, without a restart.
//! - [`framing`]: `u32` big-endian length plus payload. A malformed, empty, oversized
//!   (`frame_bytes_max`) or truncated frame closes that connection only.
//!
//! Limits (all in [`NetConfig`], defaults documented there; rules in spec/pbft.md §5.3):
//! `frame_bytes_max` 16 MiB; per peer, `send_queue_frames_max` and `send_queue_bytes_max`
//! (over either: frames dropped and counted) and `write_timeout_ms` (a peer that stops
//! reading is disconnected, P2P-L1); per peer, `recv_queue_frames_max` and
//! `recv_queue_bytes_max` (over either: that peer's reader stops, TCP back-pressure, P2P-L2);
//! before authentication, `handshake_timeout_ms`, `handshakes_per_ip_max` and
//! `handshakes_inflight_max` for non-peer IPs (over either: closed at once, P2P-L3), with
//! warnings rate-limited per IP (`handshake_log_interval_ms`); `connect_retry_ms` doubling
//! to `connect_retry_max_ms`.
//!
//! Delivery is at most once and in order per link: frames queued or in flight when a link
//! fails are lost, and consensus recovers them by its own timeouts and by block sync
//! (spec/pbft.md §System model: partial synchrony, messages may be lost before GST).
//! There is no TCP keep-alive: a peer that vanishes without closing is noticed when a write to
//! it fails, and its stale inbound connection is replaced when it connects again.

mod admission;
pub mod config;
pub mod deny;
mod der;
pub mod error;
pub mod framing;
mod peer;
pub mod pki;
mod queues;
pub mod tls;
pub mod transport;
pub mod trust;

pub use config::{NetConfig, PeerIndex, PeerSpec};
pub use deny::DenyList;
pub use error::{NetError, PkiError};
pub use pki::{generate_ca, Ca, CaCert, NodeCert, PeerIdentity, Validity};
pub use queues::Inbound;
pub use transport::{LinkState, NetStats, Network, NetworkHandle};
