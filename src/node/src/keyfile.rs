//! A secp256k1 secret key from a file of hex (whitespace and a 0x prefix allowed): what
//! `bcos cns --key-file` and `bcos amop --key-file` sign with.

use anyhow::Context;
use bcos_crypto::SecretKey;
use bcos_types::B256;
use std::path::Path;

pub fn read_secret_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    parse_secret_key(&text).with_context(|| format!("key file {}", path.display()))
}

pub fn parse_secret_key(hex: &str) -> anyhow::Result<SecretKey> {
    let bytes: B256 = format!("0x{}", hex.trim().trim_start_matches("0x"))
        .parse()
        .context("not 32 bytes of hex")?;
    SecretKey::from_byte_array(bytes.0).context("not a secp256k1 secret key")
}
