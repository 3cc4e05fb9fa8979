//! Server assembly: one jsonrpsee server answering HTTP and WebSocket on the same port.
//!
//! jsonrpsee 0.26 runs the entries of a batch one after another on the connection's task
//! (`RpcService::batch` awaits each `call` in turn). A batch of hundreds of
//! `eth_sendRawTransaction` would then verify signatures on one core. [`ParallelBatch`]
//! replaces that: each call of a batch runs on its own tokio task, at most
//! `batch_parallelism_max` at once, and the answers are put back in request order. Single
//! calls also run on their own task, so a handler that panicked would cost only its own
//! request (the caller gets -32603), never the connection or the server.

use crate::api::ChainApi;
use crate::config::RpcConfig;
use crate::errors::RpcError;
use crate::filters::Filters;
use jsonrpsee::core::middleware::{
    Batch, BatchEntry, Notification, Request, RpcServiceBuilder, RpcServiceT,
};
use jsonrpsee::core::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::server::{BatchRequestConfig, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorCode, ErrorObject, Id};
use jsonrpsee::{server::Server, RpcModule};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of every handler.
pub struct Ctx {
    pub api: Arc<dyn ChainApi>,
    pub config: RpcConfig,
    pub filters: Filters,
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
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.subscriptions_per_connection_max)
        .set_batch_request_config(BatchRequestConfig::Limit(config.batch_requests_max))
        .set_id_provider(crate::subscriptions::HexIdProvider)
        .build();
    let parallelism = config.batch_parallelism_max.max(1) as usize;
    let response_limit = config.max_response_body_bytes as usize;
    let middleware = RpcServiceBuilder::new().layer_fn(move |service| ParallelBatch {
        service,
        parallelism,
        response_limit,
    });
    let addr = config.addr;
    let server = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(middleware)
        .build(addr)
        .await
        .map_err(|source| RpcError::Bind { addr, source })?;
    let local_addr = server
        .local_addr()
        .map_err(|source| RpcError::Bind { addr, source })?;
    let handle = server.start(module);
    tracing::info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcHandle { local_addr, handle })
}

/// See the module docs.
#[derive(Clone)]
pub struct ParallelBatch<S> {
    service: S,
    parallelism: usize,
    response_limit: usize,
}

fn owned_request(req: Request<'_>) -> Request<'static> {
    Request {
        jsonrpc: req.jsonrpc,
        id: req.id.into_owned(),
        method: Cow::Owned(req.method.into_owned()),
        params: req.params.map(|p| Cow::Owned(p.into_owned())),
        extensions: req.extensions,
    }
}

fn panicked(id: Id<'static>) -> MethodResponse {
    tracing::error!("JSON-RPC handler panicked");
    MethodResponse::error(id, ErrorObject::from(ErrorCode::InternalError))
}

impl<S> ParallelBatch<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Clone + Send + Sync + 'static,
{
    fn spawn_call(
        &self,
        req: Request<'_>,
    ) -> (Id<'static>, tokio::task::JoinHandle<MethodResponse>) {
        let req = owned_request(req);
        let id = req.id.clone();
        let service = self.service.clone();
        (id, tokio::spawn(async move { service.call(req).await }))
    }
}

impl<S> RpcServiceT for ParallelBatch<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let (id, task) = self.spawn_call(request);
        async move { task.await.unwrap_or_else(|_| panicked(id)) }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        enum Slot {
            Running(Id<'static>, tokio::task::JoinHandle<MethodResponse>),
            Done(MethodResponse),
        }
        let this = self.clone();
        async move {
            let mut out = BatchResponseBuilder::new_with_limit(this.response_limit);
            let mut in_flight: VecDeque<Slot> = VecDeque::new();
            let mut running = 0usize;
            let mut got_notification = false;
            let mut entries = batch.into_iter();
            loop {
                // Keep up to `parallelism` calls running ahead of the oldest unanswered one.
                while running < this.parallelism {
                    let Some(entry) = entries.next() else { break };
                    match entry {
                        Ok(BatchEntry::Call(req)) => {
                            let (id, task) = this.spawn_call(req);
                            in_flight.push_back(Slot::Running(id, task));
                            running += 1;
                        }
                        Ok(BatchEntry::Notification(n)) => {
                            got_notification = true;
                            this.service.notification(n).await;
                        }
                        Err(err) => {
                            let (err, id) = err.into_parts();
                            in_flight
                                .push_back(Slot::Done(MethodResponse::error(id.into_owned(), err)));
                        }
                    }
                }
                let Some(slot) = in_flight.pop_front() else {
                    break;
                };
                let rp = match slot {
                    Slot::Done(rp) => rp,
                    Slot::Running(id, task) => {
                        running -= 1;
                        task.await.unwrap_or_else(|_| panicked(id))
                    }
                };
                if let Err(too_big) = out.append(rp) {
                    return too_big;
                }
            }
            if out.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(out.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}
