//! `bcos etl`: every group's blocks, transactions, receipts and logs (and interceptions and
//! settlement records where the node serves them) into the warehouse, append-only.
//!
//! Resumable without gaps or duplicates: each database transaction holds whole blocks AND
//! the group's cursor (`etl_cursor.next_block`), moved by a compare-and-set, so after a
//! crash the warehouse holds blocks `0..next_block` exactly, and the next run starts there.
//! Primary keys refuse a duplicate row even if that reasoning were ever broken.

use crate::json::{bytes_field, field, hex0x, hex_field, opt_hex_field, str_field, u64_field};
use crate::rpc::{self, Rpc};
use crate::store::{Stmt, Store, Val};
use crate::ExportArgs;
use alloy_primitives::{keccak256, U256};
use anyhow::{anyhow, bail, Context};
use bcos_types::Tx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What one run exported, for the summary line (rows/s).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub blocks: u64,
    pub txs: u64,
    pub receipts: u64,
    pub logs: u64,
    pub interceptions: u64,
    pub settlements: u64,
}

impl Stats {
    pub fn rows(&self) -> u64 {
        self.blocks + self.txs + self.receipts + self.logs + self.interceptions + self.settlements
    }
}

/// A group's row of `etl_cursor`.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub chain_id: u64,
    pub next_block: u64,
    pub next_interception: u64,
    pub interception_epoch_ms: u64,
    pub next_settlement: u64,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn load_cursor(store: &mut dyn Store, group: u32) -> anyhow::Result<Option<Cursor>> {
    let rows = store.query(
        "SELECT chain_id, next_block, next_interception, interception_epoch_ms, next_settlement \
         FROM etl_cursor WHERE grp = $1",
        &[Val::int(group)],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Cursor {
        chain_id: r[0].as_u64()?,
        next_block: r[1].as_u64()?,
        next_interception: r[2].as_u64()?,
        interception_epoch_ms: r[3].as_u64()?,
        next_settlement: r[4].as_u64()?,
    }))
}

