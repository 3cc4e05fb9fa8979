//! Server assembly: one jsonrpsee method table served over HTTP/1.1 and WebSocket on one
//! port, behind the node's own accept loop (`conn`) and middleware (`middleware`).

use crate::api::ChainApi;
use crate::blocking::Pools;
use crate::config::RpcConfig;
use crate::errors::RpcError;
use crate::filters::Filters;
use crate::middleware::ParallelBatch;
use crate::subscriptions::SubscriptionCount;
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, ServerConfig, ServerHandle};
use jsonrpsee::{server::Server, RpcModule};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Shared state of every handler.
pub struct Ctx {
    pub api: Arc<dyn ChainApi>,
    pub config: RpcConfig,
    pub filters: Filters,
    /// Where storage reads and EVM calls run (off the async threads).
    pub pools: Pools,
    pub subscriptions: SubscriptionCount,
}

/// A running server.
#[derive(Debug, Clone)]
pub struct RpcHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl RpcHandle {
    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Asks the server to stop accepting and close connections; idempotent.
    pub fn stop(&self) {
        let _already_stopped = self.handle.stop();
    }
    /// Resolves once the server has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await
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
    reg(crate::eth_state::register(&mut module))?;
    reg(crate::eth_tx::register(&mut module))?;
    reg(crate::eth_block::register(&mut module))?;
    reg(crate::logs::register(&mut module))?;
    reg(crate::filters::register(&mut module))?;
    reg(crate::subscriptions::register(&mut module))?;
    Ok(module)
}

/// Binds `config.addr` and serves until [`RpcHandle::stop`]. Must run inside a tokio runtime.
pub async fn start(config: &RpcConfig, api: Arc<dyn ChainApi>) -> Result<RpcHandle, RpcError> {
    let module = build_module(config, api)?;
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
    let requests = Arc::new(Semaphore::new(config.requests_in_flight_max.max(1) as usize));
    let middleware = RpcServiceBuilder::new().layer_fn(move |service| ParallelBatch {
        service,
        parallelism,
        response_limit,
        requests: requests.clone(),
    });
    let addr = config.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RpcError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| RpcError::Bind { addr, source })?;
    let builder = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(middleware)
        .to_service_builder();
    let methods: jsonrpsee::Methods = module.into();
    let (stop, handle) = jsonrpsee::server::stop_channel();
    let per_connection = stop.clone();
    let make_service = move || {
        builder
            .clone()
            .build(methods.clone(), per_connection.clone())
    };
    tokio::spawn(crate::conn::accept_loop(
        listener,
        config.clone(),
        stop,
        make_service,
    ));
    tracing::info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcHandle { local_addr, handle })
}
