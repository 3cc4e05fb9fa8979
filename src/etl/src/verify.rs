//! `bcos etl verify`: recompute every exported block's transactionsRoot and receiptsRoot
//! from the warehouse's rows (raw transactions; receipts with their logs) with the node's
//! own functions (`bcos_types::block::{tx_root, receipts_root}`) and compare them, and the
//! block hash, with the chain's headers. A row changed after export shows up as a block
//! whose roots no longer match; each is reported with its group and number.

use crate::export::load_cursor;
use crate::json::{hex0x, hex_field, quantity};
use crate::rpc::{self, Rpc};
use crate::store::{Store, Val};
use crate::VerifyArgs;
use alloy_primitives::{Address, Bytes, Log, LogData, B256};
use anyhow::{anyhow, bail, Context};
use bcos_types::{Receipt, Tx};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One difference between the warehouse and the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub group: u32,
    pub block: u64,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "group {} block {}: {}",
            self.group, self.block, self.what
        )
    }
}

#[derive(Default)]
struct StoredBlock {
    hash: String,
    transactions_root: String,
    receipts_root: String,
    tx_count: u64,
    txs: Vec<Vec<Val>>,
    receipts: Vec<Vec<Val>>,
    logs: Vec<Vec<Val>>,
}

fn text(v: &Val) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn u(v: &Val) -> anyhow::Result<u64> {
    v.as_u64()
}

fn load(
    store: &mut dyn Store,
    group: u32,
    from: u64,
    to: u64,
) -> anyhow::Result<BTreeMap<u64, StoredBlock>> {
    let p = [Val::int(group), Val::int(from), Val::int(to)];
    let mut out: BTreeMap<u64, StoredBlock> = BTreeMap::new();
    for r in store.query(
        "SELECT number, hash, transactions_root, receipts_root, tx_count FROM blocks \
         WHERE grp = $1 AND number >= $2 AND number < $3 ORDER BY number",
        &p,
    )? {
        out.insert(
            u(&r[0])?,
            StoredBlock {
                hash: text(&r[1]),
                transactions_root: text(&r[2]),
                receipts_root: text(&r[3]),
                tx_count: u(&r[4])?,
                ..Default::default()
            },
        );
    }
    let orphan = |n: u64, table: &str| -> anyhow::Result<()> {
        bail!("group {group}: {table} rows of block {n}, which has no blocks row")
    };
    for r in store.query(
        "SELECT block_number, tx_index, hash, raw, tx_type, to_addr, nonce, value, gas_limit, \
         input FROM transactions WHERE grp = $1 AND block_number >= $2 AND block_number < $3 \
         ORDER BY block_number, tx_index",
        &p,
    )? {
        let n = u(&r[0])?;
        match out.get_mut(&n) {
            Some(b) => b.txs.push(r),
            None => orphan(n, "transactions")?,
        }
    }
    for r in store.query(
        "SELECT block_number, tx_index, tx_hash, tx_type, status, cumulative_gas_used, \
         log_count FROM receipts WHERE grp = $1 AND block_number >= $2 AND block_number < $3 \
         ORDER BY block_number, tx_index",
        &p,
    )? {
        let n = u(&r[0])?;
        match out.get_mut(&n) {
            Some(b) => b.receipts.push(r),
            None => orphan(n, "receipts")?,
        }
    }
    for r in store.query(
        "SELECT block_number, log_index, tx_index, address, topic_count, topic0, topic1, topic2, \
         topic3, data FROM logs WHERE grp = $1 AND block_number >= $2 AND block_number < $3 \
         ORDER BY block_number, log_index",
        &p,
    )? {
        let n = u(&r[0])?;
        match out.get_mut(&n) {
            Some(b) => b.logs.push(r),
            None => orphan(n, "logs")?,
        }
    }
    Ok(out)
}