/// The groups a node serves: `bcos_getGroupList` (running ones), or the one the URL names.
pub fn groups(url: &str, timeout: Duration) -> anyhow::Result<Vec<u32>> {
    if let Some(g) = rpc::group_of_url(url)? {
        return Ok(vec![g]);
    }
    let mut rpc = Rpc::connect(url, timeout)?;
    let list = rpc.call("bcos_getGroupList", json!([]))?;
    let Some(items) = list.as_array() else {
        // A node without a group manager serves group 0 only.
        return Ok(vec![0]);
    };
    let mut out = Vec::new();
    for item in items {
        let g = u64_field(item, "group")?;
        let status = item
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("running");
        if status == "running" {
            out.push(u32::try_from(g).context("group id")?);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn int(v: u64) -> anyhow::Result<Val> {
    Ok(Val::Int(Some(i64::try_from(v).map_err(|_| {
        anyhow!("{v} does not fit a 64-bit signed column")
    })?)))
}

const INSERT_BLOCK: &str = "INSERT INTO blocks (grp, number, hash, parent_hash, timestamp, \
    gas_limit, gas_used, base_fee_per_gas, miner, state_root, transactions_root, receipts_root, \
    logs_bloom, extra_data, tx_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
    $13, $14, $15)";
const INSERT_TX: &str = "INSERT INTO transactions (grp, hash, block_number, tx_index, tx_type, \
    from_addr, to_addr, nonce, value, gas_limit, input, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, \
    $8, $9, $10, $11, $12)";
const INSERT_RECEIPT: &str = "INSERT INTO receipts (grp, tx_hash, block_number, tx_index, \
    tx_type, status, cumulative_gas_used, gas_used, effective_gas_price, contract_address, \
    log_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const INSERT_LOG: &str = "INSERT INTO logs (grp, block_number, log_index, tx_hash, tx_index, \
    address, topic_count, topic0, topic1, topic2, topic3, data) VALUES ($1, $2, $3, $4, $5, $6, \
    $7, $8, $9, $10, $11, $12)";
const ADVANCE_BLOCKS: &str = "UPDATE etl_cursor SET next_block = $1, updated_ms = $2 \
    WHERE grp = $3 AND next_block = $4";
const INSERT_CURSOR: &str = "INSERT INTO etl_cursor (grp, chain_id, next_block, \
    next_interception, interception_epoch_ms, next_settlement, updated_ms) \
    VALUES ($1, $2, 0, 0, $3, 1, $3)";
const INSERT_INTERCEPTION: &str = "INSERT INTO interceptions (grp, epoch_ms, seq, time_ms, \
    block_number, tx_hash, from_addr, to_addr, rule, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, \
    $8, $9, $10)";
const ADVANCE_INTERCEPTIONS: &str = "UPDATE etl_cursor SET next_interception = $1, \
    interception_epoch_ms = $2, updated_ms = $3 WHERE grp = $4 AND next_interception = $5 \
    AND interception_epoch_ms = $6";
const INSERT_SETTLEMENT: &str = "INSERT INTO settlements (grp, seq, chain_id, block_number, \
    amount, cumulative, proof) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const ADVANCE_SETTLEMENTS: &str = "UPDATE etl_cursor SET next_settlement = $1, updated_ms = $2 \
    WHERE grp = $3 AND next_settlement = $4";

/// The statements of one block (block, transactions, receipts, logs) from the node's JSON.
/// `receipts` are in transaction order.
pub fn block_rows(
    group: u32,
    block: &Value,
    receipts: &[Value],
    stmts: &mut Vec<Stmt>,
    stats: &mut Stats,
) -> anyhow::Result<()> {
    let g = Val::int(group);
    let number = u64_field(block, "number")?;
    let txs = field(block, "transactions")?
        .as_array()
        .ok_or_else(|| anyhow!("block {number}: transactions is not an array"))?;
    if txs.len() != receipts.len() {
        bail!(
            "block {number}: {} transactions but {} receipts",
            txs.len(),
            receipts.len()
        );
    }
    stmts.push(Stmt::new(
        INSERT_BLOCK,
        vec![
            g.clone(),
            int(number)?,
            Val::text(hex_field(block, "hash")?),
            Val::text(hex_field(block, "parentHash")?),
            int(u64_field(block, "timestamp")?)?,
            int(u64_field(block, "gasLimit")?)?,
            int(u64_field(block, "gasUsed")?)?,
            match block.get("baseFeePerGas") {
                None | Some(Value::Null) => Val::Int(None),
                Some(_) => int(u64_field(block, "baseFeePerGas")?)?,
            },
            Val::text(hex_field(block, "miner")?),
            Val::text(hex_field(block, "stateRoot")?),
            Val::text(hex_field(block, "transactionsRoot")?),
            Val::text(hex_field(block, "receiptsRoot")?),
            Val::text(hex_field(block, "logsBloom")?),
            Val::bytes(bytes_field(block, "extraData")?),
            int(txs.len() as u64)?,
        ],
    ));
    stats.blocks += 1;
    let mut receipt_stmts = Vec::with_capacity(receipts.len());
    let mut log_stmts = Vec::new();
    for (i, (tj, rj)) in txs.iter().zip(receipts).enumerate() {
        let ctx = || format!("block {number} transaction {i}");
        let (tx_row, hash) = tx_row(&g, number, i as u64, tj).with_context(ctx)?;
        stmts.push(tx_row);
        stats.txs += 1;
        let r_hash = hex_field(rj, "transactionHash").with_context(ctx)?;
        if r_hash != hash || u64_field(rj, "transactionIndex")? != i as u64 {
            bail!("block {number}: receipt {i} is of transaction {r_hash}, expected {hash}");
        }
        let logs = field(rj, "logs")?
            .as_array()
            .ok_or_else(|| anyhow!("{}: logs is not an array", ctx()))?;
        receipt_stmts.push(Stmt::new(
            INSERT_RECEIPT,
            vec![
                g.clone(),
                Val::text(hash.clone()),
                int(number)?,
                int(i as u64)?,
                int(u64_field(rj, "type").with_context(ctx)?)?,
                int(u64_field(rj, "status").with_context(ctx)?)?,
                int(u64_field(rj, "cumulativeGasUsed").with_context(ctx)?)?,
                int(u64_field(rj, "gasUsed").with_context(ctx)?)?,
                Val::text(u256_field(rj, "effectiveGasPrice").with_context(ctx)?),
                Val::Text(opt_hex_field(rj, "contractAddress")?),
                int(logs.len() as u64)?,
            ],
        ));
        stats.receipts += 1;
        for l in logs {
            let topics = field(l, "topics")?
                .as_array()
                .ok_or_else(|| anyhow!("{}: topics is not an array", ctx()))?;
            if topics.len() > 4 {
                bail!("{}: a log with {} topics (at most 4)", ctx(), topics.len());
            }
            let mut topic_vals = Vec::with_capacity(4);
            for k in 0..4 {
                topic_vals.push(match topics.get(k) {
                    Some(t) => Val::text(hex_field(&json!({ "t": t }), "t")?),
                    None => Val::Text(None),
                });
            }
            let mut params = vec![
                g.clone(),
                int(number)?,
                int(u64_field(l, "logIndex")?)?,
                Val::text(hash.clone()),
                int(i as u64)?,
                Val::text(hex_field(l, "address")?),
                int(topics.len() as u64)?,
            ];
            params.extend(topic_vals);
            params.push(Val::bytes(bytes_field(l, "data")?));
            log_stmts.push(Stmt::new(INSERT_LOG, params));
            stats.logs += 1;
        }
    }
    // Foreign keys: transactions, then receipts, then logs.
    stmts.extend(receipt_stmts);
    stmts.extend(log_stmts);
    Ok(())
}

fn u256_field(v: &Value, name: &str) -> anyhow::Result<String> {
    let s = str_field(v, name)?;
    Ok(s.parse::<U256>()
        .with_context(|| format!("field {name}"))?
        .to_string())
}

/// A transaction row: its raw EIP-2718 bytes rebuilt from the node's JSON (checked against
/// its hash) and the columns decoded from them.
fn tx_row(g: &Val, number: u64, index: u64, tj: &Value) -> anyhow::Result<(Stmt, String)> {
    use alloy_eips::eip2718::Encodable2718;
    let hash = hex_field(tj, "hash")?;
    let rpc_tx: alloy_rpc_types_eth::Transaction =
        serde_json::from_value(tj.clone()).context("the node's transaction JSON does not parse")?;
    let raw = rpc_tx.inner.inner().encoded_2718();
    let tx = Tx::decode(&raw).map_err(|e| anyhow!("rebuilt transaction does not decode: {e}"))?;
    if hex0x(keccak256(&raw).as_slice()) != hash || hex0x(tx.hash().as_slice()) != hash {
        bail!("the transaction rebuilt from the node's JSON does not hash to {hash}");
    }
    let from = hex0x(rpc_tx.inner.signer().as_slice());
    Ok((
        Stmt::new(
            INSERT_TX,
            vec![
                g.clone(),
                Val::text(hash.clone()),
                int(number)?,
                int(index)?,
                int(u64::from(tx.tx_type()))?,
                Val::text(from),
                Val::Text(tx.to().map(|a| hex0x(a.as_slice()))),
                int(tx.nonce())?,
                Val::text(tx.value().to_string()),
                int(tx.gas_limit())?,
                Val::bytes(tx.input().to_vec()),
                Val::bytes(raw),
            ],
        ),
        hash,
    ))
}

/// Fetches blocks `from..to` with their receipts, in RPC batches of the named sizes.
/// One fetched block and its receipts.
type Fetched = (Value, Vec<Value>);

/// Fetched batches that may wait for the writer (see `export_group`).
pub const FETCH_AHEAD_BATCHES: usize = 1;

fn fetch(rpc: &mut Rpc, args: &ExportArgs, from: u64, to: u64) -> anyhow::Result<Vec<Fetched>> {
    let mut blocks = Vec::with_capacity((to - from) as usize);
    let per_call = args.rpc_blocks_per_call.max(1);
    let mut n = from;
    while n < to {
        let end = (n + per_call).min(to);
        let params = (n..end).map(|k| json!([format!("{k:#x}"), true])).collect();
        for (k, b) in (n..end).zip(rpc.batch_split("eth_getBlockByNumber", params)?) {
            if b.is_null() {
                bail!("{}: block {k} not found (head moved back?)", rpc.url());
            }
            if u64_field(&b, "number")? != k {
                bail!("{}: asked for block {k}, got {}", rpc.url(), b["number"]);
            }
            blocks.push(b);
        }
        n = end;
    }
    // One eth_getBlockReceipts per block, whole blocks batched up to about
    // `rpc_receipts_per_call` receipts (a larger block goes alone).
    let mut receipts = Vec::new();
    let mut start = 0;
    while start < blocks.len() {
        let mut end = start;
        let mut txs = 0usize;
        while end < blocks.len() {
            let n = field(&blocks[end], "transactions")?
                .as_array()
                .map_or(0, Vec::len);
            if end > start && txs.saturating_add(n) > args.rpc_receipts_per_call.max(1) {
                break;
            }
            txs = txs.saturating_add(n);
            end += 1;
        }
        let chunk = &blocks[start..end];
        let params = chunk
            .iter()
            .map(|b| Ok(json!([str_field(b, "hash")?])))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (b, rs) in chunk
            .iter()
            .zip(rpc.batch_split("eth_getBlockReceipts", params)?)
        {
            let number = u64_field(b, "number")?;
            let Value::Array(rs) = rs else {
                bail!("{}: no receipts for committed block {number}", rpc.url());
            };
            let txs = field(b, "transactions")?.as_array().map_or(0, Vec::len);
            if rs.len() != txs {
                bail!(
                    "{}: block {number} has {txs} transactions but {} receipts",
                    rpc.url(),
                    rs.len()
                );
            }
            receipts.extend(rs);
        }
        start = end;
    }
    let mut receipts = receipts.into_iter();
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let n = field(&b, "transactions")?.as_array().map_or(0, Vec::len);
        let rs: Vec<Value> = receipts.by_ref().take(n).collect();
        out.push((b, rs));
    }
    Ok(out)
}

fn stored_hash(store: &mut dyn Store, group: u32, number: u64) -> anyhow::Result<Option<String>> {
    let rows = store.query(
        "SELECT hash FROM blocks WHERE grp = $1 AND number = $2",
        &[Val::int(group), int(number)?],
    )?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Val::as_str)
        .map(str::to_string))
}

