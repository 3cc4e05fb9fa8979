//! Load accounts: deterministic keys derived from a seed, funded from a dev account.

use crate::rpc_client::{hex_u64, RpcClient};
use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, TxKind, U256};
use anyhow::{bail, Context};
use rayon::prelude::*;
use secp256k1::SecretKey;
use serde_json::json;

pub struct Account {
    pub key: SecretKey,
    pub address: Address,
}

/// `count` keys from `seed`: key i = keccak256(seed ‖ i), retried in the negligible case that
/// it is not a valid scalar.
pub fn derive(seed: &str, count: usize) -> Vec<Account> {
    (0..count)
        .into_par_iter()
        .map(|i| {
            let mut material = keccak256(format!("{seed}/{i}"));
            loop {
                if let Ok(key) = SecretKey::from_byte_array(material.0) {
                    return Account { address: bcos_crypto::address_of(&key), key };
                }
                material = keccak256(material);
            }
        })
        .collect()
}

/// Fee settings every generated transaction uses.
#[derive(Debug, Clone, Copy)]
pub struct Fees {
    pub chain_id: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

pub fn transfer(fees: &Fees, key: &SecretKey, nonce: u64, to: Address, value: U256) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: TxKind::Call(to),
        value,
        ..Default::default()
    };
    bcos_crypto::sign_tx(tx, key).encoded_2718()
}

/// Transactions one funding batch sends; stays under the node's per-sender limits.
const FUNDING_CHUNK: usize = 1_000;

/// Sends `amount` from `funder` to every account and waits until all are committed.
pub fn fund(client: &mut RpcClient, fees: &Fees, funder: &SecretKey, accounts: &[Account], amount: U256) -> anyhow::Result<()> {
    let from = bcos_crypto::address_of(funder);
    for chunk in accounts.chunks(FUNDING_CHUNK) {
        let mut nonce = hex_u64(&client.must("eth_getTransactionCount", json!([from, "pending"]))?)?;
        let raws: Vec<String> = chunk
            .iter()
            .map(|a| {
                let raw = transfer(fees, funder, nonce, a.address, amount);
                nonce += 1;
                format!("0x{}", hex(&raw))
            })
            .collect();
        let calls: Vec<(&str, serde_json::Value)> =
            raws.iter().map(|r| ("eth_sendRawTransaction", json!([r]))).collect();
        for (i, r) in client.batch(&calls)?.into_iter().enumerate() {
            if let Err(e) = r {
                bail!("funding transfer {i} refused: {e}");
            }
        }
        wait_nonce(client, &from, nonce).context("waiting for funding transfers")?;
    }
    Ok(())
}

/// Polls until `address`'s committed nonce reaches `nonce`; bounded by `POLLS_MAX`.
pub fn wait_nonce(client: &mut RpcClient, address: &Address, nonce: u64) -> anyhow::Result<()> {
    const POLLS_MAX: usize = 6_000;
    for _ in 0..POLLS_MAX {
        let n = hex_u64(&client.must("eth_getTransactionCount", json!([address, "latest"]))?)?;
        if n >= nonce {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("nonce of {address} did not reach {nonce}")
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
