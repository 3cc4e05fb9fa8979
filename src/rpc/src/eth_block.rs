//! Blocks and block-tag resolution: eth_blockNumber, eth_getBlockBy*, transaction counts,
//! eth_getTransactionByBlock*AndIndex and eth_feeHistory.
//!
//! Every committed block is final (BFT commit), so `safe` and `finalized` are `latest`;
//! `pending` is also `latest` for blocks since the pool has no block of its own. Methods that
//! read blocks run in the bounded blocking pool (`blocking`).

use crate::api::StateAt;
use crate::blocking::{self, Pool};
use crate::convert::{rpc_block, rpc_tx};
use crate::errors::{api_error, invalid_params, limit_exceeded, ok, server_error, RpcResult};
use crate::server::Ctx;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, U64};
use alloy_rpc_types_eth::{Block, FeeHistory, Index, Transaction};
use bcos_types::CommittedBlock;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

/// A tag's block number; a number above the head is returned as is (callers treat it as
/// "not found").
pub fn resolve_tag(c: &Ctx, tag: BlockNumberOrTag) -> u64 {
    match tag {
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => c.api.head_number(),
    }
}

/// None when the id names an unknown hash.
pub fn resolve_block_id(c: &Ctx, id: BlockId) -> RpcResult<Option<u64>> {
    match id {
        BlockId::Number(tag) => Ok(Some(resolve_tag(c, tag))),
        BlockId::Hash(h) => c.api.block_number_by_hash(&h.block_hash).map_err(api_error),
    }
}

/// The state a query reads; an absent block parameter means `latest`.
pub fn state_at(c: &Ctx, id: Option<BlockId>) -> RpcResult<StateAt> {
    let id = id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
    if matches!(id, BlockId::Number(BlockNumberOrTag::Pending)) {
        return Ok(StateAt::Pending);
    }
    let head = c.api.head_number();
    match resolve_block_id(c, id)? {
        Some(n) if n == head => Ok(StateAt::Latest),
        Some(n) if n < head => Ok(StateAt::Number(n)),
        // geth's wording for both an unknown hash and a future number.
        _ => Err(server_error("header not found")),
    }
}

pub fn block_at(c: &Ctx, number: Option<u64>) -> RpcResult<Option<CommittedBlock>> {
    match number {
        Some(n) if n <= c.api.head_number() => c.api.committed_block(n).map_err(api_error),
        _ => Ok(None),
    }
}

fn block_by_tag(c: &Ctx, tag: BlockNumberOrTag) -> RpcResult<Option<CommittedBlock>> {
    block_at(c, Some(resolve_tag(c, tag)))
}

fn block_by_hash(c: &Ctx, hash: &B256) -> RpcResult<Option<CommittedBlock>> {
    let number = c.api.block_number_by_hash(hash).map_err(api_error)?;
    block_at(c, number)
}

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_method("eth_blockNumber", |_, c, _| {
        ok(U64::from(c.api.head_number()))
    })?;
    blocking::register(
        m,
        "eth_getBlockByNumber",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Block>> {
            let mut seq = p.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let full: Option<bool> = seq.optional_next()?;
            Ok(block_by_tag(c, tag)?.map(|b| rpc_block(&b, full.unwrap_or(false))))
        },
    )?;
    blocking::register(
        m,
        "eth_getBlockByHash",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Block>> {
            let mut seq = p.sequence();
            let hash: B256 = seq.next()?;
            let full: Option<bool> = seq.optional_next()?;
            Ok(block_by_hash(c, &hash)?.map(|b| rpc_block(&b, full.unwrap_or(false))))
        },
    )?;
    blocking::register(
        m,
        "eth_getBlockTransactionCountByNumber",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<U64>> {
            let tag: BlockNumberOrTag = p.one()?;
            Ok(block_by_tag(c, tag)?.map(|b| U64::from(b.block.block.txs.len())))
        },
    )?;
    blocking::register(
        m,
        "eth_getBlockTransactionCountByHash",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<U64>> {
            let hash: B256 = p.one()?;
            Ok(block_by_hash(c, &hash)?.map(|b| U64::from(b.block.block.txs.len())))
        },
    )?;
    blocking::register(
        m,
        "eth_getTransactionByBlockNumberAndIndex",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Transaction>> {
            let (tag, index): (BlockNumberOrTag, Index) = p.parse()?;
            Ok(block_by_tag(c, tag)?.and_then(|b| rpc_tx(&b, index.0)))
        },
    )?;
    blocking::register(
        m,
        "eth_getTransactionByBlockHashAndIndex",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Transaction>> {
            let (hash, index): (B256, Index) = p.parse()?;
            Ok(block_by_hash(c, &hash)?.and_then(|b| rpc_tx(&b, index.0)))
        },
    )?;
    m.register_method("eth_getUncleCountByBlockNumber", |_, _, _| ok(U64::ZERO))?;
    m.register_method("eth_getUncleCountByBlockHash", |_, _, _| ok(U64::ZERO))?;
    blocking::register(
        m,
        "eth_feeHistory",
        Pool::Read,
        |p, c, _| -> RpcResult<FeeHistory> {
            let mut seq = p.sequence();
            let count: serde_json::Value = seq.next()?;
            let newest: BlockNumberOrTag = seq.next()?;
            let percentiles: Option<Vec<f64>> = seq.optional_next()?;
            fee_history(c, parse_quantity(&count)?, newest, percentiles)
        },
    )?;
    Ok(())
}

