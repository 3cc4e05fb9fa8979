//! BLS12-381 vote keys (min_pk: 48-byte public keys in G1, 96-byte signatures in G2) and their
//! byte and hex forms.
//!
//! A public key is decompressed and subgroup-checked once, when it is loaded
//! ([`BlsPublicKey::from_bytes`]), so no verification later pays for that check again
//! (61 µs per key, shared/reference/machine-limits.md row 3). Aggregation assumes the keys carry
//! a proof of possession (rogue-key defence): the node's key registration checks
//! [`BlsPublicKey::verify_possession`] once per validator.

use alloy_primitives::hex;
use blst::min_pk::{PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;
use std::fmt;

/// Domain separation tag for PBFT vote signatures (the IETF BLS "basic"-style ciphersuite
/// name with a project prefix), so a vote signature is never valid as any other message.
pub const VOTE_DST: &[u8] = b"BCOS-PBFT-VOTE-V1_BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_";
/// Domain separation tag for proofs of possession; distinct from [`VOTE_DST`] so a proof can
/// never be replayed as a vote and vice versa.
pub const POP_DST: &[u8] = b"BCOS-PBFT-POP-V1_BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_POP_";

/// Length of a secret key's big-endian scalar encoding.
pub const SECRET_KEY_LEN: usize = 32;
/// Length of a compressed G1 public key.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Length of a compressed G2 signature.
pub const SIGNATURE_LEN: usize = 96;

/// Why key or signature bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsKeyError {
    #[error("expected {expected} bytes, got {actual}")]
    Length { expected: usize, actual: usize },
    #[error("invalid hex: {0}")]
    Hex(String),
    #[error("secret key is not a valid nonzero scalar below the group order")]
    SecretKey,
    #[error("public key rejected: {0:?}")]
    PublicKey(BLST_ERROR),
    #[error("proof of possession does not verify for this public key")]
    Possession,
}

fn check_len(bytes: &[u8], expected: usize) -> Result<(), BlsKeyError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(BlsKeyError::Length {
            expected,
            actual: bytes.len(),
        })
    }
}

fn decode_hex(s: &str) -> Result<Vec<u8>, BlsKeyError> {
    hex::decode(s.trim()).map_err(|e| BlsKeyError::Hex(e.to_string()))
}

/// A validator's BLS vote signing key. `Debug` does not print the scalar.
#[derive(Clone)]
pub struct BlsSecretKey(SecretKey);

impl BlsSecretKey {
    /// Derives a key from 32 bytes of seed material with the IETF KeyGen (HKDF-SHA256), so the
    /// same seed always yields the same key.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        match SecretKey::key_gen(seed, &[]) {
            Ok(sk) => BlsSecretKey(sk),
            // key_gen fails only for seed material shorter than 32 bytes; the type rules it out.
            Err(e) => unreachable!("KeyGen refused a 32-byte seed: {e:?}"),
        }
    }

    /// Loads the 32-byte big-endian scalar written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsKeyError> {
        check_len(bytes, SECRET_KEY_LEN)?;
        SecretKey::from_bytes(bytes)
            .map(BlsSecretKey)
            .map_err(|_| BlsKeyError::SecretKey)
    }

    pub fn to_bytes(&self) -> [u8; SECRET_KEY_LEN] {
        self.0.to_bytes()
    }

    /// Lower-case hex without a `0x` prefix; [`Self::from_hex`] accepts either.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    pub fn from_hex(s: &str) -> Result<Self, BlsKeyError> {
        Self::from_bytes(&decode_hex(s)?)
    }

    pub fn public_key(&self) -> BlsPublicKey {
        let point = self.0.sk_to_pk();
        BlsPublicKey {
            bytes: point.compress(),
            point,
        }
    }

    /// Signs `msg` under `dst`; votes go through `vote::sign_vote`.
    pub(crate) fn sign_raw(&self, msg: &[u8], dst: &[u8]) -> BlsSignature {
        BlsSignature(self.0.sign(msg, dst, &[]).compress())
    }

    /// A proof of possession: a signature over this key's own public key bytes under
    /// [`POP_DST`]. Checking it once at registration is what makes aggregation over the
    /// validator set safe against rogue keys.
    pub fn prove_possession(&self) -> BlsSignature {
        self.sign_raw(&self.public_key().to_bytes(), POP_DST)
    }
}

