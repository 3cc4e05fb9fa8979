//! Server limits. Every limit is a named field with a documented default; a config file may
//! set any subset (`#[serde(default)]`). docs/memory-budget.md adds up what they allow.
//!
//! Groups: every group a node serves has its own RPC state (filters, subscriptions,
//! blocking pools), each bounded by the per-server limits below, so the filter, subscription
//! and blocking-read terms of the memory budget multiply by the number of groups served.
//! Connections, request permits and body sizes are per listener and do not.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Listen address for HTTP and WebSocket (same port). Default `127.0.0.1:8545`, anvil's.
    /// Port 0 picks a free port; [`crate::RpcHandle::local_addr`] reports it.
    pub addr: SocketAddr,
    /// Largest request body (or WebSocket message) accepted. Default 2 MiB (a batch of
    /// 1,000 raw transfers is about 0.3 MB, a 128 KiB raw transaction 0.26 MB).
    pub max_request_body_bytes: u32,
    /// Largest response body produced. Default 16 MiB (a full block of 10,000 transactions
    /// is about 8 MB of JSON).
    pub max_response_body_bytes: u32,
    /// Open TCP connections, HTTP and WebSocket together; past it new ones are closed at
    /// once. Default 128.
    pub max_connections: u32,
    /// Open connections from one IP address. Default 32.
    pub connections_per_ip_max: u32,
    /// Requests (a batch counts once) being handled or whose response is not yet written to
    /// its socket, all connections together; past it, requests wait. Default 64.
    pub requests_in_flight_max: u32,
    /// The same per client IP address (all its connections), so one client cannot hold
    /// every server-wide slot. Default 16.
    pub requests_per_ip_in_flight_max: u32,
    /// The same per connection; past it the server stops reading that connection until a
    /// response has been written, so a client that does not read cannot pile up work.
    /// Default 4.
    pub requests_per_connection_in_flight_max: u32,
    /// A connection whose writes make no progress this long is closed (a client that stops
    /// reading). Default 30 s.
    pub write_timeout_ms: u64,
    /// An HTTP connection that does not send a complete request head within this time is
    /// closed (idle keep-alive included). Default 30 s.
    pub header_read_timeout_ms: u64,
    /// Messages queued for one WebSocket connection (responses and subscription
    /// notifications) before producers wait. Default 16.
    pub ws_message_buffer_max: u32,
    /// Most calls in one batch. Default 10,000 (loadgen sends large raw-tx batches).
    pub batch_requests_max: u32,
    /// Calls of one batch run at once (each on its own task, so a batch spreads over cores
    /// instead of running entry by entry as jsonrpsee does). Default 64. A batch made only
    /// of eth_sendRawTransaction calls is submitted whole instead (`raw_tx_batch`); the
    /// node's ingress queue bounds it.
    pub batch_parallelism_max: u32,
    /// Storage reads (state, blocks, receipts, logs) running at once. They run on the
    /// blocking thread pool, never on the async threads that carry P2P; past it they wait.
    /// Default 16.
    pub blocking_reads_in_flight_max: u32,
    /// eth_call / eth_estimateGas running at once, on the blocking pool; past it they wait.
    /// Default 2.
    pub evm_calls_in_flight_max: u32,
    /// Most gas one eth_call (or each run of an eth_estimateGas search) may use, whatever
    /// it asks; the block gas limit and the fork's per-transaction cap apply too.
    /// Default 50,000,000.
    pub call_gas_max: u64,
    /// Wall-clock limit of one eth_call, or of a whole eth_estimateGas search. Default 5 s.
    pub call_timeout_ms: u64,
    /// Widest `fromBlock..=toBlock` range eth_getLogs accepts. Default 10,000.
    pub get_logs_block_range_max: u64,
    /// Blocks whose receipts one eth_getLogs (or one filter poll) reads: every block for a
    /// query without address or topics, those whose bloom may match otherwise. Default
    /// 1,000.
    pub get_logs_blocks_read_max: u64,
    /// Most logs one eth_getLogs / eth_getFilterLogs returns before failing. Default 10,000.
    pub get_logs_results_max: usize,
    /// Estimated JSON bytes of the logs one eth_getLogs returns before failing.
    /// Default 8 MiB.
    pub get_logs_bytes_max: usize,
    /// Addresses one log filter (eth_getLogs, eth_newFilter, `logs` subscription) may list.
    /// Default 128.
    pub filter_addresses_max: usize,
    /// Alternatives one topic position of a log filter may list. Default 128.
    pub filter_topic_options_max: usize,
    /// Installed filters (all kinds, all clients). Default 4,096.
    pub filters_max: usize,
    /// Installed filters of one client (IP address). Default 512.
    pub filters_per_client_max: usize,
    /// A filter not polled for this long is removed. Default 5 minutes, like geth.
    pub filter_idle_timeout_ms: u64,
    /// WebSocket subscriptions per connection. Default 128.
    pub subscriptions_per_connection_max: u32,
    /// WebSocket subscriptions of all connections together. Default 2,048.
    pub subscriptions_max: usize,
    /// Committed blocks buffered for subscribers; a subscriber that falls further behind
    /// reads the missed blocks back from storage. Default 16.
    pub block_feed_blocks_max: usize,
    /// Most blocks eth_feeHistory reports at once. Default 1,024, like geth.
    pub fee_history_blocks_max: u64,
    /// Most reward percentiles one eth_feeHistory may ask for. Default 100, like geth.
    pub fee_history_percentiles_max: usize,
    /// Listen address of the group admin server (`bcos_generateGroup`, `bcos_startGroup`,
    /// ...; see [`crate::admin`]). Default `None`: the admin server is off unless an operator
    /// enables it, because it changes what the node runs, and a fixed default port would
    /// collide when several nodes share a host (the usual test and demo set-up).
    pub admin_addr: Option<SocketAddr>,
    /// Let the admin server bind a non-loopback address. Default false: it has no
    /// authentication, so only local users should reach it.
    pub admin_allow_non_loopback: bool,
    /// Largest admin request body. Default 1 MiB (a group description with a genesis
    /// allocation of a few thousand accounts).
    pub admin_max_request_body_bytes: u32,
    /// Open TCP connections to the admin server; past it new ones are closed at once. Each
    /// connection runs at most one admin call at a time (HTTP/1.1, batches refused), so
    /// this also bounds the admin calls running at once. Default 4.
    pub admin_max_connections: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_body_bytes: 2 * 1024 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_connections: 128,
            connections_per_ip_max: 32,
            requests_in_flight_max: 64,
            requests_per_ip_in_flight_max: 16,
            requests_per_connection_in_flight_max: 4,
            write_timeout_ms: 30_000,
            header_read_timeout_ms: 30_000,
            ws_message_buffer_max: 16,
            batch_requests_max: 10_000,
            batch_parallelism_max: 64,
            blocking_reads_in_flight_max: 16,
            evm_calls_in_flight_max: 2,
            call_gas_max: 50_000_000,
            call_timeout_ms: 5_000,
            get_logs_block_range_max: 10_000,
            get_logs_blocks_read_max: 1_000,
            get_logs_results_max: 10_000,
            get_logs_bytes_max: 8 * 1024 * 1024,
            filter_addresses_max: 128,
            filter_topic_options_max: 128,
            filters_max: 4_096,
            filters_per_client_max: 512,
            filter_idle_timeout_ms: 5 * 60 * 1000,
            subscriptions_per_connection_max: 128,
            subscriptions_max: 2_048,
            block_feed_blocks_max: 16,
            fee_history_blocks_max: 1_024,
            fee_history_percentiles_max: 100,
            admin_addr: None,
            admin_allow_non_loopback: false,
            admin_max_request_body_bytes: 1024 * 1024,
            admin_max_connections: 4,
        }
    }
}
