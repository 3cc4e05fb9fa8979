//! Signing helpers for tests, load generators and dev tooling (the node itself never signs).
//!
//! Uses the `secp256k1` 0.31 crate API, which re-randomises its context on each sign (about
//! 47 µs instead of 22 µs raw, shared/reference/machine-limits.md row 1); that only matters for
//! a signing-heavy load generator, which can pre-sign its transactions.

use alloy_consensus::{SignableTransaction, Signed, TxEnvelope};
use alloy_primitives::Signature;
use secp256k1::{Message, SecretKey, SECP256K1};

/// Signs any typed transaction (`TxLegacy`, `TxEip2930`, `TxEip1559`, `TypedTransaction`)
/// into an envelope. libsecp256k1 always produces low-`s` signatures, as EIP-2 requires.
pub fn sign_tx<T>(tx: T, key: &SecretKey) -> TxEnvelope
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    let signature = sign_prehash(tx.signature_hash().0, key);
    tx.into_signed(signature).into()
}

/// An Ethereum `(r, s, y-parity)` signature over a 32-byte prehash.
pub fn sign_prehash(prehash: [u8; 32], key: &SecretKey) -> Signature {
    let (recid, compact) = SECP256K1
        .sign_ecdsa_recoverable(Message::from_digest(prehash), key)
        .serialize_compact();
    Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1)
}
