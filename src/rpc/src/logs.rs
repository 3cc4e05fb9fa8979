//! eth_getLogs and the log matching shared by log filters and `logs` subscriptions.
//!
//! Addresses are ORed; each topic position is an OR set, positions are ANDed, `null` is a
//! wildcard (alloy's `Filter` semantics, the same as geth's). A block whose header bloom
//! cannot contain a match is skipped before its receipts are read.
//!
//! Every query is bounded (issue 10, items 9 and 11): the filter's lists by
//! `filter_addresses_max` and `filter_topic_options_max`, the block range by
//! `get_logs_block_range_max`, the blocks whose receipts are read (all of them for a query
//! without addresses or topics) by `get_logs_blocks_read_max`, and the answer by
//! `get_logs_results_max` logs and `get_logs_bytes_max` estimated JSON bytes.

use crate::blocking::{self, Pool};
use crate::convert::{block_logs, rpc_log};
use crate::errors::{api_error, invalid_params, limit_exceeded, server_error, RpcResult};
use crate::eth_block::resolve_tag;
use crate::server::Ctx;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{keccak256, Bloom};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log as RpcLog};
use bcos_types::{CommittedBlock, Log};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    blocking::register(
        m,
        "eth_getLogs",
        Pool::Read,
        |p, c, _| -> RpcResult<Vec<RpcLog>> {
            let filter: Filter = p.one()?;
            let query = LogQuery::new(c, filter)?;
            get_logs(c, &query)
        },
    )?;
    Ok(())
}

/// A checked log filter with its bloom bits.
pub struct LogQuery {
    pub filter: Filter,
    bits: FilterBits,
}

impl LogQuery {
    /// Refuses a filter whose lists exceed the configured bounds.
    pub fn new(c: &Ctx, filter: Filter) -> RpcResult<Self> {
        let addresses_max = c.config.filter_addresses_max;
        if filter.address.len() > addresses_max {
            return Err(limit_exceeded(format!(
                "too many addresses in filter: {} (limit {addresses_max})",
                filter.address.len()
            )));
        }
        let options_max = c.config.filter_topic_options_max;
        if let Some((i, t)) = filter
            .topics
            .iter()
            .enumerate()
            .find(|(_, t)| t.len() > options_max)
        {
            return Err(limit_exceeded(format!(
                "too many alternatives for topic {i}: {} (limit {options_max})",
                t.len()
            )));
        }
        let bits = FilterBits::new(&filter);
        Ok(LogQuery { filter, bits })
    }

    /// Whether the filter constrains anything a bloom can rule out.
    pub fn constrains(&self) -> bool {
        !self.filter.address.is_empty() || self.filter.has_topics()
    }

    /// Whether a block with this bloom may hold a matching log.
    pub fn may_match(&self, bloom: &Bloom) -> bool {
        self.bits.may_match(bloom)
    }

    fn matches(&self, log: &Log) -> bool {
        self.filter.matches_address(log.address) && self.filter.matches_topics(log.topics())
    }
}

/// The three bloom bit indices of every address and topic of a filter, computed once.
/// alloy's `Filter::matches_bloom` would cache a 256-byte bloom per listed value inside the
/// filter, some 40 times the value itself, for as long as the filter is installed.
struct FilterBits {
    addresses: Vec<[u16; 3]>,
    topics: Vec<Vec<[u16; 3]>>,
}

/// Bloom bit indices of `value` (Yellow Paper M3:2048, as alloy's `Bloom::accrue`).
fn bloom_bits(value: &[u8]) -> [u16; 3] {
    let h = keccak256(value);
    [0, 2, 4].map(|i| ((u16::from(h[i]) << 8) | u16::from(h[i + 1])) & 0x7ff)
}

fn bloom_has(bloom: &Bloom, bits: &[u16; 3]) -> bool {
    bits.iter().all(|b| {
        let byte = 255 - usize::from(b / 8);
        bloom.0[byte] & (1u8 << (b % 8)) != 0
    })
}

impl FilterBits {
    fn new(filter: &Filter) -> Self {
        FilterBits {
            addresses: filter
                .address
                .iter()
                .map(|a| bloom_bits(a.as_slice()))
                .collect(),
            topics: filter
                .topics
                .iter()
                .map(|t| t.iter().map(|v| bloom_bits(v.as_slice())).collect())
                .collect(),
        }
    }

    /// An empty list matches anything; otherwise at least one of its values must be in the
    /// bloom, for the addresses and for every topic position.
    fn may_match(&self, bloom: &Bloom) -> bool {
        let any = |set: &[[u16; 3]]| set.is_empty() || set.iter().any(|b| bloom_has(bloom, b));
        any(&self.addresses) && self.topics.iter().all(|t| any(t))
    }
}

