//! Signing transactions for the tests, independently of the node's own crypto crate: the dev
//! accounts' keys are anvil's published ones, and signing is plain libsecp256k1 + alloy.

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

/// Chain id of `bcos dev` by default.
pub const CHAIN_ID: u64 = 20200;
pub const GWEI: u128 = 1_000_000_000;
/// Fee cap / legacy gas price the tests sign with: far above the dev chain's base fee so
/// pre-signed transactions stay valid, small enough that thousands cost under 1 ETH.
pub const GAS_PRICE_WEI: u128 = 10 * GWEI;
pub const PRIORITY_FEE_WEI: u128 = GWEI;
/// Intrinsic gas of a plain transfer.
pub const TRANSFER_GAS: u64 = 21_000;
/// Each dev account's genesis balance: 10,000 ETH.
pub fn dev_balance() -> U256 {
    U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// Keys of "test test ... junk" at m/44'/60'/0'/0/i (anvil's accounts 0..9).
pub const DEV_KEYS: [&str; 10] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Accounts a dev chain funds (`chain.dev_accounts`' default).
pub const DEV_ACCOUNTS: usize = 20;

/// Dev account `i` (0..20): the published keys for 0..10, derived from the mnemonic above.
pub fn dev_key(i: usize) -> SecretKey {
    if let Some(hex) = DEV_KEYS.get(i) {
        return key_from_hex(hex);
    }
    static DERIVED: std::sync::OnceLock<Vec<SecretKey>> = std::sync::OnceLock::new();
    DERIVED.get_or_init(|| {
        bcos_crypto::keys::dev_keys(bcos_crypto::TEST_MNEMONIC, DEV_ACCOUNTS)
            .expect("derive the dev accounts")
    })[i]
}

pub fn key_from_hex(h: &str) -> SecretKey {
    let bytes = decode_hex(h);
    let arr: [u8; 32] = bytes.as_slice().try_into().expect("32-byte key");
    SecretKey::from_byte_array(arr).expect("valid secp256k1 key")
}

/// A key no genesis funds (deterministic, distinct per `seed`).
pub fn unfunded_key(seed: u8) -> SecretKey {
    let mut b = [0x5au8; 32];
    b[31] = seed;
    SecretKey::from_byte_array(b).expect("valid secp256k1 key")
}

pub fn address_of(key: &SecretKey) -> Address {
    let pk = PublicKey::from_secret_key(SECP256K1, key).serialize_uncompressed();
    Address::from_raw_public_key(&pk[1..])
}

/// Signs `tx` with `key` (recoverable ECDSA over its signature hash).
pub fn sign<T>(tx: T, key: &SecretKey) -> TxEnvelope
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    let msg = Message::from_digest(tx.signature_hash().0);
    let (recid, compact) = SECP256K1
        .sign_ecdsa_recoverable(msg, key)
        .serialize_compact();
    let sig = Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1);
    tx.into_signed(sig).into()
}

/// Everything a test varies in a transaction; `Default` is a type-2 zero-value transfer.
#[derive(Debug, Clone)]
pub struct TxSpec {
    /// EIP-2718 type: 0 legacy (EIP-155), 1 EIP-2930, 2 EIP-1559.
    pub ty: u8,
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Address,
    pub value: U256,
    pub gas_limit: u64,
    pub gas_price_wei: u128,
    pub input: Vec<u8>,
}

impl Default for TxSpec {
    fn default() -> Self {
        TxSpec {
            ty: 2,
            chain_id: CHAIN_ID,
            nonce: 0,
            to: Address::repeat_byte(0x11),
            value: U256::ZERO,
            gas_limit: TRANSFER_GAS,
            gas_price_wei: GAS_PRICE_WEI,
            input: Vec::new(),
        }
    }
}

impl TxSpec {
    /// The unsigned transaction's envelope signed by `key`.
    pub fn sign(&self, key: &SecretKey) -> TxEnvelope {
        let to = TxKind::Call(self.to);
        let input = Bytes::from(self.input.clone());
        match self.ty {
            0 => sign(
                TxLegacy {
                    chain_id: Some(self.chain_id),
                    nonce: self.nonce,
                    gas_price: self.gas_price_wei,
                    gas_limit: self.gas_limit,
                    to,
                    value: self.value,
                    input,
                },
                key,
            ),
            1 => sign(
                TxEip2930 {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_price: self.gas_price_wei,
                    gas_limit: self.gas_limit,
                    to,
                    value: self.value,
                    input,
                    access_list: Default::default(),
                },
                key,
            ),
            2 => sign(
                TxEip1559 {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_limit: self.gas_limit,
                    max_fee_per_gas: self.gas_price_wei,
                    max_priority_fee_per_gas: PRIORITY_FEE_WEI.min(self.gas_price_wei),
                    to,
                    value: self.value,
                    input,
                    access_list: Default::default(),
                },
                key,
            ),
            t => panic!("unsupported tx type {t} in a test"),
        }
    }

    /// Signed EIP-2718 bytes.
    pub fn raw(&self, key: &SecretKey) -> Vec<u8> {
        self.sign(key).encoded_2718()
    }
}

/// A type-2 transfer of `value` wei.
pub fn transfer(key: &SecretKey, nonce: u64, to: Address, value: U256) -> Vec<u8> {
    TxSpec {
        nonce,
        to,
        value,
        ..TxSpec::default()
    }
    .raw(key)
}

/// `0x`-prefixed lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn decode_hex(h: &str) -> Vec<u8> {
    let h = h.strip_prefix("0x").unwrap_or(h);
    assert!(h.len().is_multiple_of(2), "odd-length hex {h:?}");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|e| panic!("hex {h:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_are_anvils_accounts() {
        let a0: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .expect("addr");
        let a9: Address = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
            .parse()
            .expect("addr");
        assert_eq!(address_of(&dev_key(0)), a0);
        assert_eq!(address_of(&dev_key(9)), a9);
    }

    #[test]
    fn signed_transfers_recover_to_the_signer() {
        for ty in 0..3 {
            use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
            let env = TxSpec {
                ty,
                nonce: 3,
                ..TxSpec::default()
            }
            .sign(&dev_key(1));
            let sig = env.signature();
            let rec = RecoveryId::try_from(i32::from(sig.v())).expect("parity");
            let rs = RecoverableSignature::from_compact(&sig.as_bytes()[..64], rec).expect("sig");
            let msg = Message::from_digest(env.signature_hash().0);
            let pk = SECP256K1.recover_ecdsa(msg, &rs).expect("recoverable");
            let signer = Address::from_raw_public_key(&pk.serialize_uncompressed()[1..]);
            assert_eq!(signer, address_of(&dev_key(1)), "type {ty}");
        }
    }
}
