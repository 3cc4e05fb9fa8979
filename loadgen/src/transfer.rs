//! The `transfer` workload: pre-signed ETH transfers among A accounts, sent closed-loop in
//! JSON-RPC batches over C connections; reports committed TPS and the node's stage costs.

use crate::accounts::{self, Fees};
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::U256;
use anyhow::{bail, Context};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    /// Node JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub url: String,
    /// Sending accounts (funded first from dev account 0).
    #[arg(long, default_value_t = 2_000)]
    pub accounts: usize,
    /// Transfers to send in the measured run.
    #[arg(long, default_value_t = 100_000)]
    pub txs: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Seed of the load accounts' keys.
    #[arg(long, default_value = "bcos-loadgen")]
    pub seed: String,
    /// Give up waiting for commits after this long.
    #[arg(long, default_value_t = 300)]
    pub timeout_s: u64,
}

pub fn run(args: &TransferArgs) -> anyhow::Result<()> {
    if args.accounts < 2 || args.txs == 0 || args.batch == 0 || args.connections == 0 {
        bail!("--accounts must be at least 2; --txs, --batch and --connections at least 1");
    }
    let mut client = RpcClient::connect(&args.url)?;
    let chain_id = hex_u64(&client.must("eth_chainId", json!([]))?)?;
    let gas_price = hex_u64(&client.must("eth_gasPrice", json!([]))?)? as u128;
    let fees = Fees {
        chain_id,
        max_fee_per_gas: gas_price * 2,
        max_priority_fee_per_gas: gas_price / 2,
    };
    let funder = bcos_crypto::dev_keys(bcos_crypto::TEST_MNEMONIC, 1)?.remove(0);

    let accounts = accounts::derive(&args.seed, args.accounts);
    let per_sender = args.txs.div_ceil(args.accounts) as u64;
    let budget =
        U256::from(per_sender + 1) * U256::from(21_000u64 * fees.max_fee_per_gas as u64 + 1);
    eprintln!("funding {} accounts...", accounts.len());
    accounts::fund(&mut client, &fees, &funder, &accounts, budget)?;

    eprintln!("signing {} transfers...", args.txs);
    let started_sign = Instant::now();
    let nonces: Vec<u64> = accounts
        .par_iter()
        .map(|a| {
            let mut c = RpcClient::connect(&args.url)?;
            hex_u64(&c.must("eth_getTransactionCount", json!([a.address, "pending"]))?)
        })
        .collect::<anyhow::Result<_>>()?;
    // Ordered by (round, sender) so each sender's nonces arrive in order across batches.
    let raws: Vec<String> = (0..args.txs)
        .into_par_iter()
        .map(|i| {
            let sender = i % accounts.len();
            let round = (i / accounts.len()) as u64;
            let to = accounts[(sender + 1 + i / 7) % accounts.len()].address;
            let raw = accounts::transfer(
                &fees,
                &accounts[sender].key,
                nonces[sender] + round,
                to,
                U256::from(1),
            );
            format!("0x{}", accounts::hex(&raw))
        })
        .collect();
    eprintln!("signed in {:.1} s", started_sign.elapsed().as_secs_f64());

    let base = hex_u64(&client.must("bcos_getTotalTransactionCount", json!([]))?)?;
    let raws = Arc::new(raws);
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..args.connections)
        .map(|_| {
            let (raws, next, refused, url, batch) = (
                raws.clone(),
                next.clone(),
                refused.clone(),
                args.url.clone(),
                args.batch,
            );
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut c = RpcClient::connect(&url)?;
                loop {
                    let start = next.fetch_add(batch, Ordering::Relaxed);
                    if start >= raws.len() {
                        return Ok(());
                    }
                    let end = (start + batch).min(raws.len());
                    let calls: Vec<(&str, Value)> = raws[start..end]
                        .iter()
                        .map(|r| ("eth_sendRawTransaction", json!([r])))
                        .collect();
                    for r in c.batch(&calls)? {
                        if let Err(e) = r {
                            if refused.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("refused: {e}");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join()
            .map_err(|_| anyhow::anyhow!("a sender thread panicked"))??;
    }
    let sent_s = started.elapsed().as_secs_f64();
    let refused = refused.load(Ordering::Relaxed);
    let target = base + (args.txs - refused) as u64;
    let deadline = started + Duration::from_secs(args.timeout_s);
    let mut committed;
    loop {
        committed = hex_u64(&client.must("bcos_getTotalTransactionCount", json!([]))?)?;
        if committed >= target || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = committed - base;
    let info = client
        .must("bcos_getNodeInfo", json!([]))
        .context("reading node stages")?;
    println!(
        "transfers sent:      {} in {:.2} s ({:.0}/s offered), {} refused",
        args.txs,
        sent_s,
        args.txs as f64 / sent_s,
        refused
    );
    println!(
        "transfers committed: {} in {:.2} s = {:.0} tx/s",
        done,
        elapsed,
        done as f64 / elapsed
    );
    println!(
        "node stages: {}",
        serde_json::to_string_pretty(info.get("stages").unwrap_or(&Value::Null))?
    );
    if committed < target {
        bail!(
            "only {done} of {} transfers committed within {} s",
            target - base,
            args.timeout_s
        );
    }
    Ok(())
}