impl fmt::Debug for BlsSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlsSecretKey(..)")
    }
}

/// A validated public key: decompressed and subgroup-checked once at load.
#[derive(Clone, PartialEq, Eq)]
pub struct BlsPublicKey {
    point: PublicKey,
    bytes: [u8; PUBLIC_KEY_LEN],
}

impl BlsPublicKey {
    /// Decompresses and validates (on curve, in the subgroup, not infinity) a 48-byte key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsKeyError> {
        check_len(bytes, PUBLIC_KEY_LEN)?;
        let point = PublicKey::key_validate(bytes).map_err(BlsKeyError::PublicKey)?;
        let mut owned = [0u8; PUBLIC_KEY_LEN];
        owned.copy_from_slice(bytes);
        Ok(BlsPublicKey {
            point,
            bytes: owned,
        })
    }

    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.bytes
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    pub fn from_hex(s: &str) -> Result<Self, BlsKeyError> {
        Self::from_bytes(&decode_hex(s)?)
    }

    /// Checks a proof of possession made by [`BlsSecretKey::prove_possession`].
    pub fn verify_possession(&self, proof: &BlsSignature) -> bool {
        verify_raw(&self.point, &self.bytes, POP_DST, proof)
    }

    /// Parses a validator's key together with its proof of possession and refuses the key
    /// unless the proof verifies (PBFT-K1). Every key that enters a validator set goes
    /// through here: certificates are checked with a fast aggregate verification over one
    /// message, which is only sound when no key in the set is a rogue key built from the
    /// others' (`pk_rogue = r·G - Σ pk_i`), and nobody can prove possession of such a key.
    pub fn from_hex_with_possession(key_hex: &str, proof_hex: &str) -> Result<Self, BlsKeyError> {
        let key = Self::from_hex(key_hex)?;
        let proof = BlsSignature::from_hex(proof_hex)?;
        if key.verify_possession(&proof) {
            Ok(key)
        } else {
            Err(BlsKeyError::Possession)
        }
    }

    pub(crate) fn point(&self) -> &PublicKey {
        &self.point
    }
}

impl fmt::Debug for BlsPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsPublicKey({})", self.to_hex())
    }
}

/// A compressed G2 signature as it travels on the wire. It is only parsed when used, so
/// holding or forwarding one costs nothing; a malformed one fails verification.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlsSignature(pub [u8; SIGNATURE_LEN]);

impl BlsSignature {
    /// Length-checked copy; the point itself is checked on verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsKeyError> {
        check_len(bytes, SIGNATURE_LEN)?;
        let mut owned = [0u8; SIGNATURE_LEN];
        owned.copy_from_slice(bytes);
        Ok(BlsSignature(owned))
    }

    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, BlsKeyError> {
        Self::from_bytes(&decode_hex(s)?)
    }

    /// Decompresses (on-curve check, ~30 µs) without the subgroup check (~50 µs more), which
    /// the one verification of the aggregate performs instead.
    pub(crate) fn parse_unchecked(&self) -> Option<Signature> {
        Signature::from_bytes(&self.0).ok()
    }
}

impl fmt::Debug for BlsSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsSignature({})", self.to_hex())
    }
}

/// One signature check with the signature's subgroup check and without re-validating the
/// already-validated key (about 1.1 ms).
pub(crate) fn verify_raw(pk: &PublicKey, msg: &[u8], dst: &[u8], sig: &BlsSignature) -> bool {
    match sig.parse_unchecked() {
        Some(s) => s.verify(true, msg, dst, &[], pk, false) == BLST_ERROR::BLST_SUCCESS,
        None => false,
    }
}