/// geth accepts blockCount as a JSON number or a hex/decimal string (web3.py sends numbers).
fn parse_quantity(v: &serde_json::Value) -> RpcResult<u64> {
    let bad = || invalid_params("blockCount must be a number or a hex quantity");
    match v {
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(bad),
        serde_json::Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad()),
            None => s.parse().map_err(|_| bad()),
        },
        _ => Err(bad()),
    }
}

fn fee_history(
    c: &Ctx,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<FeeHistory> {
    if let Some(ps) = &percentiles {
        // Issue 10, item 9: the reward table is blocks × percentiles; unbounded, one 4 MiB
        // request could ask for gigabytes.
        let max = c.config.fee_history_percentiles_max;
        if ps.len() > max {
            return Err(limit_exceeded(format!(
                "too many reward percentiles: {} (limit {max})",
                ps.len()
            )));
        }
        let in_range = ps.iter().all(|p| (0.0..=100.0).contains(p));
        if !in_range || ps.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid_params(
                "reward percentiles must be ascending values in [0, 100]",
            ));
        }
    }
    let head = c.api.head_number();
    let newest = resolve_tag(c, newest);
    if newest > head {
        return Err(server_error(format!(
            "request beyond head block: requested {newest}, head {head}"
        )));
    }
    // newest <= head, a committed height, so newest + 1 cannot wrap; saturating regardless.
    let count = count
        .min(c.config.fee_history_blocks_max)
        .min(newest.saturating_add(1));
    let mut fh = FeeHistory {
        reward: percentiles.as_ref().map(|_| Vec::new()),
        ..Default::default()
    };
    if count == 0 {
        return Ok(fh);
    }
    let oldest = newest.saturating_add(1) - count;
    fh.oldest_block = oldest;
    for n in oldest..=newest {
        let header = match &percentiles {
            Some(ps) => {
                let block = c
                    .api
                    .committed_block(n)
                    .map_err(api_error)?
                    .ok_or_else(|| missing(n))?;
                if let Some(r) = fh.reward.as_mut() {
                    r.push(block_rewards(&block, ps));
                }
                block.block.header().clone()
            }
            None => {
                c.api
                    .header(n)
                    .map_err(api_error)?
                    .ok_or_else(|| missing(n))?
                    .1
            }
        };
        fh.base_fee_per_gas
            .push(u128::from(header.base_fee_per_gas));
        let ratio = if header.gas_limit == 0 {
            0.0
        } else {
            header.gas_used as f64 / header.gas_limit as f64
        };
        fh.gas_used_ratio.push(ratio);
    }
    // The array has one more entry: the base fee of the block after `newest`.
    let next = if newest == head {
        c.api.next_base_fee()
    } else {
        c.api
            .header(newest.saturating_add(1))
            .map_err(api_error)?
            .ok_or_else(|| missing(newest.saturating_add(1)))?
            .1
            .base_fee_per_gas
    };
    fh.base_fee_per_gas.push(u128::from(next));
    Ok(fh)
}

fn missing(n: u64) -> jsonrpsee::types::ErrorObjectOwned {
    server_error(format!("block {n} not found"))
}

/// geth's algorithm: sort the block's transactions by effective tip and, for each
/// percentile, take the tip of the transaction where the gas used so far first reaches that
/// fraction of the block's gas.
pub fn block_rewards(block: &CommittedBlock, percentiles: &[f64]) -> Vec<u128> {
    let header = block.block.header();
    let base = header.base_fee_per_gas;
    let mut txs: Vec<(u128, u64)> = Vec::with_capacity(block.block.block.txs.len());
    let mut previous = 0u64;
    for (tx, r) in block.block.block.txs.iter().zip(block.receipts.iter()) {
        let tip = tx
            .effective_gas_price(base)
            .saturating_sub(u128::from(base));
        txs.push((tip, r.cumulative_gas_used.saturating_sub(previous)));
        previous = r.cumulative_gas_used;
    }
    if txs.is_empty() {
        return vec![0; percentiles.len()];
    }
    txs.sort_unstable_by_key(|t| t.0);
    let mut index = 0;
    let mut sum = txs[0].1;
    percentiles
        .iter()
        .map(|p| {
            let threshold = (header.gas_used as f64 * p / 100.0) as u64;
            while sum < threshold && index < txs.len() - 1 {
                index += 1;
                sum = sum.saturating_add(txs[index].1);
            }
            txs[index].0
        })
        .collect()
}
