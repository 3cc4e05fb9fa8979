//! Chain PKI for the P2P layer (spec/pbft.md §System model: authenticated channels).
//!
//! One self-signed chain CA per chain; each consensus node gets an ECDSA P-256 TLS certificate
//! signed by it. The certificate names the node twice: its DNS subject alt name is
//! `node-<index>.bcos` (what the transport maps to a peer index and what a dialler verifies as
//! the server name) and its common name is the node id (hex of the node's secp256k1 key, which
//! lives in the node's config, not here). The transport accepts a certificate only when both
//! match the peer list's entry for that index (P2P-I1).
//!
//! Certificates expire (P2P-I2): node certificates are valid for
//! [`NODE_CERT_VALIDITY_DAYS_DEFAULT`] days unless the issuer says otherwise, the CA for
//! [`CA_VALIDITY_DAYS_DEFAULT`]; rustls refuses an expired or not-yet-valid certificate at the
//! handshake. Both start [`NOT_BEFORE_BACKDATE_S`] in the past to tolerate clock skew.
//!
//! Files: a CA directory holds `ca.crt` and `ca.key`; a node directory holds `ca.crt` (the
//! only trusted root), `node.crt` and `node.key`. Keys are written with mode 0600.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{normalize_node_id, PeerIndex};
use crate::der;
use crate::error::PkiError;

/// File names inside a CA or node directory.
pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
pub const NODE_CERT_FILE: &str = "node.crt";
pub const NODE_KEY_FILE: &str = "node.key";

const DNS_PREFIX: &str = "node-";
const DNS_SUFFIX: &str = ".bcos";
const NODE_ID_HEX_LEN_MAX: usize = 130;

/// Default lifetime of a node certificate (`bcos init --cert-validity-days`).
pub const NODE_CERT_VALIDITY_DAYS_DEFAULT: u32 = 365;
/// Default lifetime of the chain CA certificate (`bcos init --ca-validity-days`).
pub const CA_VALIDITY_DAYS_DEFAULT: u32 = 3_650;
/// Certificates become valid this long before they are issued, so a peer whose clock is a
/// little behind does not refuse a fresh certificate.
pub const NOT_BEFORE_BACKDATE_S: i64 = 3_600;
const SECONDS_PER_DAY: i64 = 86_400;

/// When a certificate is valid, in seconds since the Unix epoch (inclusive bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    pub not_before_unix_s: i64,
    pub not_after_unix_s: i64,
}

impl Validity {
    /// From [`NOT_BEFORE_BACKDATE_S`] ago until `days` days from now.
    pub fn days_from_now(days: u32) -> Self {
        let now = unix_now_s();
        Self {
            not_before_unix_s: now - NOT_BEFORE_BACKDATE_S,
            not_after_unix_s: now + i64::from(days) * SECONDS_PER_DAY,
        }
    }

    fn apply(&self, params: &mut CertificateParams) -> Result<(), PkiError> {
        if self.not_after_unix_s <= self.not_before_unix_s {
            return Err(PkiError::Validity("not_after must be after not_before"));
        }
        let at = |s| {
            time::OffsetDateTime::from_unix_timestamp(s)
                .map_err(|_| PkiError::Validity("date out of range"))
        };
        params.not_before = at(self.not_before_unix_s)?;
        params.not_after = at(self.not_after_unix_s)?;
        Ok(())
    }
}

/// Seconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Everything the transport checks about a peer's verified certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// From the `node-<index>.bcos` DNS SAN.
    pub index: PeerIndex,
    /// From the CN, normalized (lower-case hex, no `0x`).
    pub node_id_hex: String,
    /// The certificate's serial number (lower-case hex), what a deny list can name.
    pub serial_hex: String,
    /// When the certificate expires.
    pub not_after_unix_s: i64,
}

impl PeerIdentity {
    pub fn from_cert(cert_der: &[u8]) -> Result<Self, PkiError> {
        let (index, node_id_hex) = node_identity(cert_der)?;
        Ok(Self {
            index,
            node_id_hex: normalize_node_id(&node_id_hex),
            serial_hex: der::serial_hex(cert_der)?,
            not_after_unix_s: der::validity(cert_der)?.1,
        })
    }
}

