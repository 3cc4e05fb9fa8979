//! A cluster node's key material on disk (written by `bcos init`, read at start).

use anyhow::Context;
use bcos_crypto::bls::{BlsPublicKey, BlsSecretKey};
use bcos_net::{CaCert, NodeCert};
use bcos_types::Address;
use secp256k1::SecretKey;
use std::path::Path;

pub const NODE_ID_KEY_FILE: &str = "node_id.key";
pub const BLS_KEY_FILE: &str = "bls.key";

/// Everything a node signs and authenticates with.
pub struct NodeKeys {
    /// Signs view changes; its address is the node id.
    pub node_key: SecretKey,
    pub node_id: Address,
    /// Signs prepare and commit votes.
    pub bls: BlsSecretKey,
    pub tls: NodeCert,
    pub ca: CaCert,
}

/// The keys a consensus driver signs with (the TLS identity stays with the transport).
#[derive(Clone)]
pub struct SignerKeys {
    /// Signs view changes; its address is the node id.
    pub node_key: SecretKey,
    pub node_id: Address,
    /// Signs prepare and commit votes.
    pub bls: BlsSecretKey,
}

impl SignerKeys {
    pub fn bls_public(&self) -> BlsPublicKey {
        self.bls.public_key()
    }
}

impl NodeKeys {
    pub fn signer(&self) -> SignerKeys {
        SignerKeys {
            node_key: self.node_key,
            node_id: self.node_id,
            bls: self.bls.clone(),
        }
    }
}

/// 32 bytes from the kernel's CSPRNG.
pub fn random_32() -> anyhow::Result<[u8; 32]> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .context("reading /dev/urandom")?;
    Ok(seed)
}

/// A fresh secp256k1 node key.
pub fn generate_node_key() -> anyhow::Result<SecretKey> {
    loop {
        if let Ok(k) = SecretKey::from_byte_array(random_32()?) {
            return Ok(k);
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().trim_start_matches("0x");
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Writes the node id key and BLS key (mode 0600).
pub fn save_secret_keys(
    dir: &Path,
    node_key: &SecretKey,
    bls: &BlsSecretKey,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_secret(
        &dir.join(NODE_ID_KEY_FILE),
        &hex_of(&node_key.secret_bytes()),
    )?;
    write_secret(&dir.join(BLS_KEY_FILE), &bls.to_hex())
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

impl NodeKeys {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
        };
        let node_key = parse_hex32(&read(NODE_ID_KEY_FILE)?)
            .and_then(|b| SecretKey::from_byte_array(b).ok())
            .with_context(|| {
                format!(
                    "{NODE_ID_KEY_FILE} in {} is not a secp256k1 key",
                    dir.display()
                )
            })?;
        let bls = BlsSecretKey::from_hex(read(BLS_KEY_FILE)?.trim())
            .map_err(|e| anyhow::anyhow!("{BLS_KEY_FILE} in {}: {e}", dir.display()))?;
        let tls = bcos_net::pki::load_node_cert(dir)
            .with_context(|| format!("loading the TLS identity from {}", dir.display()))?;
        let ca = bcos_net::pki::load_ca_cert(dir)
            .with_context(|| format!("loading the chain CA certificate from {}", dir.display()))?;
        Ok(NodeKeys {
            node_id: bcos_crypto::address_of(&node_key),
            node_key,
            bls,
            tls,
            ca,
        })
    }

    pub fn bls_public(&self) -> BlsPublicKey {
        self.bls.public_key()
    }

    /// Refuses to start with a TLS certificate that does not carry this node's id (peers
    /// would refuse it, P2P-I1) or that has expired (P2P-I2); warns within
    /// [`CERT_EXPIRY_WARNING_DAYS`] of expiry.
    pub fn check_certificate(&self, now_unix_s: i64) -> anyhow::Result<()> {
        let want = format!("{:x}", self.node_id);
        if bcos_net::config::normalize_node_id(&self.tls.node_id_hex) != want {
            anyhow::bail!(
                "the TLS certificate (node.crt) carries node id {}, but node_id.key is node {want}; \
                 peers would refuse it",
                self.tls.node_id_hex
            );
        }
        let left_s = self.tls.not_after_unix_s.saturating_sub(now_unix_s);
        if left_s <= 0 {
            anyhow::bail!(
                "the TLS certificate (node.crt) expired {} days ago; peers refuse it. Issue a \
                 new one with `bcos renew-cert --ca <cluster>/ca --keys <this node's keys dir>`",
                -left_s / SECONDS_PER_DAY
            );
        }
        if left_s < CERT_EXPIRY_WARNING_DAYS * SECONDS_PER_DAY {
            tracing::warn!(
                days_left = left_s / SECONDS_PER_DAY,
                "the TLS certificate (node.crt) expires soon; renew it with `bcos renew-cert`"
            );
        }
        Ok(())
    }
}

/// A node warns at start when its certificate expires within this many days.
pub const CERT_EXPIRY_WARNING_DAYS: i64 = 30;
const SECONDS_PER_DAY: i64 = 86_400;
