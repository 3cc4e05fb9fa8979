//! One load level with high-frequency accounts: [`begin`] reads the baseline ledger and starts
//! the credit [`Monitor`] before the level sends anything; [`Tracking::finish`] waits
//! (bounded) for the last settlement to land, reads the ledger again, checks conservation
//! and computes the settlement lag of the window's payments.

use super::lag::{self, Payment};
use super::ledger::{self, ChainLedger, Ledger};
use super::monitor::Monitor;
use super::status;
use crate::results::SettlementResult;
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::{Address, U256};
use anyhow::{anyhow, bail, Context};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long [`Tracking::finish`] waits for the last settlement to land at least; it adds
/// ten settle intervals where the interval is known.
pub const SETTLE_WAIT_MS_MIN: u64 = 60_000;
/// Pause between checks while waiting for it.
const SETTLE_POLL_MS: u64 = 100;
/// Readings a ledger takes at most to get one no payment straddled.
const READ_TRIES_MAX: usize = 20;

/// One user chain's part of a level.
#[derive(Debug, Clone)]
pub struct ChainWork {
    pub group: usize,
    /// The chain's endpoint on the first node.
    pub url: String,
    pub payers: Vec<Address>,
    /// Merchants other than the high-frequency one (plain accounts on the user chain).
    pub others: Vec<Address>,
    pub value: U256,
}

pub struct Tracking {
    merchant: Address,
    merchant_url: String,
    chains: Vec<ChainWork>,
    chain_ids: Vec<u64>,
    base: Ledger,
    base_heads: Vec<u64>,
    monitor: Monitor,
    wait_ms: u64,
}

/// The wait bound for a cluster settling every `settle_interval_ms` (None: unknown).
pub fn settle_wait_ms(settle_interval_ms: Option<u64>) -> u64 {
    SETTLE_WAIT_MS_MIN + 10 * settle_interval_ms.unwrap_or(1_000)
}

/// Reads the baseline before a level sends anything and starts watching credits.
pub fn begin(
    merchant: Address,
    merchant_url: &str,
    chains: Vec<ChainWork>,
    wait_ms: u64,
) -> anyhow::Result<Tracking> {
    let mut chain_ids = Vec::with_capacity(chains.len());
    for c in &chains {
        let s = status::user(&mut RpcClient::connect(&c.url)?)
            .with_context(|| format!("user chain {}'s settlement status", c.group))?;
        chain_ids.push(s.chain_id);
    }
    let base = stable_reading(merchant_url, &chains, &chain_ids).context("the baseline")?;
    let base_heads = chains
        .iter()
        .map(|c| head(&c.url))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let monitor = Monitor::start(merchant_url)?;
    Ok(Tracking {
        merchant,
        merchant_url: merchant_url.to_string(),
        chains,
        chain_ids,
        base,
        base_heads,
        monitor,
        wait_ms,
    })
}

fn head(url: &str) -> anyhow::Result<u64> {
    hex_u64(&RpcClient::connect(url)?.must("eth_blockNumber", json!([]))?)
}

/// One ledger reading, or None when a payment committed inside it (the payers' nonces,
/// read before and after the statuses, moved). The merchant chain is read before the user
/// chains, so a record credited meanwhile never shows as credited before it is settled.
fn reading(
    merchant_url: &str,
    chains: &[ChainWork],
    ids: &[u64],
) -> anyhow::Result<Option<Ledger>> {
    let nonces = |tag| -> anyhow::Result<Vec<u64>> {
        chains
            .iter()
            .map(|c| status::nonce_sum(&mut RpcClient::connect(&c.url)?, &c.payers, tag))
            .collect()
    };
    let before = nonces("latest")?;
    let m = status::merchant(&mut RpcClient::connect(merchant_url)?)?;
    let mut out = Vec::with_capacity(chains.len());
    for ((c, &id), &n) in chains.iter().zip(ids).zip(&before) {
        let mut client = RpcClient::connect(&c.url)?;
        let u = status::user(&mut client)?;
        let credited = m
            .chain(id)
            .ok_or_else(|| anyhow!("the merchant chain does not list user chain {id}"))?
            .credited;
        out.push(ChainLedger {
            chain_id: id,
            proxy: u.proxy,
            settled: u.settled,
            credited,
            others: status::balance_sum(&mut client, &c.others)?,
            payer_nonces: n,
        });
    }
    Ok((nonces("latest")? == before).then_some(Ledger {
        merchant_balance: m.balance,
        chains: out,
    }))
}