/// Estimated JSON size of one log as an RPC object: hex doubles the data, each topic is
/// 66 characters plus punctuation, and the position fields are about 400 bytes.
pub fn log_json_bytes(log: &Log) -> usize {
    400usize
        .saturating_add(log.data.data.len().saturating_mul(2))
        .saturating_add(log.topics().len().saturating_mul(70))
}

/// Appends the block's logs that match (ignoring the block range); returns the estimated
/// JSON bytes appended.
pub fn append_block_logs(cb: &CommittedBlock, query: &LogQuery, out: &mut Vec<RpcLog>) -> usize {
    let mut bytes = 0usize;
    for (tx_index, log_index, log) in block_logs(cb) {
        if query.matches(log) {
            bytes = bytes.saturating_add(log_json_bytes(log));
            out.push(rpc_log(cb, tx_index, log_index, log));
        }
    }
    bytes
}

/// Block `n` unless its header bloom rules out every match (then its receipts are not read).
pub fn block_if_may_match(c: &Ctx, query: &LogQuery, n: u64) -> RpcResult<Option<CommittedBlock>> {
    if query.constrains() {
        match c.api.header(n).map_err(api_error)? {
            Some((_, header)) if query.may_match(&header.logs_bloom) => {}
            _ => return Ok(None),
        }
    }
    c.api.committed_block(n).map_err(api_error)
}

/// Matching logs of blocks `from..=to` (clamped to the head), in chain order.
pub fn logs_in_range(c: &Ctx, query: &LogQuery, from: u64, to: u64) -> RpcResult<Vec<RpcLog>> {
    let to = to.min(c.api.head_number());
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    // from <= to, so this cannot wrap unless the range is all of u64, which the clamp to
    // the head rules out; saturating regardless.
    let span = (to - from).saturating_add(1);
    let range_max = c.config.get_logs_block_range_max;
    if span > range_max {
        return Err(limit_exceeded(format!(
            "block range {from}..={to} spans {span} blocks; the limit is {range_max}"
        )));
    }
    let results_max = c.config.get_logs_results_max;
    let bytes_max = c.config.get_logs_bytes_max;
    let reads_max = c.config.get_logs_blocks_read_max;
    let mut reads = 0u64;
    let mut bytes = 0usize;
    for n in from..=to {
        let Some(block) = block_if_may_match(c, query, n)? else {
            continue;
        };
        reads += 1;
        if reads > reads_max {
            return Err(limit_exceeded(format!(
                "query reads the receipts of more than {reads_max} blocks; narrow the block \
                 range or filter by address or topic"
            )));
        }
        bytes = bytes.saturating_add(append_block_logs(&block, query, &mut out));
        if out.len() > results_max {
            return Err(limit_exceeded(format!(
                "query returned more than {results_max} results; narrow the block range or the filter"
            )));
        }
        if bytes > bytes_max {
            return Err(limit_exceeded(format!(
                "query returned more than {bytes_max} bytes of logs; narrow the block range or the filter"
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

pub fn get_logs(c: &Ctx, query: &LogQuery) -> RpcResult<Vec<RpcLog>> {
    match &query.filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let number = c.api.block_number_by_hash(hash).map_err(api_error)?;
            let Some(number) = number else {
                return Err(server_error("unknown block"));
            };
            logs_in_range(c, query, number, number)
        }
        FilterBlockOption::Range { .. } => {
            let (from, to) = filter_range(c, &query.filter)?;
            logs_in_range(c, query, from, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, BloomInput, B256};

    #[test]
    fn filter_bits_agree_with_alloys_bloom() {
        let a = Address::repeat_byte(7);
        let t = B256::repeat_byte(9);
        let mut bloom = Bloom::default();
        bloom.accrue(BloomInput::Raw(a.as_slice()));
        bloom.accrue(BloomInput::Raw(t.as_slice()));
        let both = FilterBits::new(&Filter::new().address(a).event_signature(t));
        assert!(both.may_match(&bloom));
        let other = FilterBits::new(&Filter::new().address(Address::repeat_byte(8)));
        assert!(!other.may_match(&bloom));
        let either = FilterBits::new(&Filter::new().address(vec![Address::repeat_byte(8), a]));
        assert!(either.may_match(&bloom));
        assert!(FilterBits::new(&Filter::new()).may_match(&Bloom::default()));
        for f in [
            Filter::new().address(a),
            Filter::new().event_signature(t),
            Filter::new().address(Address::repeat_byte(3)),
        ] {
            assert_eq!(
                FilterBits::new(&f).may_match(&bloom),
                f.matches_bloom(bloom)
            );
        }
    }
}