/// The DNS name a node's certificate carries: `node-<index>.bcos`.
pub fn node_dns_name(index: PeerIndex) -> String {
    format!("{DNS_PREFIX}{index}{DNS_SUFFIX}")
}

/// Inverse of [`node_dns_name`]; only the canonical decimal form is accepted.
pub fn parse_node_dns_name(name: &str) -> Option<PeerIndex> {
    let digits = name.strip_prefix(DNS_PREFIX)?.strip_suffix(DNS_SUFFIX)?;
    let index: PeerIndex = digits.parse().ok()?;
    (index.to_string() == digits).then_some(index)
}

/// The chain CA with its signing key. Only `bcos init`/`bcos up` hold this.
pub struct Ca {
    name: String,
    key: KeyPair,
    cert: CaCert,
}

/// The CA's certificate alone: the single trust root every node is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaCert {
    pem: String,
    der: CertificateDer<'static>,
}

/// A node's TLS identity: certificate (signed by the chain CA) and private key.
#[derive(Clone)]
pub struct NodeCert {
    /// The node's index in the chain's node list (from the certificate's DNS SAN).
    pub index: PeerIndex,
    /// The node id hex (from the certificate's CN).
    pub node_id_hex: String,
    /// When the certificate expires (seconds since the Unix epoch).
    pub not_after_unix_s: i64,
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
}

impl std::fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print the key
        f.debug_struct("NodeCert")
            .field("index", &self.index)
            .field("node_id_hex", &self.node_id_hex)
            .field("not_after_unix_s", &self.not_after_unix_s)
            .finish_non_exhaustive()
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    // path length 0: the chain CA signs node certificates only, never another CA
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Generates a new self-signed chain CA named `name` (its common name), valid for
/// [`CA_VALIDITY_DAYS_DEFAULT`] days.
pub fn generate_ca(name: &str) -> Result<Ca, PkiError> {
    generate_ca_with_validity(name, Validity::days_from_now(CA_VALIDITY_DAYS_DEFAULT))
}

/// Generates a new self-signed chain CA valid during `validity`.
pub fn generate_ca_with_validity(name: &str, validity: Validity) -> Result<Ca, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = ca_params(name);
    validity.apply(&mut params)?;
    let cert = params.self_signed(&key)?;
    Ok(Ca {
        name: name.to_owned(),
        key,
        cert: CaCert {
            pem: cert.pem(),
            der: cert.der().clone(),
        },
    })
}

impl Ca {
    /// The CA's common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public CA certificate to hand to every node.
    pub fn cert(&self) -> CaCert {
        self.cert.clone()
    }

    /// Issues a TLS certificate for node `index` whose node id is `node_id_hex`, valid for
    /// [`NODE_CERT_VALIDITY_DAYS_DEFAULT`] days.
    pub fn issue_node(&self, index: PeerIndex, node_id_hex: &str) -> Result<NodeCert, PkiError> {
        self.issue_node_with_validity(
            index,
            node_id_hex,
            Validity::days_from_now(NODE_CERT_VALIDITY_DAYS_DEFAULT),
        )
    }

    /// Issues a TLS certificate for node `index` valid during `validity`.
    pub fn issue_node_with_validity(
        &self,
        index: PeerIndex,
        node_id_hex: &str,
        validity: Validity,
    ) -> Result<NodeCert, PkiError> {
        let valid = !node_id_hex.is_empty()
            && node_id_hex.len() <= NODE_ID_HEX_LEN_MAX
            && node_id_hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(PkiError::InvalidNodeId(node_id_hex.to_owned()));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![node_dns_name(index)])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node_id_hex);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // each node is both a TLS server (accepting) and a TLS client (dialling)
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        validity.apply(&mut params)?;
        // Issuer from the same params that made the CA certificate: identical subject bytes.
        let issuer = Issuer::new(ca_params(&self.name), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(NodeCert {
            index,
            node_id_hex: node_id_hex.to_owned(),
            not_after_unix_s: validity.not_after_unix_s,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
        })
    }
}