/// Exports group `group` from its cursor up to the head seen at the start; returns whether
/// anything new was written.
pub fn export_group(
    store: &mut dyn Store,
    base: &str,
    group: u32,
    args: &ExportArgs,
    stats: &mut Stats,
) -> anyhow::Result<bool> {
    let url = rpc::group_url(base, group);
    let mut rpc = Rpc::connect(&url, Duration::from_millis(args.rpc_timeout_ms))?;
    let chain_id = crate::json::quantity(&rpc.call("eth_chainId", json!([]))?)?;
    let cursor = match load_cursor(store, group)? {
        Some(c) => c,
        None => {
            store.transact(&[Stmt::new(
                INSERT_CURSOR,
                vec![Val::int(group), int(chain_id)?, int(now_ms())?],
            )])?;
            load_cursor(store, group)?.ok_or_else(|| anyhow!("cursor of group {group} vanished"))?
        }
    };
    if cursor.chain_id != chain_id {
        bail!(
            "group {group}: the warehouse holds chain id {} but {url} serves chain id {chain_id}",
            cursor.chain_id
        );
    }
    let head = crate::json::quantity(&rpc.call("eth_blockNumber", json!([]))?)?;
    let next = cursor.next_block;
    let mut prev_hash = match next {
        0 => None,
        n => Some(stored_hash(store, group, n - 1)?.ok_or_else(|| {
            anyhow!(
                "group {group}: the cursor says block {} is exported but it is not there",
                n - 1
            )
        })?),
    };
    // A fetcher thread reads the next batch from the node while this one writes the last:
    // the node's and the database's work overlap. At most `FETCH_AHEAD_BATCHES` fetched
    // batches wait, so memory holds that many plus the one being written.
    let batch_blocks = args.batch_blocks.max(1);
    let (ahead, fetched_batches) = std::sync::mpsc::sync_channel(FETCH_AHEAD_BATCHES);
    let (written, rpc_back) = std::thread::scope(|scope| {
        let fetcher = scope.spawn(move || {
            let mut n = next;
            while n <= head {
                let end = (n + batch_blocks).min(head + 1);
                let got = fetch(&mut rpc, args, n, end).map(|f| (n, end, f));
                let failed = got.is_err();
                if ahead.send(got).is_err() || failed {
                    break;
                }
                n = end;
            }
            rpc
        });
        let written = write_batches(store, group, &url, &fetched_batches, &mut prev_hash, stats);
        // A write failed: the fetcher's next send fails and it stops.
        drop(fetched_batches);
        (written, fetcher.join())
    });
    let mut rpc = rpc_back.map_err(|_| anyhow!("group {group}: the fetcher thread panicked"))?;
    let mut wrote = written?;
    // Every batch through the head is written (a failed fetch or write returned above).
    let next = next.max(head.saturating_add(1));
    wrote |= export_interceptions(store, &mut rpc, group, stats)?;
    wrote |= export_settlements(store, &mut rpc, group, next, args, stats)?;
    Ok(wrote)
}

