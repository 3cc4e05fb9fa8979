//! Server limits. Every limit is a named field with a documented default; a config file may
//! set any subset (`#[serde(default)]`).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Listen address for HTTP and WebSocket (same port). Default `127.0.0.1:8545`, anvil's.
    /// Port 0 picks a free port; [`crate::RpcHandle::local_addr`] reports it.
    pub addr: SocketAddr,
    /// Largest request body accepted. Default 10 MiB (a batch of thousands of raw txs).
    pub max_request_body_bytes: u32,
    /// Largest response body produced. Default 100 MiB (full blocks, large getLogs).
    pub max_response_body_bytes: u32,
    /// Concurrent HTTP/WS connections. Default 1,000.
    pub max_connections: u32,
    /// Most calls in one batch. Default 10,000 (loadgen sends large raw-tx batches).
    pub batch_requests_max: u32,
    /// Calls of one batch run at once (each on its own task, so a batch spreads over cores
    /// instead of running entry by entry as jsonrpsee does). Default 64.
    pub batch_parallelism_max: u32,
    /// Widest `fromBlock..=toBlock` range eth_getLogs accepts. Default 10,000.
    pub get_logs_block_range_max: u64,
    /// Most logs one eth_getLogs / eth_getFilterLogs returns before failing. Default 10,000.
    pub get_logs_results_max: usize,
    /// Installed filters (all kinds, all clients). Default 10,000.
    pub filters_max: usize,
    /// A filter not polled for this long is removed. Default 5 minutes, like geth.
    pub filter_idle_timeout_ms: u64,
    /// WebSocket subscriptions per connection. Default 1,024.
    pub subscriptions_per_connection_max: u32,
    /// Most blocks eth_feeHistory reports at once. Default 1,024, like geth.
    pub fee_history_blocks_max: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_body_bytes: 10 * 1024 * 1024,
            max_response_body_bytes: 100 * 1024 * 1024,
            max_connections: 1_000,
            batch_requests_max: 10_000,
            batch_parallelism_max: 64,
            get_logs_block_range_max: 10_000,
            get_logs_results_max: 10_000,
            filters_max: 10_000,
            filter_idle_timeout_ms: 5 * 60 * 1000,
            subscriptions_per_connection_max: 1_024,
            fee_history_blocks_max: 1_024,
        }
    }
}
