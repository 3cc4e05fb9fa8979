//! Single-transaction sender recovery with libsecp256k1 (through the `secp256k1` crate and its
//! global verification context).
//!
//! Rules of transaction admission (DESIGN.md; EIP-2, EIP-155, EIP-2718):
//! - the message is the transaction's signature hash (EIP-155 / EIP-2718 aware, from alloy);
//! - signatures with `s > n/2` are rejected (EIP-2), because libsecp256k1 recovery alone accepts
//!   them and a malleated copy would otherwise be a second valid transaction with a new hash;
//! - the sender is the last 20 bytes of `keccak256` of the 64-byte uncompressed public key.

use alloy_primitives::{keccak256, Address, B256};
use bcos_types::{Tx, TxError};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SECP256K1};

/// `n / 2` for the secp256k1 group order `n`, big-endian: the largest `s` EIP-2 allows.
pub const SECP256K1_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// True when `s` (big-endian) is above `n/2`, i.e. the malleable half that EIP-2 forbids.
pub fn is_high_s(s: &[u8; 32]) -> bool {
    // Big-endian byte arrays of equal length compare like the numbers they encode.
    s > &SECP256K1_HALF_ORDER
}

/// Recovers the address that signed `tx`.
///
/// Every failure (high `s`, `r`/`s` out of range or zero, a point that does not exist) is
/// reported as [`TxError::InvalidSignature`]: the caller drops the transaction either way.
pub fn recover_sender(tx: &Tx) -> Result<Address, TxError> {
    let (compact, parity) = tx.signature_compact();
    recover_address(tx.signature_hash(), &compact, parity)
}

/// Recovers the signer's address from a 32-byte prehash, `r ‖ s` and the y-parity (0 or 1).
pub fn recover_address(prehash: B256, compact: &[u8; 64], parity: u8) -> Result<Address, TxError> {
    let mut s = [0u8; 32];
    s.copy_from_slice(&compact[32..]);
    if is_high_s(&s) {
        return Err(TxError::InvalidSignature);
    }
    // Ethereum signatures only carry parity; ids 2 and 3 (r >= n - p) are never produced.
    if parity > 1 {
        return Err(TxError::InvalidSignature);
    }
    let recid = RecoveryId::from_u8_masked(parity);
    let sig = RecoverableSignature::from_compact(compact, recid)
        .map_err(|_| TxError::InvalidSignature)?;
    let pk = SECP256K1
        .recover_ecdsa(Message::from_digest(prehash.0), &sig)
        .map_err(|_| TxError::InvalidSignature)?;
    Ok(address_of_public_key(&pk))
}

/// The Ethereum address of a public key: `keccak256(x ‖ y)[12..]`.
pub fn address_of_public_key(pk: &PublicKey) -> Address {
    let uncompressed = pk.serialize_uncompressed();
    // Byte 0 is the 0x04 SEC1 tag; the address hashes only the 64 coordinate bytes.
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{key, of_type, with_signature};
    use alloy_primitives::{Signature, U256};
    use bcos_types::Tx;

    /// The secp256k1 group order.
    fn order() -> U256 {
        U256::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap()
    }

    #[test]
    fn half_order_constant_is_n_div_2() {
        assert_eq!(
            U256::from_be_bytes(SECP256K1_HALF_ORDER),
            order() / U256::from(2)
        );
    }

    #[test]
    fn recovers_the_signer_for_every_type() {
        for ty in 0..3u8 {
            for k in 1..4u8 {
                let sk = key(k);
                let tx = Tx::from_envelope(of_type(ty, 5, 7, vec![1, 2, 3], &sk));
                assert_eq!(tx.tx_type(), ty);
                assert_eq!(recover_sender(&tx), Ok(crate::address_of(&sk)), "type {ty}");
            }
        }
    }

    #[test]
    fn tampered_signature_changes_sender_or_fails() {
        let sk = key(9);
        let signer = crate::address_of(&sk);
        for ty in 0..3u8 {
            let env = of_type(ty, 1, 1, vec![], &sk);
            let sig = *env.signature();
            let r = sig.r() ^ U256::from(1u8);
            let bad = Tx::from_envelope(with_signature(&env, Signature::new(r, sig.s(), sig.v())));
            assert_ne!(recover_sender(&bad), Ok(signer));
            let flipped = Signature::new(sig.r(), sig.s(), !sig.v());
            let bad = Tx::from_envelope(with_signature(&env, flipped));
            assert_ne!(recover_sender(&bad), Ok(signer));
            let zero = Signature::new(U256::ZERO, sig.s(), sig.v());
            let bad = Tx::from_envelope(with_signature(&env, zero));
            assert_eq!(recover_sender(&bad), Err(TxError::InvalidSignature));
        }
    }

    #[test]
    fn high_s_is_rejected_although_it_recovers_the_same_key() {
        let sk = key(3);
        for ty in 0..3u8 {
            let env = of_type(ty, 2, 3, vec![9], &sk);
            let sig = *env.signature();
            // (r, n - s, !v) is the malleated twin: mathematically valid for the same key.
            let twin = Signature::new(sig.r(), order() - sig.s(), !sig.v());
            let tx = Tx::from_envelope(with_signature(&env, twin));
            assert_eq!(recover_sender(&tx), Err(TxError::InvalidSignature));
            let (compact, _) = tx.signature_compact();
            let s: [u8; 32] = compact[32..].try_into().unwrap();
            assert!(is_high_s(&s));
        }
    }

    #[test]
    fn s_at_half_order_is_allowed_and_one_above_is_not() {
        assert!(!is_high_s(&SECP256K1_HALF_ORDER));
        let mut above = SECP256K1_HALF_ORDER;
        above[31] += 1;
        assert!(is_high_s(&above));
    }
}