/// Writes fetched batches as they come, each with the cursor's advance; whether any was.
fn write_batches(
    store: &mut dyn Store,
    group: u32,
    url: &str,
    batches: &std::sync::mpsc::Receiver<anyhow::Result<(u64, u64, Vec<Fetched>)>>,
    prev_hash: &mut Option<String>,
    stats: &mut Stats,
) -> anyhow::Result<bool> {
    let mut wrote = false;
    for got in batches.iter() {
        let (next, end, fetched) = got?;
        let mut stmts = Vec::new();
        let mut batch = Stats::default();
        for (b, rs) in &fetched {
            let number = u64_field(b, "number")?;
            let parent = hex_field(b, "parentHash")?;
            if let Some(prev) = prev_hash.as_ref() {
                if *prev != parent {
                    bail!(
                        "group {group}: block {number} of {url} has parent {parent}, but the \
                         warehouse's block {} is {prev}: the node serves another chain (was it \
                         reset?); export into a new warehouse",
                        number - 1
                    );
                }
            }
            block_rows(group, b, rs, &mut stmts, &mut batch)
                .with_context(|| format!("group {group}"))?;
            *prev_hash = Some(hex_field(b, "hash")?);
        }
        stmts.push(Stmt {
            sql: ADVANCE_BLOCKS,
            params: vec![int(end)?, int(now_ms())?, Val::int(group), int(next)?],
            expect_rows: Some(1),
        });
        store.transact(&stmts).with_context(|| {
            format!(
                "group {group}: writing blocks {next}..{end} (another exporter on this \
                 warehouse?)"
            )
        })?;
        add(stats, &batch);
        wrote = true;
    }
    Ok(wrote)
}