impl CaCert {
    /// Parses a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem {
            what: "CA certificate",
            detail: e.to_string(),
        })?;
        Ok(Self {
            pem: pem.to_owned(),
            der,
        })
    }

    pub fn to_pem(&self) -> &str {
        &self.pem
    }

    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }
}

impl NodeCert {
    /// Parses a node certificate and key; the index and node id are read from the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| PkiError::Pem {
                what: "node certificate",
                detail: e.to_string(),
            })?;
        // validate the key now rather than at the first handshake
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| PkiError::Pem {
            what: "node key",
            detail: e.to_string(),
        })?;
        let (index, node_id_hex) = node_identity(&cert_der)?;
        let (_, not_after_unix_s) = der::validity(&cert_der)?;
        Ok(Self {
            index,
            node_id_hex,
            not_after_unix_s,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            cert_der,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The private key in the form rustls takes.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| PkiError::Pem {
            what: "node key",
            detail: e.to_string(),
        })
    }
}

/// Index (from the single `node-<index>.bcos` DNS SAN) and node id (CN) of a node certificate.
pub fn node_identity(cert_der: &[u8]) -> Result<(PeerIndex, String), PkiError> {
    let mut indices = der::dns_names(cert_der)?
        .into_iter()
        .filter_map(|n| parse_node_dns_name(&n));
    let index = indices.next().ok_or(PkiError::NoNodeIdentity)?;
    if indices.next().is_some() {
        // a certificate naming two nodes would let one key speak for both
        return Err(PkiError::NoNodeIdentity);
    }
    let node_id_hex = der::common_name(cert_der)?.ok_or(PkiError::NoNodeIdentity)?;
    Ok((index, node_id_hex))
}

fn read(path: PathBuf) -> Result<String, PkiError> {
    fs::read_to_string(&path).map_err(|source| PkiError::Io { path, source })
}

