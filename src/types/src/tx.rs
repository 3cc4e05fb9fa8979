//! Transactions: standard Ethereum typed envelopes (legacy/EIP-155, EIP-2930, EIP-1559).
//!
//! A [`Tx`] is decoded once from its EIP-2718 bytes and keeps its hash and encoded size; a
//! [`RecoveredTx`] adds the sender recovered by `bcos-crypto`.

use crate::codec::CodecError;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use std::sync::Arc;

/// Transaction types this chain accepts (EIP-2718 type byte).
pub const SUPPORTED_TX_TYPES: [u8; 3] = [0, 1, 2];

/// Why a transaction was rejected before it reached the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("malformed transaction: {0}")]
    Decode(#[from] CodecError),
    #[error("transaction type {0} is not supported (supported: legacy, EIP-2930, EIP-1559)")]
    UnsupportedType(u8),
    #[error("invalid signature")]
    InvalidSignature,
}

/// A decoded, signed transaction with its hash and encoded length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    envelope: TxEnvelope,
    hash: B256,
    encoded_len: usize,
}

impl Tx {
    /// Decodes EIP-2718 bytes (a legacy RLP list or `type ‖ payload`), rejecting trailing bytes
    /// and unsupported types.
    pub fn decode(raw: &[u8]) -> Result<Self, TxError> {
        if raw.is_empty() {
            return Err(CodecError::Empty.into());
        }
        let mut buf = raw;
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| TxError::Decode(CodecError::Rlp(e.to_string())))?;
        if !buf.is_empty() {
            return Err(CodecError::TrailingBytes(buf.len()).into());
        }
        let ty = envelope.tx_type() as u8;
        if !SUPPORTED_TX_TYPES.contains(&ty) {
            return Err(TxError::UnsupportedType(ty));
        }
        let hash = *envelope.tx_hash();
        Ok(Tx {
            envelope,
            hash,
            encoded_len: raw.len(),
        })
    }

    pub fn from_envelope(envelope: TxEnvelope) -> Self {
        let encoded_len = envelope.encode_2718_len();
        let hash = *envelope.tx_hash();
        Tx {
            envelope,
            hash,
            encoded_len,
        }
    }

    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }
    pub fn hash(&self) -> B256 {
        self.hash
    }
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }
    /// The EIP-2718 encoding, the form that goes into blocks and over the wire.
    pub fn encoded(&self) -> Vec<u8> {
        self.envelope.encoded_2718()
    }
    pub fn tx_type(&self) -> u8 {
        self.envelope.tx_type() as u8
    }
    /// None for a pre-EIP-155 legacy transaction.
    pub fn chain_id(&self) -> Option<u64> {
        self.envelope.chain_id()
    }
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }
    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }
    pub fn kind(&self) -> TxKind {
        self.envelope.kind()
    }
    pub fn to(&self) -> Option<Address> {
        self.envelope.to()
    }
    pub fn value(&self) -> U256 {
        self.envelope.value()
    }
    pub fn input(&self) -> &Bytes {
        self.envelope.input()
    }
    /// gas price for legacy/2930, max fee per gas for 1559.
    pub fn max_fee_per_gas(&self) -> u128 {
        self.envelope.max_fee_per_gas()
    }
    pub fn max_priority_fee_per_gas(&self) -> Option<u128> {
        self.envelope.max_priority_fee_per_gas()
    }
    /// The price actually paid per gas under `base_fee`.
    pub fn effective_gas_price(&self, base_fee: u64) -> u128 {
        self.envelope.effective_gas_price(Some(base_fee))
    }
    /// The most this transaction can cost its sender: `gas_limit × max_fee + value`, or `None`
    /// when that sum exceeds 2^256 − 1. Every operand comes from the sender, so the sum is
    /// checked: wrapping would let an empty account pass a balance check. The product
    /// (u64 × u128 < 2^192) cannot overflow; only adding `value` can.
    pub fn max_cost(&self) -> Option<U256> {
        U256::from(self.gas_limit())
            .checked_mul(U256::from(self.max_fee_per_gas()))?
            .checked_add(self.value())
    }
    /// The hash the sender signed.
    pub fn signature_hash(&self) -> B256 {
        self.envelope.signature_hash()
    }
    /// `r ‖ s` (64 bytes) and the recovery id (0 or 1).
    pub fn signature_compact(&self) -> ([u8; 64], u8) {
        let sig = self.envelope.signature();
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
        out[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
        (out, sig.v() as u8)
    }
}

/// A transaction whose sender has been recovered once, at admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTx {
    pub tx: Arc<Tx>,
    pub sender: Address,
}