fn add(total: &mut Stats, batch: &Stats) {
    total.blocks += batch.blocks;
    total.txs += batch.txs;
    total.receipts += batch.receipts;
    total.logs += batch.logs;
    total.interceptions += batch.interceptions;
    total.settlements += batch.settlements;
}

/// `bcos_getInterceptions` pages since the cursor. The node's journal is in memory and
/// numbers from 0 at each start: a `next` below the cursor means the node restarted, and a
/// new epoch (keyed by the time it was noticed) begins at 0. The journal is bounded: entries
/// the node dropped before they were read are reported and skipped.
fn export_interceptions(
    store: &mut dyn Store,
    rpc: &mut Rpc,
    group: u32,
    stats: &mut Stats,
) -> anyhow::Result<bool> {
    let mut wrote = false;
    loop {
        let c = load_cursor(store, group)?.ok_or_else(|| anyhow!("no cursor for group {group}"))?;
        let from = format!("{:#x}", c.next_interception);
        let page = match rpc.try_call("bcos_getInterceptions", json!([from]))? {
            Ok(p) => p,
            // A node without the journal: nothing to export.
            Err(_) => return Ok(wrote),
        };
        let entries = field(&page, "interceptions")?
            .as_array()
            .ok_or_else(|| anyhow!("interceptions is not an array"))?;
        let next = crate::json::quantity(field(&page, "next")?)?;
        let advance = |new_next: u64, epoch: u64| -> anyhow::Result<Stmt> {
            Ok(Stmt {
                sql: ADVANCE_INTERCEPTIONS,
                params: vec![
                    int(new_next)?,
                    int(epoch)?,
                    int(now_ms())?,
                    Val::int(group),
                    int(c.next_interception)?,
                    int(c.interception_epoch_ms)?,
                ],
                expect_rows: Some(1),
            })
        };
        if entries.is_empty() {
            if next < c.next_interception {
                // The node restarted: its journal numbers from 0 again.
                store.transact(&[advance(0, now_ms())?])?;
                continue;
            }
            return Ok(wrote);
        }
        let first = u64_field(&entries[0], "seq")?;
        if first > c.next_interception {
            eprintln!(
                "etl: group {group}: interceptions {}..{first} were dropped by the node's \
                 bounded journal before they were read",
                c.next_interception
            );
        }
        let mut stmts = Vec::with_capacity(entries.len() + 1);
        let mut last = first;
        for e in entries {
            let seq = u64_field(e, "seq")?;
            stmts.push(Stmt::new(
                INSERT_INTERCEPTION,
                vec![
                    Val::int(group),
                    int(c.interception_epoch_ms)?,
                    int(seq)?,
                    int(u64_field(e, "timeMs")?)?,
                    int(u64_field(e, "block")?)?,
                    Val::text(hex_field(e, "hash")?),
                    Val::text(hex_field(e, "from")?),
                    Val::Text(opt_hex_field(e, "to")?),
                    Val::text(str_field(e, "rule")?),
                    Val::text(e.get("reason").and_then(Value::as_str).unwrap_or("")),
                ],
            ));
            last = seq;
        }
        let n = stmts.len() as u64;
        stmts.push(advance(last + 1, c.interception_epoch_ms)?);
        store.transact(&stmts)?;
        stats.interceptions += n;
        wrote = true;
    }
}