fn write(path: PathBuf, contents: &str, secret: bool) -> Result<(), PkiError> {
    let io = |path: &Path, source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = opts.open(&path).map_err(|e| io(&path, e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|e| io(&path, e))
}

fn ensure_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `ca.crt` and `ca.key` (0600) into `dir`, creating it.
pub fn save_ca(dir: &Path, ca: &Ca) -> Result<(), PkiError> {
    ensure_dir(dir)?;
    write(dir.join(CA_CERT_FILE), &ca.cert.pem, false)?;
    write(dir.join(CA_KEY_FILE), &ca.key.serialize_pem(), true)
}

/// Reads a CA written by [`save_ca`] (the name is read back from the certificate's CN).
pub fn load_ca(dir: &Path) -> Result<Ca, PkiError> {
    let cert = CaCert::from_pem(&read(dir.join(CA_CERT_FILE))?)?;
    let key = KeyPair::from_pem(&read(dir.join(CA_KEY_FILE))?)?;
    let name = der::common_name(&cert.der)?.ok_or(PkiError::Der("CA certificate has no CN"))?;
    Ok(Ca { name, key, cert })
}

/// Writes the trusted CA certificate `ca.crt` into `dir`, creating it.
pub fn save_ca_cert(dir: &Path, ca: &CaCert) -> Result<(), PkiError> {
    ensure_dir(dir)?;
    write(dir.join(CA_CERT_FILE), &ca.pem, false)
}

pub fn load_ca_cert(dir: &Path) -> Result<CaCert, PkiError> {
    CaCert::from_pem(&read(dir.join(CA_CERT_FILE))?)
}

/// Writes `node.crt` and `node.key` (0600) into `dir`, creating it.
pub fn save_node_cert(dir: &Path, node: &NodeCert) -> Result<(), PkiError> {
    ensure_dir(dir)?;
    write(dir.join(NODE_CERT_FILE), &node.cert_pem, false)?;
    write(dir.join(NODE_KEY_FILE), &node.key_pem, true)
}

pub fn load_node_cert(dir: &Path) -> Result<NodeCert, PkiError> {
    NodeCert::from_pem(
        &read(dir.join(NODE_CERT_FILE))?,
        &read(dir.join(NODE_KEY_FILE))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_name_round_trips_and_rejects_non_canonical() {
        assert_eq!(parse_node_dns_name(&node_dns_name(7)), Some(7));
        assert_eq!(parse_node_dns_name("node-07.bcos"), None);
        assert_eq!(parse_node_dns_name("node-+7.bcos"), None);
        assert_eq!(parse_node_dns_name("node-7.bcos.evil"), None);
        assert_eq!(parse_node_dns_name("node-.bcos"), None);
    }

    #[test]
    fn issued_certificate_carries_index_and_node_id() -> Result<(), PkiError> {
        let ca = generate_ca("chain-1 CA")?;
        let node = ca.issue_node(3, "02ABCDEF")?;
        assert_eq!(node_identity(node.cert_der())?, (3, "02ABCDEF".to_owned()));
        let id = PeerIdentity::from_cert(node.cert_der())?;
        assert_eq!((id.index, id.node_id_hex.as_str()), (3, "02abcdef"));
        assert_eq!(id.not_after_unix_s, node.not_after_unix_s);
        let days = (id.not_after_unix_s - unix_now_s()) / SECONDS_PER_DAY;
        assert!(
            (i64::from(NODE_CERT_VALIDITY_DAYS_DEFAULT) - 1
                ..=i64::from(NODE_CERT_VALIDITY_DAYS_DEFAULT))
                .contains(&days),
            "expires in {days} days"
        );
        let again = ca.issue_node(3, "02abcdef")?;
        assert_ne!(
            PeerIdentity::from_cert(again.cert_der())?.serial_hex,
            id.serial_hex,
            "each issued certificate has its own serial"
        );
        let past = Validity {
            not_before_unix_s: 1_000,
            not_after_unix_s: 2_000,
        };
        let old = ca.issue_node_with_validity(3, "02abcdef", past)?;
        assert_eq!(
            PeerIdentity::from_cert(old.cert_der())?.not_after_unix_s,
            2_000
        );
        assert!(matches!(
            ca.issue_node_with_validity(
                3,
                "aa",
                Validity {
                    not_before_unix_s: 5,
                    not_after_unix_s: 5
                }
            ),
            Err(PkiError::Validity(_))
        ));
        assert_eq!(
            der::common_name(ca.cert().der())?.as_deref(),
            Some("chain-1 CA")
        );
        assert!(matches!(
            ca.issue_node(1, "xyz"),
            Err(PkiError::InvalidNodeId(_))
        ));
        assert!(matches!(
            ca.issue_node(1, ""),
            Err(PkiError::InvalidNodeId(_))
        ));
        Ok(())
    }

    #[test]
    fn save_and_load_round_trip_and_reloaded_ca_issues_compatible_certs() -> Result<(), PkiError> {
        let dir = tempfile::tempdir().map_err(|source| PkiError::Io {
            path: "tmp".into(),
            source,
        })?;
        let ca = generate_ca("chain CA")?;
        save_ca(&dir.path().join("ca"), &ca)?;
        let reloaded = load_ca(&dir.path().join("ca"))?;
        assert_eq!(reloaded.name(), "chain CA");
        assert_eq!(reloaded.cert(), ca.cert());

        let node = reloaded.issue_node(2, "aa")?;
        let node_dir = dir.path().join("node2");
        save_node_cert(&node_dir, &node)?;
        save_ca_cert(&node_dir, &reloaded.cert())?;
        let loaded = load_node_cert(&node_dir)?;
        assert_eq!((loaded.index, loaded.node_id_hex.as_str()), (2, "aa"));
        assert_eq!(loaded.cert_der(), node.cert_der());
        assert_eq!(load_ca_cert(&node_dir)?, ca.cert());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(node_dir.join(NODE_KEY_FILE))
                .map_err(|source| PkiError::Io {
                    path: "key".into(),
                    source,
                })?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "node key must not be group/world readable");
        }
        Ok(())
    }

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(CaCert::from_pem("not a pem").is_err());
        assert!(NodeCert::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "x"
        )
        .is_err());
    }
}
