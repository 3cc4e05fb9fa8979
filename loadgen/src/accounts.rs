//! Load accounts: deterministic keys derived from a seed, funded from the dev accounts of the
//! test mnemonic (the node funds them at genesis), and transaction signing helpers.

use crate::rpc_client::{hex_u64, RpcClient};
use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, TxKind, B256, U256};
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
                    return Account {
                        address: bcos_crypto::address_of(&key),
                        key,
                    };
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

impl Fees {
    /// Chain id and a fee cap of twice the node's gas price, so a base fee change within that
    /// margin never strands pre-signed transactions.
    pub fn discover(client: &mut RpcClient) -> anyhow::Result<Fees> {
        let chain_id = hex_u64(&client.must("eth_chainId", json!([]))?)?;
        let gas_price = hex_u64(&client.must("eth_gasPrice", json!([]))?)? as u128;
        Ok(Fees {
            chain_id,
            max_fee_per_gas: gas_price * 2,
            max_priority_fee_per_gas: gas_price / 2,
        })
    }

    /// The most one transaction with `gas_limit` can cost in fees.
    pub fn fee_max_wei(&self, gas_limit: u64) -> U256 {
        U256::from(gas_limit) * U256::from(self.max_fee_per_gas)
    }
}

/// Gas of a plain ETH transfer.
pub const TRANSFER_GAS: u64 = 21_000;

pub fn transfer(fees: &Fees, key: &SecretKey, nonce: u64, to: Address, value: U256) -> Vec<u8> {
    sign_call(
        fees,
        key,
        nonce,
        TxKind::Call(to),
        value,
        TRANSFER_GAS,
        Vec::new(),
    )
    .1
}

/// Signs an EIP-1559 transaction; returns its hash and its EIP-2718 encoding.
pub fn sign_call(
    fees: &Fees,
    key: &SecretKey,
    nonce: u64,
    to: TxKind,
    value: U256,
    gas_limit: u64,
    input: Vec<u8>,
) -> (B256, Vec<u8>) {
    let tx = TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to,
        value,
        input: input.into(),
        ..Default::default()
    };
    let env = bcos_crypto::sign_tx(tx, key);
    (*env.tx_hash(), env.encoded_2718())
}

/// Dev accounts of the test mnemonic the node funds at genesis.
pub const DEV_FUNDERS_MAX: usize = 20;

/// The first `max` (at most [`DEV_FUNDERS_MAX`]) dev accounts of the test mnemonic holding at
/// least `balance_min_wei`; these pay for every load account.
pub fn dev_funders(
    client: &mut RpcClient,
    balance_min_wei: U256,
    max: usize,
) -> anyhow::Result<Vec<SecretKey>> {
    let keys = bcos_crypto::dev_keys(bcos_crypto::TEST_MNEMONIC, max.min(DEV_FUNDERS_MAX))?;
    let calls: Vec<(&str, serde_json::Value)> = keys
        .iter()
        .map(|k| {
            (
                "eth_getBalance",
                json!([bcos_crypto::address_of(k), "latest"]),
            )
        })
        .collect();
    let mut funders = Vec::new();
    for (key, r) in keys.into_iter().zip(client.batch(&calls)?) {
        let balance = r
            .ok()
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| U256::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            })
            .unwrap_or_default();
        if balance >= balance_min_wei {
            funders.push(key);
        }
    }
    if funders.is_empty() {
        bail!("no dev account of the test mnemonic holds {balance_min_wei} wei; is this a `bcos dev` chain?");
    }
    Ok(funders)
}

/// Transactions one payer has in flight during [`distribute`]: under the node's default
/// `pool.per_sender_max` and `pool.nonce_gap_max` (5,000).
pub const DISTRIBUTE_CHUNK: usize = 4_000;

/// Sends one transaction from a payer to each recipient (`build(payer, nonce, recipient)`
/// signs it), spreading recipients over `payers` and signing each round in parallel; waits
/// until every transaction is committed. Used to fund users in bulk and to hand out tokens.
pub fn distribute<F>(
    url: &str,
    payers: &[SecretKey],
    recipients: &[Address],
    build: F,
) -> anyhow::Result<()>
where
    F: Fn(&SecretKey, u64, Address) -> Vec<u8> + Sync,
{
    if payers.is_empty() || recipients.is_empty() {
        return Ok(());
    }
    let per_payer = recipients.len().div_ceil(payers.len());
    let shares: Vec<(&SecretKey, &[Address])> =
        payers.iter().zip(recipients.chunks(per_payer)).collect();
    let mut nonces: Vec<u64> = shares
        .par_iter()
        .map(|(k, _)| {
            let mut c = RpcClient::connect(url)?;
            hex_u64(&c.must(
                "eth_getTransactionCount",
                json!([bcos_crypto::address_of(k), "pending"]),
            )?)
        })
        .collect::<anyhow::Result<_>>()?;
    let rounds = per_payer.div_ceil(DISTRIBUTE_CHUNK);
    for round in 0..rounds {
        let work: Vec<(usize, &SecretKey, &[Address])> = shares
            .iter()
            .enumerate()
            .filter_map(|(i, (k, to))| {
                let start = round * DISTRIBUTE_CHUNK;
                (start < to.len())
                    .then(|| (i, *k, &to[start..(start + DISTRIBUTE_CHUNK).min(to.len())]))
            })
            .collect();
        let sent: Vec<(usize, u64)> = work
            .par_iter()
            .map(|(i, key, to)| {
                let base = nonces[*i];
                let raws: Vec<String> = to
                    .par_iter()
                    .enumerate()
                    .map(|(j, a)| format!("0x{}", hex(&build(key, base + j as u64, *a))))
                    .collect();
                let mut c = RpcClient::connect(url)?;
                for part in raws.chunks(FUNDING_CHUNK) {
                    let calls: Vec<(&str, serde_json::Value)> = part
                        .iter()
                        .map(|r| ("eth_sendRawTransaction", json!([r])))
                        .collect();
                    for r in c.batch(&calls)? {
                        if let Err(e) = r {
                            bail!("distribution transaction refused: {e}");
                        }
                    }
                }
                Ok((*i, base + to.len() as u64))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut c = RpcClient::connect(url)?;
        for (i, next) in sent {
            nonces[i] = next;
            wait_nonce(&mut c, &bcos_crypto::address_of(shares[i].0), next)
                .context("waiting for distribution")?;
        }
    }
    Ok(())
}

/// Transactions one funding batch sends; stays under the node's per-sender limits.
const FUNDING_CHUNK: usize = 1_000;

/// Sends `amount` from `funder` to every account and waits until all are committed.
pub fn fund(
    client: &mut RpcClient,
    fees: &Fees,
    funder: &SecretKey,
    accounts: &[Account],
    amount: U256,
) -> anyhow::Result<()> {
    let from = bcos_crypto::address_of(funder);
    for chunk in accounts.chunks(FUNDING_CHUNK) {
        let mut nonce =
            hex_u64(&client.must("eth_getTransactionCount", json!([from, "pending"]))?)?;
        let raws: Vec<String> = chunk
            .iter()
            .map(|a| {
                let raw = transfer(fees, funder, nonce, a.address, amount);
                nonce += 1;
                format!("0x{}", hex(&raw))
            })
            .collect();
        let calls: Vec<(&str, serde_json::Value)> = raws
            .iter()
            .map(|r| ("eth_sendRawTransaction", json!([r])))
            .collect();
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
