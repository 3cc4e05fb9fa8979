//! Polled filters: eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
//! eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter.
//!
//! Each filter keeps a cursor: the first block it has not reported. A poll reads the
//! committed blocks from the cursor to the head (at most `get_logs_block_range_max` blocks,
//! and for logs it stops at a block boundary once `get_logs_results_max` is passed) and moves
//! the cursor past what it returned, so no block or log is ever skipped or repeated, however
//! far the broadcast feed has run ahead. A filter not polled for `filter_idle_timeout_ms` is
//! removed, as in geth. Pending-transaction filters always report an empty list.
//!
//! At most `filters_max` filters exist, and at most `filters_per_client_max` of one client
//! (its IP address: an HTTP client opens a new connection whenever it likes, so the
//! connection is no identity), so one client cannot take every slot (issue 10, item 11). A
//! poll reads at most `get_logs_blocks_read_max` blocks' receipts and about
//! `get_logs_bytes_max` bytes of logs, stopping at a block boundary.

use crate::blocking::{self, Pool};
use crate::conn::ConnMeter;
use crate::errors::{api_error, limit_exceeded, server_error, RpcResult};
use crate::logs::{append_block_logs, block_if_may_match, get_logs, LogQuery};
use crate::server::Ctx;
use crate::RpcConfig;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{Filter, FilterChanges, Log as RpcLog};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::{Extensions, RpcModule};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An unguessable 128-bit id (filter and subscription ids), like geth's random ids.
pub fn random_id() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<(RandomState, RandomState)> = std::sync::OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (RandomState::new(), RandomState::new()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (u128::from(a.hash_one(n)) << 64) | u128::from(b.hash_one(n))
}

enum Kind {
    Blocks,
    PendingTxs,
    Logs(Box<LogQuery>),
}

struct Entry {
    kind: Kind,
    /// First block not yet reported.
    next_block: u64,
}

/// One filter. `last_poll` has its own lock so expiry checks never wait behind a long poll.
struct Slot {
    last_poll: Mutex<Instant>,
    /// Who installed it; `None` for a request that did not come through a connection.
    client: Option<IpAddr>,
    entry: Mutex<Entry>,
}

/// The installed filters of all clients.
pub struct Filters {
    map: Mutex<HashMap<u128, Arc<Slot>>>,
    max: usize,
    per_client_max: usize,
    idle_timeout: Duration,
}

/// The client (IP address) a request came from.
pub fn client_of(ext: &Extensions) -> Option<IpAddr> {
    ext.get::<Arc<ConnMeter>>().map(|m| m.client())
}

impl Filters {
    pub fn new(config: &RpcConfig) -> Self {
        Filters {
            map: Mutex::new(HashMap::new()),
            max: config.filters_max,
            per_client_max: config.filters_per_client_max,
            idle_timeout: Duration::from_millis(config.filter_idle_timeout_ms),
        }
    }

    fn install(&self, kind: Kind, next_block: u64, client: Option<IpAddr>) -> RpcResult<U128> {
        let mut map = self.map.lock();
        let timeout = self.idle_timeout;
        map.retain(|_, slot| slot.last_poll.lock().elapsed() < timeout);
        if map.len() >= self.max {
            return Err(limit_exceeded(format!(
                "too many installed filters (limit {})",
                self.max
            )));
        }
        if let Some(ip) = client {
            let mine = map.values().filter(|s| s.client == Some(ip)).count();
            if mine >= self.per_client_max {
                return Err(limit_exceeded(format!(
                    "too many installed filters for this client: {mine} (limit {}); \
                     uninstall unused ones",
                    self.per_client_max
                )));
            }
        }
        let id = random_id();
        let slot = Slot {
            last_poll: Mutex::new(Instant::now()),
            client,
            entry: Mutex::new(Entry { kind, next_block }),
        };
        map.insert(id, Arc::new(slot));
        Ok(U128::from(id))
    }

    fn get(&self, id: U128) -> RpcResult<Arc<Slot>> {
        let mut map = self.map.lock();
        let key = id.to::<u128>();
        let slot = map.get(&key).cloned().ok_or_else(not_found)?;
        let mut last_poll = slot.last_poll.lock();
        if last_poll.elapsed() >= self.idle_timeout {
            drop(last_poll);
            map.remove(&key);
            return Err(not_found());
        }
        *last_poll = Instant::now();
        drop(last_poll);
        Ok(slot)
    }

