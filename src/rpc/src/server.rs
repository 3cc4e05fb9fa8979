//! Server assembly: one listener serving HTTP/1.1 and WebSocket, behind the node's own
//! accept loop (`conn`) and middleware (`middleware`), routing each request to a group's
//! jsonrpsee method table by its path (`groups`).

use crate::api::ChainApi;
use crate::blocking::Pools;
use crate::config::RpcConfig;
use crate::errors::RpcError;
use crate::filters::Filters;
use crate::groups::{GroupRouter, GroupTable};
use crate::middleware::ParallelBatch;
use crate::subscriptions::SubscriptionCount;
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, ServerConfig, ServerHandle};
use jsonrpsee::{server::Server, RpcModule};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Shared state of one group's handlers (each group has its own; see `groups`).
pub struct Ctx {
    pub api: Arc<dyn ChainApi>,
    pub config: RpcConfig,
    pub filters: Filters,
    /// Where storage reads and EVM calls run (off the async threads).
    pub pools: Pools,
    pub subscriptions: SubscriptionCount,
}

/// A running server. Clones control the same server.
#[derive(Debug, Clone)]
pub struct RpcHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
    groups: Arc<GroupTable>,
}

impl RpcHandle {
    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Asks the server to stop accepting and close connections, every group's included;
    /// idempotent.
    pub fn stop(&self) {
        let _already_stopped = self.handle.stop();
        self.groups.stop_all();
    }
    /// Resolves once the server, and every connection of every group, has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await;
        self.groups.stopped().await;
    }
    /// Serves `group` over `api` at `/g/<group>` (and `/` for group 0) from the next request
    /// on, with its own method table and state. Fails if the group is already served or the
    /// server has stopped.
    pub fn add_group(&self, group: u32, api: Arc<dyn ChainApi>) -> Result<(), RpcError> {
        self.groups.add(group, api)
    }
    /// Stops serving `group`: later requests to it get HTTP 404, and WebSocket connections
    /// open to it are closed (gracefully: calls in flight are answered first). False if the
    /// group was not served.
    pub fn remove_group(&self, group: u32) -> bool {
        self.groups.remove(group)
    }
    /// Makes `GET /metrics` answer what `source` renders (Prometheus text format).
    pub fn set_metrics_source(&self, source: crate::MetricsSource) {
        self.groups.set_metrics_source(source);
    }
    /// The groups served now, in ascending order.
    pub fn groups(&self) -> Vec<u32> {
        self.groups.list()
    }
}

/// Builds the method table; separate from [`start`] so tests can list the methods.
pub fn build_module(
    config: &RpcConfig,
    api: Arc<dyn ChainApi>,
) -> Result<RpcModule<Ctx>, RpcError> {
    let ctx = Ctx {
        api,
        config: config.clone(),
        filters: Filters::new(config),
        pools: Pools::new(config),
        subscriptions: SubscriptionCount::new(config.subscriptions_max),
    };
    let mut module = RpcModule::new(ctx);
    let reg = |r: Result<(), jsonrpsee::core::RegisterMethodError>| {
        r.map_err(|e| RpcError::Register(e.to_string()))
    };
    reg(crate::bcos::register(&mut module))?;
    reg(crate::cns::register(&mut module))?;
    reg(crate::amop::register(&mut module))?;
    reg(crate::eth_state::register(&mut module))?;
    reg(crate::eth_tx::register(&mut module))?;
    reg(crate::eth_block::register(&mut module))?;
    reg(crate::logs::register(&mut module))?;
    reg(crate::filters::register(&mut module))?;
    reg(crate::subscriptions::register(&mut module))?;
    Ok(module)
}

/// Binds `config.addr` and serves `api` as group 0 until [`RpcHandle::stop`]. Must run
/// inside a tokio runtime.
pub async fn start(config: &RpcConfig, api: Arc<dyn ChainApi>) -> Result<RpcHandle, RpcError> {
    start_groups(config, vec![(0, api)]).await
}

/// Binds `config.addr` and serves each group at `/g/<group>` (group 0 also at `/`) until
/// [`RpcHandle::stop`]; groups come and go with [`RpcHandle::add_group`] and
/// [`RpcHandle::remove_group`]. Must run inside a tokio runtime.
pub async fn start_groups(
    config: &RpcConfig,
    groups: Vec<(u32, Arc<dyn ChainApi>)>,
) -> Result<RpcHandle, RpcError> {
    let table = GroupTable::new(config.clone());
    for (group, api) in groups {
        table.add(group, api)?;
    }
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        // `conn` admits TCP connections; jsonrpsee's own count (of requests being handled)
        // must never be the one that refuses first.
        .max_connections(config.max_connections.max(1))
        .max_subscriptions_per_connection(config.subscriptions_per_connection_max)
        .set_message_buffer_capacity(config.ws_message_buffer_max.max(1))
        .set_batch_request_config(BatchRequestConfig::Limit(config.batch_requests_max))
        .set_id_provider(crate::subscriptions::HexIdProvider)
        .build();
    let parallelism = config.batch_parallelism_max.max(1) as usize;
    let response_limit = config.max_response_body_bytes as usize;
    // Server-wide, shared by every group: the builder (and this middleware) is cloned.
    let requests = Arc::new(Semaphore::new(config.requests_in_flight_max.max(1) as usize));
    let middleware = RpcServiceBuilder::new().layer_fn(move |service| ParallelBatch {
        service,
        parallelism,
        response_limit,
        requests: requests.clone(),
    });
    let addr = config.addr;
    let (listener, local_addr) = crate::conn::bind(addr).await?;
    let builder = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(middleware)
        .to_service_builder();
    let (stop, handle) = jsonrpsee::server::stop_channel();
    // The server stops when asked, or when every RpcHandle is gone: its groups stop then.
    let watched = table.clone();
    let server_stop = stop.clone();
    tokio::spawn(async move {
        server_stop.shutdown().await;
        watched.stop_all();
    });
    let routed = table.clone();
    let conn_ids = AtomicU32::new(0);
    let make_service = move || {
        let conn_id = conn_ids.fetch_add(1, Ordering::Relaxed);
        GroupRouter::new(routed.clone(), builder.clone(), conn_id)
    };
    tokio::spawn(crate::conn::accept_loop(
        listener,
        config.clone(),
        stop,
        make_service,
    ));
    tracing::info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcHandle {
        local_addr,
        handle,
        groups: table,
    })
}