/// The roots recomputed from one block's rows, or what in them is inconsistent.
pub fn recompute(b: &StoredBlockView<'_>) -> Result<(B256, B256), String> {
    let (txs, receipts) = (b.txs, b.receipts);
    if txs.len() as u64 != b.tx_count || receipts.len() != txs.len() {
        return Err(format!(
            "{} transaction rows and {} receipt rows for a block of {} transactions",
            txs.len(),
            receipts.len(),
            b.tx_count
        ));
    }
    let mut decoded = Vec::with_capacity(txs.len());
    for (i, r) in txs.iter().enumerate() {
        let raw = r[3].as_bytes().ok_or("a transaction without raw bytes")?;
        let tx = Tx::decode(raw).map_err(|e| format!("transaction {i}: raw bytes: {e}"))?;
        let hash = hex0x(tx.hash().as_slice());
        let columns_match = r[1].as_u64().ok() == Some(i as u64)
            && text(&r[2]) == hash
            && r[4].as_u64().ok() == Some(u64::from(tx.tx_type()))
            && r[5].as_str().map(str::to_string) == tx.to().map(|a| hex0x(a.as_slice()))
            && r[6].as_u64().ok() == Some(tx.nonce())
            && r[7].as_str() == Some(tx.value().to_string().as_str())
            && r[8].as_u64().ok() == Some(tx.gas_limit())
            && r[9].as_bytes() == Some(tx.input().as_ref());
        if !columns_match {
            return Err(format!(
                "transaction {i} ({hash}): its columns differ from its raw bytes"
            ));
        }
        decoded.push(Arc::new(tx));
    }
    let mut logs_of: Vec<Vec<Log>> = vec![Vec::new(); txs.len()];
    for (k, l) in b.logs.iter().enumerate() {
        let log_index = l[1].as_u64().map_err(|e| e.to_string())?;
        if log_index != k as u64 {
            return Err(format!("log index {log_index} where {k} was expected"));
        }
        let ti = l[2].as_u64().map_err(|e| e.to_string())? as usize;
        let slot = logs_of
            .get_mut(ti)
            .ok_or_else(|| format!("log {k} of transaction {ti}, which the block lacks"))?;
        let address: Address = text(&l[3])
            .parse()
            .map_err(|e| format!("log {k}: address: {e}"))?;
        let count = l[4].as_u64().map_err(|e| e.to_string())? as usize;
        let mut topics = Vec::with_capacity(count);
        for t in &l[5..5 + count.min(4)] {
            topics.push(
                text(t)
                    .parse::<B256>()
                    .map_err(|e| format!("log {k}: topic: {e}"))?,
            );
        }
        let data = Bytes::from(l[9].as_bytes().unwrap_or_default().to_vec());
        slot.push(Log {
            address,
            data: LogData::new_unchecked(topics, data),
        });
    }
    let mut rs = Vec::with_capacity(receipts.len());
    for (i, (r, logs)) in receipts.iter().zip(logs_of).enumerate() {
        if r[1].as_u64().ok() != Some(i as u64) || text(&r[2]) != text(&txs[i][2]) {
            return Err(format!("receipt {i} is not of transaction {i}"));
        }
        let status = r[4].as_u64().map_err(|e| e.to_string())?;
        if status > 1 || r[6].as_u64().ok() != Some(logs.len() as u64) {
            return Err(format!(
                "receipt {i}: status {status} or its log count is malformed"
            ));
        }
        rs.push(Receipt {
            tx_type: u8::try_from(r[3].as_u64().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?,
            success: status == 1,
            cumulative_gas_used: r[5].as_u64().map_err(|e| e.to_string())?,
            logs,
        });
    }
    Ok((
        bcos_types::block::tx_root(&decoded),
        bcos_types::block::receipts_root(&rs),
    ))
}

/// One block's rows, as [`recompute`] reads them.
pub struct StoredBlockView<'a> {
    pub tx_count: u64,
    /// block_number, tx_index, hash, raw, tx_type, to_addr, nonce, value, gas_limit, input
    pub txs: &'a [Vec<Val>],
    /// block_number, tx_index, tx_hash, tx_type, status, cumulative_gas_used, log_count
    pub receipts: &'a [Vec<Val>],
    /// block_number, log_index, tx_index, address, topic_count, topic0..3, data
    pub logs: &'a [Vec<Val>],
}

