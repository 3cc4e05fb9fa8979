//! Workloads: each creates and funds its accounts (and deploys contracts) in `prepare`, then
//! pre-signs batches of transactions in parallel with rayon before the engine's measured
//! window starts, so signing cost never shapes the offered load.
//!
//! Transaction `g` of a workload is a pure function of `g` (sender `g mod senders`, nonce
//! `base + g div senders`, counterparty from a deterministic mix of `g`), so batches can be
//! signed in any order by any thread, and each sender's nonces appear in increasing order in
//! the sequence the engine sends.

pub mod erc20;
pub mod evm_asm;
pub mod hf_account;
pub mod transfer;
pub mod zipf;

use crate::accounts::{self, Account, Fees};
use crate::profile::WorkloadSpec;
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::{Address, B256, U256};
use anyhow::bail;
use rayon::prelude::*;
use secp256k1::SecretKey;
use serde_json::json;

/// Workload names accepted by profiles and `loadgen run --workload`.
pub const NAMES: &[&str] = &["transfer", "hf-account", "erc20"];

/// Wei given to each sending account: pays for about 1,190 transfers at the 2 gwei fee cap
/// (`Fees::discover`), enough for any profile's window.
pub const ACCOUNT_FUNDING_WEI: u128 = 50_000_000_000_000_000;

/// Accounts whose nonce one JSON-RPC batch reads during a resync.
const NONCE_BATCH_MAX: usize = 5_000;

/// One pre-signed transaction.
#[derive(Debug, Clone)]
pub struct SignedTx {
    pub hash: B256,
    /// A complete `eth_sendRawTransaction` request whose `id` is the transaction's position
    /// in the vector `sign` returned, so the engine can match refusals to transactions.
    pub request: String,
}

/// What every workload needs from the chain.
pub struct Ctx {
    /// The URL setup traffic goes to (the first node).
    pub url: String,
    pub fees: Fees,
    /// Dev accounts that pay for funding.
    pub funders: Vec<SecretKey>,
}

impl Ctx {
    pub fn connect(url: &str) -> anyhow::Result<Ctx> {
        Ctx::connect_with_funders(url, accounts::DEV_FUNDERS_MAX)
    }

    /// Funding comes only from the test mnemonic's first `funders_max` accounts (the others
    /// may be busy: with high-frequency accounts they are the settler's and the relayers').
    pub fn connect_with_funders(url: &str, funders_max: usize) -> anyhow::Result<Ctx> {
        let mut c = RpcClient::connect(url)?;
        let fees = Fees::discover(&mut c)?;
        let funders = accounts::dev_funders(
            &mut c,
            U256::from(ACCOUNT_FUNDING_WEI) * U256::from(10u64),
            funders_max,
        )?;
        Ok(Ctx {
            url: url.to_string(),
            fees,
            funders,
        })
    }
}

pub trait Workload: Send {
    fn name(&self) -> &'static str;
    /// Creates and funds accounts, deploys contracts. Runs before any measurement.
    fn prepare(&mut self, ctx: &Ctx) -> anyhow::Result<()>;
    /// Signs the next `count` transactions, continuing the sequence of earlier calls; may fund
    /// accounts it has not used yet first.
    fn sign(&mut self, ctx: &Ctx, count: usize) -> anyhow::Result<Vec<SignedTx>>;
    /// Restarts the sequence from the node's pending nonces, after refused transactions left
    /// gaps.
    fn resync(&mut self, ctx: &Ctx) -> anyhow::Result<()>;
    /// Who pays whom, for the settlement checks ([`crate::settlement`]): hf-account's payers
    /// so far and its merchants; None for other workloads.
    fn payments(&self) -> Option<Payments> {
        None
    }
    /// Who transaction `k` of the last `sign` call pays (hf-account); None for others.
    fn payee(&self, _k: usize) -> Option<Address> {
        None
    }
}

/// A paying workload's accounts: every committed transaction of a payer is one payment of
/// `value` wei to one of `merchants`.
#[derive(Debug, Clone)]
pub struct Payments {
    pub payers: Vec<Address>,
    pub merchants: Vec<Address>,
    pub value: U256,
}

/// Builds the workload a spec names.
pub fn build(spec: &WorkloadSpec) -> anyhow::Result<Box<dyn Workload>> {
    build_for(spec, None)
}

