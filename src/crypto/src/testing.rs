//! Transaction builders shared by this crate's unit tests.

use crate::sign_tx;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Signature, TxKind, U256};
use secp256k1::SecretKey;

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_byte_array([i.max(1); 32]).unwrap()
}

/// One transaction of each supported type (`ty % 3`: legacy/EIP-155, EIP-2930, EIP-1559).
pub fn of_type(ty: u8, nonce: u64, value: u64, input: Vec<u8>, key: &SecretKey) -> TxEnvelope {
    let to = TxKind::Call(Address::repeat_byte(0x11));
    let value = U256::from(value);
    match ty % 3 {
        0 => sign_tx(
            TxLegacy {
                chain_id: Some(20200),
                nonce,
                gas_price: 1_000_000_000,
                gas_limit: 21_000,
                to,
                value,
                input: input.into(),
            },
            key,
        ),
        1 => sign_tx(
            TxEip2930 {
                chain_id: 20200,
                nonce,
                gas_price: 1_000_000_000,
                gas_limit: 50_000,
                to,
                value,
                input: input.into(),
                access_list: Default::default(),
            },
            key,
        ),
        _ => sign_tx(
            TxEip1559 {
                chain_id: 20200,
                nonce,
                gas_limit: 60_000,
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1_000_000,
                to,
                value,
                input: input.into(),
                access_list: Default::default(),
            },
            key,
        ),
    }
}

/// The same transaction under another (possibly invalid) signature.
pub fn with_signature(env: &TxEnvelope, sig: Signature) -> TxEnvelope {
    match env {
        TxEnvelope::Legacy(s) => s.tx().clone().into_signed(sig).into(),
        TxEnvelope::Eip2930(s) => s.tx().clone().into_signed(sig).into(),
        TxEnvelope::Eip1559(s) => s.tx().clone().into_signed(sig).into(),
        other => panic!("unsupported test type {:?}", other.tx_type()),
    }
}
