//! bcos-net: the P2P transport of the consensus nodes.
//!
//! spec/pbft.md §System model assumes *authenticated channels*: a message that claims to come
//! from node `i` was sent by node `i`. This crate provides them:
//!
//! - [`pki`]: a chain CA and CA-signed node certificates (ECDSA P-256). A node certificate's
//!   DNS subject alt name `node-<index>.bcos` is its identity on the wire; its CN carries the
//!   node id (secp256k1 key hex). Votes are additionally signed by the consensus layer; TLS only
//!   vouches for who is at the other end of a connection.
//! - [`Network`]: TCP with mutual TLS 1.3 (rustls, `ring` provider). Both ends require a
//!   certificate chaining to the chain CA, the only trust root; a node whose certificate no
//!   trusted CA signed fails the handshake (logged, counted, dropped). The sender of every
//!   received frame is the peer index taken from the verified certificate; a certificate
//!   naming an index not in the peer list is refused.
//! - [`framing`]: `u32` big-endian length plus payload. A malformed, empty, oversized
//!   (`frame_bytes_max`) or truncated frame closes that connection only.
//!
//! Limits (all in [`NetConfig`], defaults documented there): `frame_bytes_max` 16 MiB,
//! `send_queue_frames_max` per peer (full: frames dropped and counted, never buffered without
//! bound), `recv_queue_frames_max` (full: readers stop, TCP back-pressure),
//! `handshake_timeout_ms`, `handshakes_inflight_max`, `connect_retry_ms` doubling to
//! `connect_retry_max_ms`.
//!
//! Delivery is at most once and in order per link: frames queued or in flight when a link
//! fails are lost, and consensus recovers them by its own timeouts and by block sync
//! (spec/pbft.md §System model: partial synchrony, messages may be lost before GST).
//! There is no TCP keep-alive: a peer that vanishes without closing is noticed when a write to
//! it fails, and its stale inbound connection is replaced when it connects again.

pub mod config;
mod der;
pub mod error;
pub mod framing;
mod peer;
pub mod pki;
pub mod tls;
pub mod transport;

pub use config::{NetConfig, PeerIndex};
pub use error::{NetError, PkiError};
pub use pki::{generate_ca, Ca, CaCert, NodeCert};
pub use transport::{LinkState, NetStats, Network, NetworkHandle};
