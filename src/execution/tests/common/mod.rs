//! Shared test fixtures: an in-memory state, signing, and hand-assembled contracts.
#![allow(dead_code)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{keccak256, Address, Bytes, Signature, TxKind, B256, U256};
use bcos_execution::BlockEnv;
use bcos_storage::{StateReader, StorageError};
use bcos_types::{Account, RecoveredTx, StateDiff, Tx};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CHAIN_ID: u64 = 20200;
pub const GWEI: u128 = 1_000_000_000;
pub const BASE_FEE: u64 = 1_000_000_000;

pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A committed state as plain maps, with the diff semantics of `bcos_types::StateDiff`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TestState {
    pub accounts: BTreeMap<Address, Account>,
    pub storage: BTreeMap<(Address, U256), U256>,
    pub codes: BTreeMap<B256, Bytes>,
}

impl TestState {
    pub fn with_balances(alloc: &[(Address, U256)]) -> Self {
        let mut s = TestState::default();
        s.apply(&bcos_execution::genesis_diff(alloc));
        s
    }

    pub fn apply(&mut self, diff: &StateDiff) {
        for addr in &diff.wiped_storage {
            self.storage.retain(|(a, _), _| a != addr);
        }
        for (addr, acct) in &diff.accounts {
            match acct {
                Some(a) => {
                    self.accounts.insert(*addr, a.clone());
                }
                None => {
                    self.accounts.remove(addr);
                }
            }
        }
        for (addr, slots) in &diff.storage {
            for (slot, value) in slots {
                if value.is_zero() {
                    self.storage.remove(&(*addr, *slot));
                } else {
                    self.storage.insert((*addr, *slot), *value);
                }
            }
        }
        for (hash, code) in &diff.codes {
            self.codes.insert(*hash, code.clone());
        }
    }

    pub fn balance(&self, a: &Address) -> U256 {
        self.accounts.get(a).map(|a| a.balance).unwrap_or_default()
    }
    pub fn nonce(&self, a: &Address) -> u64 {
        self.accounts.get(a).map(|a| a.nonce).unwrap_or_default()
    }
}

impl StateReader for TestState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        Ok(self.accounts.get(address).cloned())
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        Ok(self
            .storage
            .get(&(*address, *slot))
            .copied()
            .unwrap_or_default())
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self.codes.get(code_hash).cloned())
    }
}

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_byte_array([i.max(1); 32]).expect("valid test key")
}

pub fn address_of(key: &SecretKey) -> Address {
    let pk = PublicKey::from_secret_key(SECP256K1, key).serialize_uncompressed();
    Address::from_slice(&keccak256(&pk[1..])[12..])
}

pub fn sign<T: SignableTransaction<Signature>>(tx: T, key: &SecretKey) -> RecoveredTx
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let hash = tx.signature_hash();
    let (recid, compact) = SECP256K1
        .sign_ecdsa_recoverable(Message::from_digest(hash.0), key)
        .serialize_compact();
    let sig = Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1);
    let envelope: TxEnvelope = tx.into_signed(sig).into();
    RecoveredTx::new(Arc::new(Tx::from_envelope(envelope)), address_of(key))
}

/// An EIP-1559 transaction paying 2 gwei max and a 1 gwei tip.
pub fn tx1559(
    key: &SecretKey,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Vec<u8>,
    gas: u64,
) -> RecoveredTx {
    sign(
        TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 2 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to,
            value,
            input: input.into(),
            access_list: Default::default(),
        },
        key,
    )
}

pub fn legacy(
    key: &SecretKey,
    nonce: u64,
    to: Address,
    value: U256,
    gas_price: u128,
) -> RecoveredTx {
    sign(
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price,
            gas_limit: 21_000,
            to: TxKind::Call(to),
            value,
            input: Default::default(),
        },
        key,
    )
}

pub fn env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number,
        gas_limit: 30_000_000,
        base_fee: BASE_FEE,
        beneficiary: Address::repeat_byte(0xbe),
    }
}

