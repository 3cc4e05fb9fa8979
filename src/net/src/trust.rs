//! The trust anchors of the P2P network (P2P-I4): the chain CA from the node's keys, which is
//! always trusted, plus the CAs the chain's governance added (spec/governance.md GOV-R8),
//! swapped while the node runs.
//!
//! rustls builds its verifiers over a fixed root store, so the verifiers here delegate to the
//! one built for the current roots; a handshake takes whichever set is current when it
//! starts. A change of roots is announced on a watch channel: every established connection
//! then checks its peer's certificate against the new roots and closes if no trusted CA
//! signed it any more.

use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio::sync::watch;
use tracing::warn;

use crate::error::NetError;
use crate::pki::CaCert;

/// The verifiers for one set of roots.
#[derive(Debug)]
struct Verifiers {
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<WebPkiServerVerifier>,
    /// DER certificates of the roots beyond the chain CA that were accepted.
    extra: Vec<CertificateDer<'static>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The current roots and their verifiers.
#[derive(Debug)]
pub struct Anchors {
    base: CertificateDer<'static>,
    current: RwLock<Arc<Verifiers>>,
    /// Bumped on every change of roots.
    generation: watch::Sender<u64>,
}

impl Anchors {
    /// Trusts the chain CA alone.
    pub fn new(ca: &CaCert) -> Result<Arc<Self>, NetError> {
        let base = ca.der().clone();
        let verifiers = build(&base, &[])?;
        Ok(Arc::new(Anchors {
            base,
            current: RwLock::new(Arc::new(verifiers)),
            generation: watch::Sender::new(0),
        }))
    }

    fn current(&self) -> Arc<Verifiers> {
        match self.current.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Trusts the chain CA and `extra`; a certificate that is not a usable CA is skipped and
    /// logged. Returns how many of `extra` are trusted; announces a change only if the set
    /// changed.
    pub fn set_extra(&self, extra: &[CertificateDer<'static>]) -> Result<usize, NetError> {
        let mut usable = Vec::with_capacity(extra.len());
        for cert in extra {
            let mut probe = RootCertStore::empty();
            match probe.add(cert.clone()) {
                Ok(()) => usable.push(cert.clone()),
                Err(e) => warn!(error = %e, "a CA governance added is not usable; skipped"),
            }
        }
        usable.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        usable.dedup();
        if self.current().extra == usable {
            return Ok(usable.len());
        }
        let verifiers = build(&self.base, &usable)?;
        let n = verifiers.extra.len();
        match self.current.write() {
            Ok(mut v) => *v = Arc::new(verifiers),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(verifiers),
        }
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
        Ok(n)
    }

    /// Whether a trusted CA (now) signed this end-entity certificate.
    pub fn trusts(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.current()
            .client
            .verify_client_cert(end_entity, &[], UnixTime::now())
            .is_ok()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

fn build(
    base: &CertificateDer<'static>,
    extra: &[CertificateDer<'static>],
) -> Result<Verifiers, NetError> {
    let mut roots = RootCertStore::empty();
    roots.add(base.clone())?;
    let mut accepted = Vec::with_capacity(extra.len());
    for cert in extra {
        if roots.add(cert.clone()).is_ok() {
            accepted.push(cert.clone());
        }
    }
    let roots = Arc::new(roots);
    let client = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider()).build()?;
    let server = WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| NetError::Tls(rustls::Error::General(e.to_string())))?;
    Ok(Verifiers {
        client,
        server,
        extra: accepted,
    })
}

/// The acceptor's verifier of client certificates: the current roots' (P2P-I4).
#[derive(Debug)]
pub(crate) struct ClientVerifier(pub Arc<Anchors>);

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: the roots change, and a hint list must outlive this borrow. An empty list
        // tells the client to send its certificate whatever its issuer (RFC 8446 4.2.4).
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .current()
            .client
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .client
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .client
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().client.supported_verify_schemes()
    }
}

/// The dialler's verifier of the acceptor's certificate: the current roots' (P2P-I4).
#[derive(Debug)]
pub(crate) struct ServerVerifier(pub Arc<Anchors>);

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.current().server.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .server
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .current()
            .server
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().server.supported_verify_schemes()
    }
}
