//! Errors of the transport and the certificate helpers.

use std::path::PathBuf;

use crate::config::PeerIndex;
use crate::framing::FrameError;

/// Certificate generation, parsing and file errors.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad PEM in {what}: {detail}")]
    Pem { what: &'static str, detail: String },
    #[error("bad DER certificate: {0}")]
    Der(&'static str),
    #[error("node id must be 1..=130 hex characters, got {0:?}")]
    InvalidNodeId(String),
    #[error("certificate names no node (expected a DNS SAN node-<index>.bcos and a CN)")]
    NoNodeIdentity,
    #[error("certificate validity: {0}")]
    Validity(&'static str),
}

/// Transport errors returned to callers (connection-level failures are logged and counted,
/// never returned: they close that connection only).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("tls verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("deny list: {0}")]
    DenyList(#[from] crate::deny::DenyListError),
    #[error("peer {0} is not in the peer list")]
    UnknownPeer(PeerIndex),
    #[error("send queue to peer {0} is full; frame dropped")]
    QueueFull(PeerIndex),
    #[error("invalid config: {0}")]
    Config(&'static str),
    #[error("network is shut down")]
    Closed,
}