impl RecoveredTx {
    pub fn new(tx: Arc<Tx>, sender: Address) -> Self {
        RecoveredTx { tx, sender }
    }
    pub fn hash(&self) -> B256 {
        self.tx.hash()
    }
}

impl std::ops::Deref for RecoveredTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

#[cfg(test)]
pub(crate) mod test_txs {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxLegacy};
    use alloy_primitives::Signature;
    use secp256k1::{Message, SecretKey, SECP256K1};

    pub fn sign<T: SignableTransaction<Signature>>(tx: T, key: &SecretKey) -> TxEnvelope
    where
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        let hash = tx.signature_hash();
        let msg = Message::from_digest(hash.0);
        let (recid, compact) = SECP256K1
            .sign_ecdsa_recoverable(msg, key)
            .serialize_compact();
        let sig = Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1);
        tx.into_signed(sig).into()
    }

    pub fn key(i: u8) -> SecretKey {
        SecretKey::from_byte_array([i.max(1); 32]).unwrap()
    }

    /// One transaction of each supported type, parameterised by the fuzzer.
    pub fn of_type(ty: u8, nonce: u64, value: u64, input: Vec<u8>, key: &SecretKey) -> TxEnvelope {
        let to = TxKind::Call(Address::repeat_byte(0x11));
        match ty % 3 {
            0 => sign(
                TxLegacy {
                    chain_id: Some(20200),
                    nonce,
                    gas_price: 1_000_000_000,
                    gas_limit: 21_000,
                    to,
                    value: U256::from(value),
                    input: input.into(),
                },
                key,
            ),
            1 => sign(
                TxEip2930 {
                    chain_id: 20200,
                    nonce,
                    gas_price: 1_000_000_000,
                    gas_limit: 50_000,
                    to,
                    value: U256::from(value),
                    input: input.into(),
                    access_list: Default::default(),
                },
                key,
            ),
            _ => sign(
                TxEip1559 {
                    chain_id: 20200,
                    nonce,
                    gas_limit: 60_000,
                    max_fee_per_gas: 2_000_000_000,
                    max_priority_fee_per_gas: 1_000_000,
                    to,
                    value: U256::from(value),
                    input: input.into(),
                    access_list: Default::default(),
                },
                key,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_txs::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_and_rejects_damage(
            ty in 0u8..3, nonce in any::<u64>(), value in any::<u64>(),
            input in proptest::collection::vec(any::<u8>(), 0..64),
            cut in any::<prop::sample::Index>(), extra in 1u8..=255,
        ) {
            let env = of_type(ty, nonce, value, input, &key(7));
            let raw = env.encoded_2718();
            let tx = Tx::decode(&raw).unwrap();
            prop_assert_eq!(tx.encoded(), raw.clone());
            prop_assert_eq!(tx.hash(), alloy_primitives::keccak256(&raw));
            prop_assert_eq!(tx.nonce(), nonce);
            prop_assert_eq!(tx.encoded_len(), raw.len());

            let truncated = &raw[..cut.index(raw.len())];
            prop_assert!(Tx::decode(truncated).is_err());
            let mut trailing = raw.clone();
            trailing.push(extra);
            prop_assert!(Tx::decode(&trailing).is_err());
        }
    }

    fn with_value(value: U256) -> Tx {
        use alloy_consensus::TxEip1559;
        Tx::from_envelope(sign(
            TxEip1559 {
                chain_id: 20200,
                gas_limit: 21_000,
                max_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(Address::repeat_byte(0x11)),
                value,
                ..Default::default()
            },
            &key(3),
        ))
    }

    /// Regression (issue 10, item 10): `gas × fee + value` used to wrap, so a value near
    /// 2^256 made the cost tiny and an empty account passed the balance check.
    #[test]
    fn max_cost_is_checked() {
        let gas_cost = U256::from(21_000u64) * U256::from(1_000_000_000u64);
        assert_eq!(
            with_value(U256::from(5)).max_cost(),
            Some(gas_cost + U256::from(5))
        );
        assert_eq!(with_value(U256::MAX - gas_cost).max_cost(), Some(U256::MAX));
        assert_eq!(
            with_value(U256::MAX - gas_cost + U256::from(1)).max_cost(),
            None
        );
        assert_eq!(with_value(U256::MAX).max_cost(), None);
    }

    #[test]
    fn rejects_blob_type_and_garbage() {
        assert!(matches!(
            Tx::decode(&[]),
            Err(TxError::Decode(CodecError::Empty))
        ));
        assert!(Tx::decode(&[0x03, 0xc0]).is_err());
        assert!(Tx::decode(&[0xff; 10]).is_err());
    }
}