/// Verifies group `group` of the warehouse against `url`; returns the problems found and the
/// number of blocks checked.
pub fn verify_group(
    store: &mut dyn Store,
    url: &str,
    group: u32,
    args: &VerifyArgs,
) -> anyhow::Result<(Vec<Problem>, u64)> {
    let cursor =
        load_cursor(store, group)?.ok_or_else(|| anyhow!("the warehouse has no group {group}"))?;
    let mut rpc = Rpc::connect(url, Duration::from_millis(args.rpc_timeout_ms))?;
    let chain_id = quantity(&rpc.call("eth_chainId", json!([]))?)?;
    let mut problems = Vec::new();
    let problem = |block: u64, what: String| Problem { group, block, what };
    if chain_id != cursor.chain_id {
        bail!(
            "group {group}: the warehouse holds chain id {} but {url} serves chain id {chain_id}",
            cursor.chain_id
        );
    }
    let extra = store.query(
        "SELECT number FROM blocks WHERE grp = $1 AND number >= $2 ORDER BY number LIMIT 1",
        &[Val::int(group), Val::int(cursor.next_block)],
    )?;
    if let Some(r) = extra.first() {
        problems.push(problem(
            u(&r[0])?,
            format!("a block row at or past the cursor ({})", cursor.next_block),
        ));
    }
    let step = args.blocks_per_round.max(1);
    let mut from = 0;
    while from < cursor.next_block {
        let to = (from + step).min(cursor.next_block);
        let stored = load(store, group, from, to)?;
        let mut headers = Vec::new();
        let mut n = from;
        while n < to {
            let end = (n + args.rpc_blocks_per_call.max(1)).min(to);
            let params = (n..end)
                .map(|k| json!([format!("{k:#x}"), false]))
                .collect();
            headers.extend(rpc.batch("eth_getBlockByNumber", params)?);
            n = end;
        }
        for (number, h) in (from..to).zip(headers) {
            if h.is_null() {
                problems.push(problem(
                    number,
                    "exported, but the chain has no such block".into(),
                ));
                continue;
            }
            let Some(b) = stored.get(&number) else {
                problems.push(problem(number, "missing from the warehouse (a gap)".into()));
                continue;
            };
            let chain_hash = hex_field(&h, "hash")?;
            let chain_tx_root = hex_field(&h, "transactionsRoot")?;
            let chain_rc_root = hex_field(&h, "receiptsRoot")?;
            if b.hash != chain_hash {
                problems.push(problem(
                    number,
                    format!(
                        "hash {} in the warehouse, {chain_hash} on the chain",
                        b.hash
                    ),
                ));
            }
            if b.transactions_root != chain_tx_root || b.receipts_root != chain_rc_root {
                problems.push(problem(number, "the stored header roots differ".into()));
            }
            let view = StoredBlockView {
                tx_count: b.tx_count,
                txs: &b.txs,
                receipts: &b.receipts,
                logs: &b.logs,
            };
            match recompute(&view) {
                Err(what) => problems.push(problem(number, what)),
                Ok((tx_root, rc_root)) => {
                    if hex0x(tx_root.as_slice()) != chain_tx_root {
                        problems.push(problem(
                            number,
                            format!(
                                "transactionsRoot recomputed from the rows is {tx_root}, the \
                                 chain's is {chain_tx_root}"
                            ),
                        ));
                    }
                    if hex0x(rc_root.as_slice()) != chain_rc_root {
                        problems.push(problem(
                            number,
                            format!(
                                "receiptsRoot recomputed from the rows is {rc_root}, the \
                                 chain's is {chain_rc_root}"
                            ),
                        ));
                    }
                }
            }
        }
        from = to;
    }
    Ok((problems, cursor.next_block))
}

/// Every group of the warehouse (or the one the URL names); fails when any block differs.
pub fn run(args: &VerifyArgs) -> anyhow::Result<Vec<Problem>> {
    let mut store = crate::store::open_existing(&args.from)?;
    let base = rpc::base_url(&args.rpc)?;
    let groups: Vec<u32> = match rpc::group_of_url(&args.rpc)? {
        Some(g) => vec![g],
        None => store
            .query("SELECT grp FROM etl_cursor ORDER BY grp", &[])?
            .iter()
            .map(|r| u(&r[0]).and_then(|g| u32::try_from(g).context("group id")))
            .collect::<anyhow::Result<_>>()?,
    };
    if groups.is_empty() {
        bail!(
            "the warehouse {} holds no group: nothing to verify",
            args.from
        );
    }
    let mut all = Vec::new();
    for g in groups {
        let (problems, blocks) = verify_group(store.as_mut(), &rpc::group_url(&base, g), g, args)?;
        for p in &problems {
            println!("MISMATCH {p}");
        }
        println!(
            "verify: group {g}: {blocks} blocks checked, {} mismatches",
            problems.len()
        );
        all.extend(problems);
    }
    if !all.is_empty() {
        let mut blocks: Vec<(u32, u64)> = all.iter().map(|p| (p.group, p.block)).collect();
        blocks.dedup();
        bail!(
            "the warehouse differs from the chain in {} block(s): {}",
            blocks.len(),
            blocks
                .iter()
                .map(|(g, b)| format!("group {g} block {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(all)
}