pub const TOPIC: [u8; 32] = [0xaa; 32];

/// `Error("nope")` ABI-encoded, the revert data of [`logger_runtime`].
pub fn nope_revert_data() -> Vec<u8> {
    let mut d = vec![0x08, 0xc3, 0x79, 0xa0];
    d.extend_from_slice(&U256::from(0x20).to_be_bytes::<32>());
    d.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
    let mut s = [0u8; 32];
    s[..4].copy_from_slice(b"nope");
    d.extend_from_slice(&s);
    d
}

/// Runtime code: with empty calldata, `revert Error("nope")`; otherwise store calldata word 0
/// in slot 0 and emit LOG1(TOPIC) carrying the calldata.
pub fn logger_runtime() -> Vec<u8> {
    let mut revert = vec![0x7f];
    let mut sel = [0u8; 32];
    sel[..4].copy_from_slice(&[0x08, 0xc3, 0x79, 0xa0]);
    revert.extend_from_slice(&sel);
    revert.extend_from_slice(&[0x60, 0x00, 0x52]); // mstore(0, selector)
    revert.extend_from_slice(&[0x60, 0x20, 0x60, 0x04, 0x52]); // mstore(4, 0x20)
    revert.extend_from_slice(&[0x60, 0x04, 0x60, 0x24, 0x52]); // mstore(0x24, 4)
    revert.push(0x7f);
    let mut s = [0u8; 32];
    s[..4].copy_from_slice(b"nope");
    revert.extend_from_slice(&s);
    revert.extend_from_slice(&[0x60, 0x44, 0x52]); // mstore(0x44, "nope")
    revert.extend_from_slice(&[0x60, 0x64, 0x60, 0x00, 0xfd]); // revert(0, 100)
    let ok = 4 + revert.len();
    let mut code = vec![0x36, 0x60, ok as u8, 0x57]; // jumpi(ok, calldatasize)
    code.extend(revert);
    code.push(0x5b); // ok:
    code.extend_from_slice(&[0x60, 0x00, 0x35, 0x60, 0x00, 0x55]); // sstore(0, calldataload(0))
    code.extend_from_slice(&[0x36, 0x60, 0x00, 0x60, 0x00, 0x37]); // calldatacopy(0, 0, size)
    code.push(0x7f);
    code.extend_from_slice(&TOPIC);
    code.extend_from_slice(&[0x36, 0x60, 0x00, 0xa1, 0x00]); // log1(0, size, TOPIC); stop
    code
}

/// Init code that deploys `runtime` unchanged.
pub fn deployer(runtime: &[u8]) -> Vec<u8> {
    let len = u8::try_from(runtime.len()).expect("short runtime");
    let mut code = vec![
        0x60, len, 0x80, 0x60, 11, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code
}

/// An executor whose chain has a user-side settlement contract for `merchant` (a system
/// contract, spec/execution.md §6), on fork `spec`, with EXEC-R21 on or off.
pub fn settlement_executor(
    merchant: Address,
    spec: bcos_execution::EvmSpec,
    direct_transfers: bool,
) -> bcos_execution::Executor {
    use bcos_execution::settlement::UserSettlement;
    bcos_execution::Executor::with_system_contracts(
        bcos_execution::ExecConfig {
            chain_id: CHAIN_ID,
            spec,
            direct_transfers,
            ..Default::default()
        },
        bcos_execution::SystemContracts::new(vec![Arc::new(UserSettlement { merchant })]),
    )
}

/// A random block's nonce for a sender whose next expected nonce is `next`: `kind` 0 takes the
/// next one (and advances it), 1 leaves a gap, anything else is one too low.
pub fn pick_nonce(next: &mut u64, kind: u8) -> u64 {
    match kind {
        0 => {
            *next += 1;
            *next - 1
        }
        1 => *next + 1,
        _ => next.saturating_sub(1),
    }
}