/// Settlement records of a user chain (`bcos_getSettlementStatus` role "user", records
/// `1..=lastSeq`, each with `bcos_getSettlementProof`), only those in exported blocks.
fn export_settlements(
    store: &mut dyn Store,
    rpc: &mut Rpc,
    group: u32,
    exported_to: u64,
    args: &ExportArgs,
    stats: &mut Stats,
) -> anyhow::Result<bool> {
    let status = match rpc.try_call("bcos_getSettlementStatus", json!([]))? {
        Ok(s) => s,
        Err(_) => return Ok(false),
    };
    if status.get("role").and_then(Value::as_str) != Some("user") {
        return Ok(false);
    }
    let last = u64_field(&status, "lastSeq")?;
    let c = load_cursor(store, group)?.ok_or_else(|| anyhow!("no cursor for group {group}"))?;
    if c.next_settlement > last {
        return Ok(false);
    }
    let seqs: Vec<u64> = (c.next_settlement..=last).collect();
    let mut stmts = Vec::new();
    let mut next = c.next_settlement;
    'outer: for chunk in seqs.chunks(args.rpc_receipts_per_call.max(1)) {
        let params = chunk.iter().map(|s| json!([format!("{s:#x}")])).collect();
        for r in rpc.batch("bcos_getSettlementProof", params)? {
            let block = u64_field(&r, "block")?;
            if block >= exported_to {
                break 'outer;
            }
            let seq = u64_field(&r, "seq")?;
            stmts.push(Stmt::new(
                INSERT_SETTLEMENT,
                vec![
                    Val::int(group),
                    int(seq)?,
                    int(u64_field(&r, "chainId")?)?,
                    int(block)?,
                    Val::text(json_number_text(field(&r, "amount")?)),
                    Val::text(json_number_text(field(&r, "cumulative")?)),
                    Val::bytes(bytes_field(&r, "proof")?),
                ],
            ));
            next = seq + 1;
        }
    }
    if stmts.is_empty() {
        return Ok(false);
    }
    let n = stmts.len() as u64;
    stmts.push(Stmt {
        sql: ADVANCE_SETTLEMENTS,
        params: vec![
            int(next)?,
            int(now_ms())?,
            Val::int(group),
            int(c.next_settlement)?,
        ],
        expect_rows: Some(1),
    });
    store.transact(&stmts)?;
    stats.settlements += n;
    Ok(true)
}