/// Two readings in a row that agree (a status answer is read field by field at the head, so
/// one that straddles a block can be off; two equal readings are not).
fn stable_reading(merchant_url: &str, chains: &[ChainWork], ids: &[u64]) -> anyhow::Result<Ledger> {
    let mut last = None;
    for _ in 0..READ_TRIES_MAX {
        let next = reading(merchant_url, chains, ids)?;
        if next.is_some() && next == last {
            if let Some(l) = next {
                return Ok(l);
            }
        }
        last = next;
        std::thread::sleep(Duration::from_millis(SETTLE_POLL_MS));
    }
    bail!("the settlement state or the payers' nonces kept changing through {READ_TRIES_MAX} readings")
}

/// Every proxy empty and everything settled credited.
fn settled(l: &Ledger) -> bool {
    l.chains
        .iter()
        .all(|c| c.proxy.is_zero() && c.settled == c.credited)
}

/// What is still waiting, chain by chain.
fn waiting(l: &Ledger) -> String {
    l.chains
        .iter()
        .filter(|c| !c.proxy.is_zero() || c.settled != c.credited)
        .map(|c| {
            format!(
                "user chain {}: proxy holds {} wei, settled {} wei, credited {} wei",
                c.chain_id, c.proxy, c.settled, c.credited
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Tracking {
    /// After the level: waits for the last settlement (bounded), checks conservation and
    /// computes the lag of `window` (per chain, the payments the window committed).
    /// `diagnose` describes the relayers for a settlement that did not land. A violation or
    /// a timeout is recorded in the result (`conservation_held` false), not returned as an
    /// error: the run fails on it after the report is written.
    pub fn finish(
        self,
        window: &[Vec<Payment>],
        epoch: Instant,
        diagnose: &dyn Fn() -> String,
    ) -> anyhow::Result<SettlementResult> {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(self.wait_ms);
        // Settled, and the same in two readings in a row: no payment, record or credit on
        // its way any more.
        let mut last: Option<Ledger> = None;
        let mut timeout = None;
        let end = loop {
            let next = reading(&self.merchant_url, &self.chains, &self.chain_ids)?;
            if let Some(l) = next
                .as_ref()
                .filter(|l| settled(l) && last.as_ref() == Some(*l))
            {
                break l.clone();
            }
            if Instant::now() >= deadline {
                let state = next
                    .as_ref()
                    .or(last.as_ref())
                    .map_or_else(|| "payments kept committing".to_string(), waiting);
                timeout = Some(state);
                break stable_reading(&self.merchant_url, &self.chains, &self.chain_ids)
                    .context("the final reading")?;
            }
            last = next;
            std::thread::sleep(Duration::from_millis(SETTLE_POLL_MS));
        };
        let settle_wait_s = started.elapsed().as_secs_f64();
        let seen = self.monitor.stop()?;
        let value = self.chains.first().map_or(U256::from(1), |c| c.value);
        let mut c = ledger::check(&self.base, &end, value);
        if let Some(why) = &timeout {
            c.held = false;
            c.detail = format!(
                "the last settlement did not land within {} s after the run: {why}; \
                 (so far: {}); {}",
                self.wait_ms / 1000,
                c.detail,
                diagnose()
            );
        }
        let mut all = Vec::new();
        let (mut uncredited, mut records_credited) = (0u64, 0u64);
        for (k, chain) in self.chains.iter().enumerate() {
            let id = self.chain_ids[k];
            let mut client = RpcClient::connect(&chain.url)?;
            let to = head(&chain.url)?;
            let records = status::records(&mut client, self.base_heads[k] + 1, to)?;
            let base_seq = seen.first.get(&id).copied().unwrap_or(0);
            let stamps: Vec<(u64, u64)> = seen
                .changes
                .get(&id)
                .map(|v| {
                    v.iter()
                        .map(|&(seq, t)| {
                            (seq, t.saturating_duration_since(epoch).as_nanos() as u64)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let credited = lag::credit_times(base_seq, &stamps);
            records_credited += credited.len() as u64;
            let l = lag::lags(
                window.get(k).map_or(&[][..], Vec::as_slice),
                &records,
                &credited,
            );
            uncredited += l.uncredited;
            all.extend(l.lags_ns);
        }
        Ok(SettlementResult {
            user_chains: self.chains.len(),
            merchant: format!("{:#x}", self.merchant),
            lag_ms: lag::summary(&all),
            lag_payments: all.len() as u64,
            uncredited,
            records_credited,
            conservation_held: c.held,
            conservation: c.detail,
            paid_wei: c.paid.to_string(),
            credited_wei: c.credited.to_string(),
            payments: c.payments,
            settle_wait_s,
        })
    }
}
