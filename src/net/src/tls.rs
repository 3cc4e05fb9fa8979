//! rustls configurations for mutual TLS 1.3 with the chain CA, and the CAs the chain's
//! governance added (`crate::trust`, P2P-I4), as the trust roots (spec/pbft.md §System
//! model: authenticated channels), using the `ring` provider.
//!
//! The acceptor requires a client certificate that chains to the CA
//! ([`rustls::server::WebPkiClientVerifier`]); the dialler verifies the acceptor's certificate
//! against the same CA and the expected name `node-<index>.bcos`. A certificate no trusted CA
//! signed, or one outside its validity dates (P2P-I2: webpki checks them against the system
//! clock on every handshake), fails the handshake. The node id and the deny list are checked
//! after the handshake by the transport ([`crate::pki::PeerIdentity`]).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ServerConfig};

use crate::config::PeerIndex;
use crate::error::NetError;
use crate::pki::{node_dns_name, node_identity, CaCert, NodeCert, PeerIdentity};
use crate::trust::{Anchors, ClientVerifier, ServerVerifier};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Acceptor side: client certificates are mandatory and must chain to `ca`.
pub fn server_config(identity: &NodeCert, ca: &CaCert) -> Result<Arc<ServerConfig>, NetError> {
    server_config_with(identity, Anchors::new(ca)?)
}

/// Acceptor side over changeable roots (P2P-I4): the chain CA and those governance added.
pub fn server_config_with(
    identity: &NodeCert,
    anchors: Arc<Anchors>,
) -> Result<Arc<ServerConfig>, NetError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(ClientVerifier(anchors)))
        .with_single_cert(vec![identity.cert_der().clone()], identity.key_der()?)?;
    // No resumption: a resumed session skips certificate verification, so a peer whose CA
    // was removed, or whose certificate expired, would get back in on an old session.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Dialler side: presents `identity` and trusts only `ca`.
pub fn client_config(identity: &NodeCert, ca: &CaCert) -> Result<Arc<ClientConfig>, NetError> {
    client_config_with(identity, Anchors::new(ca)?)
}

/// Dialler side over changeable roots (P2P-I4).
pub fn client_config_with(
    identity: &NodeCert,
    anchors: Arc<Anchors>,
) -> Result<Arc<ClientConfig>, NetError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ServerVerifier(anchors)))
        .with_client_auth_cert(vec![identity.cert_der().clone()], identity.key_der()?)?;
    // No resumption (see `server_config_with`): every connection verifies the peer afresh.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The server name a dialler expects from peer `index`.
pub fn server_name(index: PeerIndex) -> Result<ServerName<'static>, NetError> {
    ServerName::try_from(node_dns_name(index))
        .map_err(|_| NetError::Tls(rustls::Error::General("bad node DNS name".into())))
}

/// The peer index a verified client certificate names (its end-entity certificate).
pub fn peer_index(certs: Option<&[CertificateDer<'static>]>) -> Option<PeerIndex> {
    let leaf = certs?.first()?;
    node_identity(leaf).ok().map(|(index, _)| index)
}

/// Everything the transport checks about a verified end-entity certificate.
pub fn peer_identity(certs: Option<&[CertificateDer<'static>]>) -> Option<PeerIdentity> {
    PeerIdentity::from_cert(certs?.first()?).ok()
}
