//! eth_getLogs and the log matching shared by log filters and `logs` subscriptions.
//!
//! Addresses are ORed; each topic position is an OR set, positions are ANDed, `null` is a
//! wildcard (alloy's `Filter` semantics, the same as geth's). A block whose header bloom
//! cannot contain a match is skipped before its receipts are read. The block range and the
//! result count are bounded by `get_logs_block_range_max` and `get_logs_results_max`.

use crate::convert::{block_logs, rpc_log};
use crate::errors::{api_error, invalid_params, limit_exceeded, server_error, RpcResult};
use crate::eth_block::resolve_tag;
use crate::server::Ctx;
use alloy_eips::BlockNumberOrTag;
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log as RpcLog};
use bcos_types::CommittedBlock;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_blocking_method("eth_getLogs", |p, c, _| -> RpcResult<Vec<RpcLog>> {
        let filter: Filter = p.one()?;
        get_logs(&c, &filter)
    })?;
    Ok(())
}

/// Appends the block's logs that match `filter` (ignoring its block range).
pub fn append_block_logs(cb: &CommittedBlock, filter: &Filter, out: &mut Vec<RpcLog>) {
    for (tx_index, log_index, log) in block_logs(cb) {
        if filter.matches_address(log.address) && filter.matches_topics(log.topics()) {
            out.push(rpc_log(cb, tx_index, log_index, log));
        }
    }
}

/// Whether the filter constrains anything a bloom can rule out.
fn constrains(filter: &Filter) -> bool {
    !filter.address.is_empty() || filter.has_topics()
}

/// Block `n` unless its header bloom rules out every match (then its receipts are not read).
pub fn block_if_may_match(c: &Ctx, filter: &Filter, n: u64) -> RpcResult<Option<CommittedBlock>> {
    if constrains(filter) {
        match c.api.header(n).map_err(api_error)? {
            Some((_, header)) if filter.matches_bloom(header.logs_bloom) => {}
            _ => return Ok(None),
        }
    }
    c.api.committed_block(n).map_err(api_error)
}

/// Matching logs of blocks `from..=to` (clamped to the head), in chain order.
pub fn logs_in_range(c: &Ctx, filter: &Filter, from: u64, to: u64) -> RpcResult<Vec<RpcLog>> {
    let to = to.min(c.api.head_number());
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    let span = to - from + 1;
    let range_max = c.config.get_logs_block_range_max;
    if span > range_max {
        return Err(limit_exceeded(format!(
            "block range {from}..={to} spans {span} blocks; the limit is {range_max}"
        )));
    }
    let results_max = c.config.get_logs_results_max;
    for n in from..=to {
        let Some(block) = block_if_may_match(c, filter, n)? else {
            continue;
        };
        append_block_logs(&block, filter, &mut out);
        if out.len() > results_max {
            return Err(limit_exceeded(format!(
                "query returned more than {results_max} results; narrow the block range or the filter"
            )));
        }
    }
    Ok(out)
}

/// The inclusive block range a range filter names, with geth's defaults (`latest`).
pub fn filter_range(c: &Ctx, filter: &Filter) -> RpcResult<(u64, u64)> {
    let (from, to) = filter.block_option.as_range();
    let from = resolve_tag(c, from.copied().unwrap_or(BlockNumberOrTag::Latest));
    let to = resolve_tag(c, to.copied().unwrap_or(BlockNumberOrTag::Latest));
    if from > to && from <= c.api.head_number() {
        return Err(invalid_params(format!(
            "invalid block range params: fromBlock {from} > toBlock {to}"
        )));
    }
    Ok((from, to))
}

pub fn get_logs(c: &Ctx, filter: &Filter) -> RpcResult<Vec<RpcLog>> {
    match &filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let number = c.api.block_number_by_hash(hash).map_err(api_error)?;
            let Some(number) = number else {
                return Err(server_error("unknown block"));
            };
            logs_in_range(c, filter, number, number)
        }
        FilterBlockOption::Range { .. } => {
            let (from, to) = filter_range(c, filter)?;
            logs_in_range(c, filter, from, to)
        }
    }
}