    fn uninstall(&self, id: U128) -> bool {
        self.map.lock().remove(&id.to::<u128>()).is_some()
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn not_found() -> jsonrpsee::types::ErrorObjectOwned {
    server_error("filter not found")
}

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_method("eth_newFilter", |p, c, ext| -> RpcResult<U128> {
        let filter: Filter = p.one()?;
        let query = LogQuery::new(c, filter)?;
        c.filters.install(
            Kind::Logs(Box::new(query)),
            c.api.head_number().saturating_add(1),
            client_of(ext),
        )
    })?;
    m.register_method("eth_newBlockFilter", |_, c, ext| {
        c.filters.install(
            Kind::Blocks,
            c.api.head_number().saturating_add(1),
            client_of(ext),
        )
    })?;
    m.register_method("eth_newPendingTransactionFilter", |_, c, ext| {
        c.filters.install(
            Kind::PendingTxs,
            c.api.head_number().saturating_add(1),
            client_of(ext),
        )
    })?;
    m.register_method("eth_uninstallFilter", |p, c, _| -> RpcResult<bool> {
        let id: U128 = p.one()?;
        Ok(c.filters.uninstall(id))
    })?;
    blocking::register(
        m,
        "eth_getFilterChanges",
        Pool::Read,
        |p, c, _| -> RpcResult<FilterChanges> {
            let id: U128 = p.one()?;
            let slot = c.filters.get(id)?;
            let mut e = slot.entry.lock();
            changes(c, &mut e)
        },
    )?;
    blocking::register(
        m,
        "eth_getFilterLogs",
        Pool::Read,
        |p, c, _| -> RpcResult<Vec<RpcLog>> {
            let id: U128 = p.one()?;
            let slot = c.filters.get(id)?;
            let entry = slot.entry.lock();
            match &entry.kind {
                Kind::Logs(q) => get_logs(c, q),
                _ => Err(not_found()),
            }
        },
    )?;
    Ok(())
}

fn changes(c: &Ctx, e: &mut Entry) -> RpcResult<FilterChanges> {
    let head = c.api.head_number();
    let from = e.next_block;
    if from > head {
        return Ok(FilterChanges::Empty);
    }
    let window = c.config.get_logs_block_range_max.max(1);
    let to = head.min(from.saturating_add(window - 1));
    match &e.kind {
        Kind::PendingTxs => {
            e.next_block = to.saturating_add(1);
            Ok(FilterChanges::Empty)
        }
        Kind::Blocks => {
            let mut hashes: Vec<B256> = Vec::new();
            for n in from..=to {
                let Some((hash, _)) = c.api.header(n).map_err(api_error)? else {
                    break;
                };
                hashes.push(hash);
                e.next_block = n.saturating_add(1);
            }
            Ok(FilterChanges::Hashes(hashes))
        }
        Kind::Logs(query) => {
            let (lo, hi) = numeric_bounds(&query.filter);
            let mut logs = Vec::new();
            let mut bytes = 0usize;
            let mut reads = 0u64;
            for n in from..=to {
                if n >= lo && n <= hi {
                    if let Some(block) = block_if_may_match(c, query, n)? {
                        reads += 1;
                        bytes = bytes.saturating_add(append_block_logs(&block, query, &mut logs));
                    }
                }
                e.next_block = n.saturating_add(1);
                // Stop at a block boundary; the next poll resumes at `next_block`.
                if logs.len() >= c.config.get_logs_results_max
                    || bytes >= c.config.get_logs_bytes_max
                    || reads >= c.config.get_logs_blocks_read_max
                {
                    break;
                }
            }
            Ok(FilterChanges::Logs(logs))
        }
    }
}

/// The numeric fromBlock/toBlock of a log filter; tags do not bound a polled filter.
fn numeric_bounds(filter: &Filter) -> (u64, u64) {
    if filter.block_option.is_block_hash() {
        // A block-hash filter names a block that already exists: no changes ever.
        return (u64::MAX, 0);
    }
    let (from, to) = filter.block_option.as_range();
    let lo = match from {
        Some(BlockNumberOrTag::Number(n)) => *n,
        _ => 0,
    };
    let hi = match to {
        Some(BlockNumberOrTag::Number(n)) => *n,
        _ => u64::MAX,
    };
    (lo, hi)
}
