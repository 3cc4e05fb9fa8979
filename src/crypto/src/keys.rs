//! Development accounts from a BIP-39 mnemonic, derived along BIP-44's Ethereum path
//! `m/44'/60'/0'/0/i` exactly as anvil, hardhat and MetaMask do, so the well-known test keys
//! and addresses (and wallets configured with them) work against this chain.
//!
//! - BIP-39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" ‖ passphrase, 2048 rounds, 64 bytes).
//!   The words are not checked against the BIP-39 word list and no NFKD normalisation is done,
//!   so only ASCII mnemonics are accepted (for ASCII, NFKD is the identity).
//! - BIP-32 master: HMAC-SHA512(key = "Bitcoin seed", seed) = secret ‖ chain code.
//! - BIP-32 child (CKDpriv): HMAC-SHA512(chain code, 0x00 ‖ k ‖ i) for hardened `i`, or
//!   HMAC-SHA512(chain code, compressed(k·G) ‖ i) for normal `i`; child = IL + k mod n.
//!
//! These keys are public knowledge: for tests, load generators and dev chains only.

use crate::recover::address_of_public_key;
use alloy_primitives::Address;
use hmac::{Hmac, Mac};
use secp256k1::{PublicKey, Scalar, SecretKey};
use sha2::Sha512;

/// The mnemonic anvil and hardhat use for their default accounts.
pub const TEST_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// PBKDF2 iterations fixed by BIP-39.
const BIP39_PBKDF2_ROUNDS: u32 = 2048;
/// First hardened child index (BIP-32).
pub const HARDENED_OFFSET: u32 = 1 << 31;
/// `m/44'/60'/0'/0`: the parent of every dev account.
pub const ETH_ACCOUNT_PARENT_PATH: [u32; 4] = [
    44 | HARDENED_OFFSET,
    60 | HARDENED_OFFSET,
    HARDENED_OFFSET,
    0,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the mnemonic is empty")]
    EmptyMnemonic,
    #[error("only ASCII mnemonics and passphrases are supported (no NFKD normalisation here)")]
    NonAscii,
    #[error("{0} accounts asked for; indices must stay below 2^31 (non-hardened)")]
    TooManyAccounts(usize),
    /// BIP-32's "proceed with the next index" case (IL >= n or a zero key); probability ~2^-127.
    #[error("child key {0} is invalid under BIP-32")]
    InvalidChild(u32),
}

/// A BIP-32 extended private key.
struct ExtendedKey {
    key: SecretKey,
    chain_code: [u8; 32],
}

fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn split(i: &[u8; 64], index: u32) -> Result<(Scalar, [u8; 32]), KeyError> {
    let mut il = [0u8; 32];
    let mut ir = [0u8; 32];
    il.copy_from_slice(&i[..32]);
    ir.copy_from_slice(&i[32..]);
    let tweak = Scalar::from_be_bytes(il).map_err(|_| KeyError::InvalidChild(index))?;
    Ok((tweak, ir))
}

impl ExtendedKey {
    fn master(seed: &[u8; 64]) -> Result<Self, KeyError> {
        let i = hmac_sha512(b"Bitcoin seed", &[seed]);
        let (il, chain_code) = split(&i, 0)?;
        let key =
            SecretKey::from_byte_array(il.to_be_bytes()).map_err(|_| KeyError::InvalidChild(0))?;
        Ok(ExtendedKey { key, chain_code })
    }

    fn child(&self, index: u32) -> Result<Self, KeyError> {
        let ser_i = index.to_be_bytes();
        let i = if index >= HARDENED_OFFSET {
            hmac_sha512(
                &self.chain_code,
                &[&[0u8], &self.key.secret_bytes(), &ser_i],
            )
        } else {
            let point = PublicKey::from_secret_key_global(&self.key).serialize();
            hmac_sha512(&self.chain_code, &[&point, &ser_i])
        };
        let (tweak, chain_code) = split(&i, index)?;
        let key = self
            .key
            .add_tweak(&tweak)
            .map_err(|_| KeyError::InvalidChild(index))?;
        Ok(ExtendedKey { key, chain_code })
    }
}