/// Builds the workload a spec names; `hf_merchant` (high-frequency accounts) is hf-account's
/// first, most popular merchant.
pub fn build_for(
    spec: &WorkloadSpec,
    hf_merchant: Option<Address>,
) -> anyhow::Result<Box<dyn Workload>> {
    Ok(match spec.name.as_str() {
        "transfer" => Box::new(transfer::Transfer::new(spec.accounts)),
        "hf-account" => {
            let mut t =
                hf_account::Topology::single(spec.users, spec.merchants, spec.zipf_exponent);
            if let Some(m) = hf_merchant {
                t.set_hf_merchant(m);
            }
            Box::new(hf_account::HfAccount::new(t))
        }
        "erc20" => Box::new(erc20::Erc20::new(spec.accounts)),
        other => {
            return crate::error::usage(format!(
                "unknown workload {other:?} (known: {})",
                NAMES.join(", ")
            ))
        }
    })
}

/// Senders taking turns: transaction `g` comes from sender `g mod n` with nonce
/// `base[g mod n] + g div n`.
pub struct RoundRobin {
    pub senders: Vec<Account>,
    base_nonces: Vec<u64>,
    next_g: u64,
}

impl RoundRobin {
    pub fn new(senders: Vec<Account>) -> RoundRobin {
        let n = senders.len();
        RoundRobin {
            senders,
            base_nonces: vec![0; n],
            next_g: 0,
        }
    }

    /// Indices `g` of the next `count` transactions; advances the sequence.
    pub fn take(&mut self, count: usize) -> std::ops::Range<u64> {
        let start = self.next_g;
        self.next_g += count as u64;
        start..self.next_g
    }

    /// (sender index, nonce) of transaction `g`.
    pub fn slot(&self, g: u64) -> (usize, u64) {
        let n = self.senders.len() as u64;
        let s = (g % n) as usize;
        (s, self.base_nonces[s] + g / n)
    }

    /// Senders transaction indices below `g_end` use: the first `min(n, g_end)`.
    pub fn used_by(&self, g_end: u64) -> usize {
        (g_end.min(self.senders.len() as u64)) as usize
    }

    /// Reads pending nonces of the first `used` senders and restarts the sequence.
    pub fn resync(&mut self, url: &str, used: usize) -> anyhow::Result<()> {
        self.load_nonces(url, 0..used)?;
        self.next_g = 0;
        Ok(())
    }

    /// Reads pending nonces of `range`'s senders, which must not have sent yet in this
    /// sequence (their first transaction is `g < n`, so its nonce is the base).
    pub fn load_nonces(&mut self, url: &str, range: std::ops::Range<usize>) -> anyhow::Result<()> {
        let mut c = RpcClient::connect(url)?;
        let start = range.start;
        for (chunk_i, chunk) in self.senders[range].chunks(NONCE_BATCH_MAX).enumerate() {
            let calls: Vec<(&str, serde_json::Value)> = chunk
                .iter()
                .map(|a| ("eth_getTransactionCount", json!([a.address, "pending"])))
                .collect();
            for (j, r) in c.batch(&calls)?.into_iter().enumerate() {
                match r {
                    Ok(v) => self.base_nonces[start + chunk_i * NONCE_BATCH_MAX + j] = hex_u64(&v)?,
                    Err(e) => bail!("eth_getTransactionCount: {e}"),
                }
            }
        }
        Ok(())
    }
}

/// Signs `gs` in parallel with `build(g) -> (hash, encoded tx)`; request ids are positions.
pub fn sign_parallel<F>(gs: std::ops::Range<u64>, build: F) -> Vec<SignedTx>
where
    F: Fn(u64) -> (B256, Vec<u8>) + Sync,
{
    let start = gs.start;
    gs.into_par_iter()
        .map(|g| {
            let (hash, raw) = build(g);
            let id = g - start;
            let request = format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
                accounts::hex(&raw)
            );
            SignedTx { hash, request }
        })
        .collect()
}

/// Funds `accounts` with [`ACCOUNT_FUNDING_WEI`] each from the dev funders.
pub fn fund(ctx: &Ctx, accounts: &[Account]) -> anyhow::Result<()> {
    let to: Vec<_> = accounts.iter().map(|a| a.address).collect();
    let fees = ctx.fees;
    accounts::distribute(&ctx.url, &ctx.funders, &to, |key, nonce, addr| {
        accounts::transfer(&fees, key, nonce, addr, U256::from(ACCOUNT_FUNDING_WEI))
    })
}
