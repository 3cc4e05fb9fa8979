//! The `transfer` workload: pre-signed ETH transfers among A accounts, sent closed-loop in
//! JSON-RPC batches over C connections; reports committed TPS and the node's stage costs.
//! Against a node that is not bcos (detected once, [`crate::node_info::detect`]) commits are
//! counted from the transactions of the blocks sealed since the start ([`BlockTxCounter`]),
//! and no stage costs are printed.

use crate::accounts::{self, Fees};
use crate::node_info::{self, NodeKind};
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
    let kind = node_info::detect(&args.url)?;
    if let NodeKind::Foreign { client } = &kind {
        eprintln!(
            "{} is not a bcos node ({client}): counting commits from eth_* blocks",
            args.url
        );
    }
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

    let mut counter = CommitCounter::start(&mut client, &kind)?;
    let base = counter.read(&mut client)?;
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
        committed = counter.read(&mut client)?;
        if committed >= target || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(counter.poll_ms()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = committed - base;
    let stages = if kind.is_bcos() {
        let info = client
            .must("bcos_getNodeInfo", json!([]))
            .context("reading node stages")?;
        serde_json::to_string_pretty(info.get("stages").unwrap_or(&Value::Null))?
    } else {
        format!("absent ({} has no bcos_getNodeInfo)", kind.describe())
    };
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
    println!("node stages: {stages}");
    if committed < target {
        bail!(
            "only {done} of {} transfers committed within {} s",
            target - base,
            args.timeout_s
        );
    }
    Ok(())
}

/// Committed transactions so far: the bcos node's own total, or, on another node, the
/// transactions of the blocks sealed since [`CommitCounter::start`].
enum CommitCounter {
    Bcos,
    Blocks(BlockTxCounter),
}

impl CommitCounter {
    fn start(client: &mut RpcClient, kind: &NodeKind) -> anyhow::Result<CommitCounter> {
        Ok(match kind {
            NodeKind::Bcos => CommitCounter::Bcos,
            NodeKind::Foreign { .. } => CommitCounter::Blocks(BlockTxCounter::start(client)?),
        })
    }

    fn read(&mut self, client: &mut RpcClient) -> anyhow::Result<u64> {
        match self {
            CommitCounter::Bcos => {
                hex_u64(&client.must("bcos_getTotalTransactionCount", json!([]))?)
            }
            CommitCounter::Blocks(b) => b.read(client),
        }
    }

    /// Pause between reads: a bcos read is one cheap call, a block count may be several.
    fn poll_ms(&self) -> u64 {
        match self {
            CommitCounter::Bcos => 5,
            CommitCounter::Blocks(_) => 50,
        }
    }
}

/// Counts the transactions of blocks sealed after the head at start, with standard methods
/// (`eth_blockNumber`, `eth_getBlockTransactionCountByNumber` in batches).
pub struct BlockTxCounter {
    /// The next block not counted yet.
    next: u64,
    total: u64,
}

/// Blocks whose transaction counts one JSON-RPC batch reads.
const COUNT_BATCH_MAX: u64 = 64;

impl BlockTxCounter {
    pub fn start(client: &mut RpcClient) -> anyhow::Result<BlockTxCounter> {
        let head = hex_u64(&client.must("eth_blockNumber", json!([]))?)?;
        Ok(BlockTxCounter {
            next: head + 1,
            total: 0,
        })
    }

    /// Transactions in the blocks sealed since the start, up to the current head.
    pub fn read(&mut self, client: &mut RpcClient) -> anyhow::Result<u64> {
        let head = hex_u64(&client.must("eth_blockNumber", json!([]))?)?;
        while self.next <= head {
            let last = head.min(self.next + COUNT_BATCH_MAX - 1);
            let calls: Vec<(&str, Value)> = (self.next..=last)
                .map(|n| {
                    (
                        "eth_getBlockTransactionCountByNumber",
                        json!([format!("0x{n:x}")]),
                    )
                })
                .collect();
            self.total += sum_counts(self.next, client.batch(&calls)?)?;
            self.next = last + 1;
        }
        Ok(self.total)
    }
}

/// The sum of `eth_getBlockTransactionCountByNumber` answers for blocks `first..`; a missing
/// block or an error is an error (the head said it exists).
fn sum_counts(
    first: u64,
    answers: Vec<Result<Value, crate::rpc_client::RpcError>>,
) -> anyhow::Result<u64> {
    let mut sum = 0;
    for (n, a) in (first..).zip(answers) {
        let v = a.map_err(|e| anyhow::anyhow!("eth_getBlockTransactionCountByNumber({n}): {e}"))?;
        if v.is_null() {
            bail!("block {n} is missing below the head");
        }
        sum += hex_u64(&v)?;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_rpc::{method_not_found, FakeNode};
    use crate::rpc_client::RpcError;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn block_counts_add_up_and_gaps_are_errors() {
        assert_eq!(
            sum_counts(5, vec![Ok(json!("0x3")), Ok(json!("0x0"))]).expect("test step"),
            3
        );
        assert!(sum_counts(5, vec![Ok(Value::Null)]).is_err());
        let e = RpcError {
            code: -32000,
            message: "boom".into(),
        };
        let msg = format!(
            "{:#}",
            sum_counts(7, vec![Ok(json!("0x1")), Err(e)]).expect_err("must fail")
        );
        assert!(msg.contains("(8)"), "{msg}");
    }

    #[test]
    fn a_foreign_node_counts_commits_from_its_blocks() {
        // Block n holds n transactions; the head moves when the test says so.
        let head = Arc::new(AtomicU64::new(10));
        let h = head.clone();
        let node = FakeNode::start(move |m, p| match m {
            "eth_blockNumber" => Ok(json!(format!("0x{:x}", h.load(Ordering::Relaxed)))),
            "eth_getBlockTransactionCountByNumber" => {
                let n = u64::from_str_radix(
                    p[0].as_str().expect("test step").trim_start_matches("0x"),
                    16,
                )
                .expect("test step");
                Ok(json!(format!("0x{n:x}")))
            }
            "web3_clientVersion" => Ok(json!("anvil/v1.7.1")),
            _ => method_not_found(),
        });
        let kind = node_info::detect(&node.url).expect("test step");
        assert!(!kind.is_bcos());
        let mut c = RpcClient::connect(&node.url).expect("test step");
        let mut counter = CommitCounter::start(&mut c, &kind).expect("test step");
        assert_eq!(counter.read(&mut c).expect("test step"), 0);
        head.store(12, Ordering::Relaxed);
        assert_eq!(counter.read(&mut c).expect("test step"), 11 + 12);
        // More blocks than one batch reads.
        head.store(12 + 2 * COUNT_BATCH_MAX, Ordering::Relaxed);
        let want: u64 = (11..=12 + 2 * COUNT_BATCH_MAX).sum();
        assert_eq!(counter.read(&mut c).expect("test step"), want);
        assert_eq!(node.calls("bcos_getTotalTransactionCount"), 0);
        assert_eq!(node.calls("bcos_getNodeInfo"), 1);
    }
}