/// An amount as the node sends it (a JSON number or a hex/decimal string), in decimal.
fn json_number_text(v: &Value) -> String {
    match v {
        Value::String(s) => s
            .parse::<U256>()
            .map_or_else(|_| s.clone(), |u| u.to_string()),
        other => other.to_string(),
    }
}

/// The whole export: every group to its head, once or (`--follow`) forever.
pub fn run(args: &ExportArgs) -> anyhow::Result<Stats> {
    if !(crate::POLL_MS_MIN..=crate::POLL_MS_MAX).contains(&args.poll_ms) {
        bail!(
            "--poll-ms must be in {}..={} ms",
            crate::POLL_MS_MIN,
            crate::POLL_MS_MAX
        );
    }
    let (Some(url), Some(to)) = (&args.rpc, &args.to) else {
        bail!("bcos etl needs --rpc URL and --to sqlite:PATH|postgres://…");
    };
    let mut store = crate::store::open(to)?;
    let base = rpc::base_url(url)?;
    let timeout = Duration::from_millis(args.rpc_timeout_ms);
    let started = Instant::now();
    let mut stats = Stats::default();
    loop {
        let groups = groups(url, timeout)?;
        let mut wrote = false;
        for g in &groups {
            let before = stats;
            let t = Instant::now();
            wrote |= export_group(store.as_mut(), &base, *g, args, &mut stats)?;
            let rows = stats.rows() - before.rows();
            if rows > 0 && !args.quiet {
                eprintln!(
                    "etl: group {g}: {} blocks, {} txs, {} logs ({rows} rows) in {:.2}s",
                    stats.blocks - before.blocks,
                    stats.txs - before.txs,
                    stats.logs - before.logs,
                    t.elapsed().as_secs_f64()
                );
            }
        }
        if !args.follow {
            break;
        }
        if !wrote {
            std::thread::sleep(Duration::from_millis(args.poll_ms));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "etl: exported {} blocks, {} transactions, {} receipts, {} logs, {} interceptions, {} \
         settlement records ({} rows) in {secs:.2}s: {:.0} rows/s",
        stats.blocks,
        stats.txs,
        stats.receipts,
        stats.logs,
        stats.interceptions,
        stats.settlements,
        stats.rows(),
        stats.rows() as f64 / secs.max(1e-9)
    );
    Ok(stats)
}