/// The 64-byte BIP-39 seed of an ASCII mnemonic and passphrase.
pub fn seed_from_mnemonic(mnemonic: &str, passphrase: &str) -> Result<[u8; 64], KeyError> {
    if mnemonic.trim().is_empty() {
        return Err(KeyError::EmptyMnemonic);
    }
    if !mnemonic.is_ascii() || !passphrase.is_ascii() {
        return Err(KeyError::NonAscii);
    }
    let salt = format!("mnemonic{passphrase}");
    let mut seed = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(
        mnemonic.as_bytes(),
        salt.as_bytes(),
        BIP39_PBKDF2_ROUNDS,
        &mut seed,
    );
    Ok(seed)
}

/// The secret key at a BIP-32 `path` (indices with [`HARDENED_OFFSET`] set are hardened).
pub fn derive_path(seed: &[u8; 64], path: &[u32]) -> Result<SecretKey, KeyError> {
    let mut xk = ExtendedKey::master(seed)?;
    for &index in path {
        xk = xk.child(index)?;
    }
    Ok(xk.key)
}

/// The first `count` dev accounts, `m/44'/60'/0'/0/0 ..= count-1`, with an empty passphrase.
pub fn dev_keys(mnemonic: &str, count: usize) -> Result<Vec<SecretKey>, KeyError> {
    dev_keys_with_passphrase(mnemonic, "", count)
}

/// As [`dev_keys`], with a BIP-39 passphrase.
pub fn dev_keys_with_passphrase(
    mnemonic: &str,
    passphrase: &str,
    count: usize,
) -> Result<Vec<SecretKey>, KeyError> {
    if count > HARDENED_OFFSET as usize {
        return Err(KeyError::TooManyAccounts(count));
    }
    let seed = seed_from_mnemonic(mnemonic, passphrase)?;
    // Derive the shared parent once; each account is then one normal child step.
    let mut parent = ExtendedKey::master(&seed)?;
    for &index in &ETH_ACCOUNT_PARENT_PATH {
        parent = parent.child(index)?;
    }
    (0..count as u32)
        .map(|i| parent.child(i).map(|xk| xk.key))
        .collect()
}

/// The Ethereum address controlled by `key`.
pub fn address_of(key: &SecretKey) -> Address {
    address_of_public_key(&PublicKey::from_secret_key_global(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, hex};

    #[test]
    fn anvil_default_accounts() {
        let keys = dev_keys(TEST_MNEMONIC, 20).unwrap();
        assert_eq!(keys.len(), 20);
        assert_eq!(
            keys[0].secret_bytes(),
            hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        );
        assert_eq!(
            address_of(&keys[0]),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            address_of(&keys[1]),
            address!("70997970C51812dc3A010C7d01b50e0d17dc79C8")
        );
        assert_eq!(
            address_of(&keys[19]),
            address!("8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199")
        );
        let mut path = ETH_ACCOUNT_PARENT_PATH.to_vec();
        path.push(19);
        let seed = seed_from_mnemonic(TEST_MNEMONIC, "").unwrap();
        assert_eq!(derive_path(&seed, &path).unwrap(), keys[19]);
    }

    #[test]
    fn passphrase_changes_the_accounts() {
        let plain = dev_keys(TEST_MNEMONIC, 1).unwrap();
        let salted = dev_keys_with_passphrase(TEST_MNEMONIC, "x", 1).unwrap();
        assert_ne!(plain, salted);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(dev_keys("  ", 1), Err(KeyError::EmptyMnemonic));
        assert_eq!(dev_keys("tést", 1), Err(KeyError::NonAscii));
        assert_eq!(
            dev_keys(TEST_MNEMONIC, usize::MAX),
            Err(KeyError::TooManyAccounts(usize::MAX))
        );
        assert_eq!(dev_keys(TEST_MNEMONIC, 0), Ok(vec![]));
    }
}
