//! Groups: one node process serves several chains on one port, each an ordinary Ethereum
//! endpoint at `/g/<group>` (`/` is group 0), over HTTP and WebSocket.
//!
//! Routing is per HTTP request, before jsonrpsee: a keep-alive connection may address
//! different groups in turn, and a WebSocket upgrade is routed by its path like any other
//! request. Every group has its own method table (its own `Ctx`: filters, subscription
//! count, blocking pools), so nothing one group's clients do is visible to another's; the
//! connection accounting of `conn` (admission, meters, permits) stays server-wide, because
//! the router runs inside each connection's service, after `conn` has admitted the socket
//! and inserted its meter.
//!
//! The set of groups changes at run time ([`GroupTable::add`], [`GroupTable::remove`]). A
//! removed group's path answers 404 from the next request on. Each group has its own
//! jsonrpsee stop channel: removing a group, or stopping the server, closes the WebSocket
//! connections open to that group (they end gracefully: calls in flight are answered, then
//! a close frame is sent), so nothing keeps a removed group's node side (and its database)
//! alive for longer than its calls in flight. HTTP requests already being handled finish.

use crate::api::ChainApi;
use crate::config::RpcConfig;
use crate::errors::{RpcError, GROUP_NOT_FOUND};
use crate::pages::MetricsSource;
use crate::raw_tx_batch::RawTxIntake;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{
    stop_channel, HttpBody, HttpRequest, HttpResponse, ServerHandle, StopHandle, TowerService,
    TowerServiceBuilder,
};
use jsonrpsee::Methods;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The group a request path addresses: `/` and `/g/0` are group 0, `/g/<n>` (decimal, no
/// sign, no leading zero, so each group has one URL; an optional trailing slash) is group
/// `n`. `None` for any other path, and for a number past `u32::MAX`.
pub(crate) fn group_of_path(path: &str) -> Option<u32> {
    if path == "/" {
        return Some(0);
    }
    let digits = path.strip_prefix("/g/")?;
    let digits = digits.strip_suffix('/').unwrap_or(digits);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    digits.bytes().try_fold(0u32, |n, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// One served group: its method table, and the stop channel of its connections.
struct Group {
    methods: Methods,
    /// Handed to the middleware with each request (`raw_tx_batch`).
    intake: RawTxIntake,
    stop: StopHandle,
    handle: ServerHandle,
}

#[derive(Default)]
struct State {
    /// Set once the server stops: no group is added after that.
    stopped: bool,
    live: BTreeMap<u32, Group>,
    /// Stop handles of removed groups whose WebSocket connections may still be closing,
    /// so [`GroupTable::stopped`] can wait for them; pruned as they finish.
    retired: Vec<ServerHandle>,
}

/// The groups one server serves, shared by its [`crate::RpcHandle`]s and its connections.
pub(crate) struct GroupTable {
    config: RpcConfig,
    state: Mutex<State>,
    /// What `GET /metrics` renders (`pages`); none until the node installs it.
    metrics: Mutex<Option<MetricsSource>>,
}

impl std::fmt::Debug for GroupTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupTable")
            .field("groups", &self.list())
            .finish()
    }
}

impl GroupTable {
    pub(crate) fn new(config: RpcConfig) -> Arc<Self> {
        Arc::new(GroupTable {
            config,
            state: Mutex::new(State::default()),
            metrics: Mutex::new(None),
        })
    }

    /// Builds `group`'s method table over `api` and serves it from the next request on.
    pub(crate) fn add(&self, group: u32, api: Arc<dyn ChainApi>) -> Result<(), RpcError> {
        if self.state.lock().live.contains_key(&group) {
            return Err(RpcError::GroupExists(group));
        }
        // Built outside the lock: requests to other groups do not wait for it.
        let intake = RawTxIntake(api.clone());
        let methods: Methods = crate::server::build_module(&self.config, api)?.into();
        let (stop, handle) = stop_channel();
        let mut state = self.state.lock();
        if state.stopped {
            return Err(RpcError::Stopped);
        }
        if state.live.contains_key(&group) {
            return Err(RpcError::GroupExists(group));
        }
        state.live.insert(
            group,
            Group {
                methods,
                intake,
                stop,
                handle,
            },
        );
        Ok(())
    }

    /// Stops serving `group` (see the module docs); false if it was not served.
    pub(crate) fn remove(&self, group: u32) -> bool {
        let mut state = self.state.lock();
        let Some(removed) = state.live.remove(&group) else {
            return false;
        };
        let _already_stopped = removed.handle.stop();
        state.retired.retain(|h| !h.is_stopped());
        state.retired.push(removed.handle);
        true
    }

    /// Installs what `GET /metrics` answers from the next scrape on.
    pub(crate) fn set_metrics_source(&self, source: MetricsSource) {
        *self.metrics.lock() = Some(source);
    }

    /// The groups served now, in ascending order.
    pub(crate) fn list(&self) -> Vec<u32> {
        self.state.lock().live.keys().copied().collect()
    }

    /// What a request to `group` is served with, if the group is served.
    fn lookup(&self, group: u32) -> Option<(Methods, RawTxIntake, StopHandle)> {
        let state = self.state.lock();
        let g = state.live.get(&group)?;
        Some((g.methods.clone(), g.intake.clone(), g.stop.clone()))
    }

    /// The server stops: every group stops, and none is added any more. Idempotent.
    pub(crate) fn stop_all(&self) {
        let mut state = self.state.lock();
        state.stopped = true;
        let live = std::mem::take(&mut state.live);
        for (_, g) in live {
            let _already_stopped = g.handle.stop();
            state.retired.push(g.handle);
        }
    }

    /// Resolves once every stopped group's connections have closed.
    pub(crate) async fn stopped(&self) {
        let retired = std::mem::take(&mut self.state.lock().retired);
        for h in retired {
            h.stopped().await;
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

/// One connection's service: picks the group by each request's path and hands the request
/// to that group's jsonrpsee service; `/metrics` and `/browser/` are served first
/// (`pages`); answers 404 for any other path.
#[derive(Clone)]
pub(crate) struct GroupRouter<L, H> {
    table: Arc<GroupTable>,
    /// The server's jsonrpsee service builder: its configuration, RPC middleware and
    /// request guard are shared by every group.
    builder: TowerServiceBuilder<L, H>,
    /// The connection's jsonrpsee id, the same whichever group a request addresses.
    conn_id: u32,
}

impl<L, H> GroupRouter<L, H> {
    pub(crate) fn new(
        table: Arc<GroupTable>,
        builder: TowerServiceBuilder<L, H>,
        conn_id: u32,
    ) -> Self {
        GroupRouter {
            table,
            builder,
            conn_id,
        }
    }
}

impl<L, H, B> tower::Service<HttpRequest<B>> for GroupRouter<L, H>
where
    L: Clone,
    H: Clone,
    TowerService<L, H>: tower::Service<
        HttpRequest<B>,
        Response = HttpResponse,
        Error = BoxError,
        Future = BoxFuture,
    >,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture;

    /// Always ready: jsonrpsee's services are too (they bound work with their own guard).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: HttpRequest<B>) -> BoxFuture {
        let table = &self.table;
        if let Some(rp) = crate::pages::serve(req.method(), req.uri().path(), || {
            table.metrics.lock().clone()
        }) {
            return Box::pin(async move { Ok(rp) });
        }
        let Some(group) = group_of_path(req.uri().path()) else {
            let rp = not_found("not a JSON-RPC endpoint: use / or /g/<group>".to_owned());
            return Box::pin(async move { Ok(rp) });
        };
        let Some((methods, intake, stop)) = self.table.lookup(group) else {
            let rp = not_found(format!("this node does not serve group {group}"));
            return Box::pin(async move { Ok(rp) });
        };
        req.extensions_mut().insert(intake);
        let mut service = self
            .builder
            .clone()
            .connection_id(self.conn_id)
            .build(methods, stop);
        tower::Service::call(&mut service, req)
    }
}

/// HTTP 404 with a JSON-RPC error object (code [`GROUP_NOT_FOUND`]), so a JSON-RPC client
/// shows the reason rather than a bare status.
fn not_found(message: String) -> HttpResponse {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": GROUP_NOT_FOUND, "message": message },
    });
    let mut rp = HttpResponse::new(HttpBody::from(body.to_string()));
    *rp.status_mut() = hyper::StatusCode::NOT_FOUND;
    rp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    rp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_groups() {
        assert_eq!(group_of_path("/"), Some(0));
        assert_eq!(group_of_path("/g/0"), Some(0));
        assert_eq!(group_of_path("/g/0/"), Some(0));
        assert_eq!(group_of_path("/g/1"), Some(1));
        assert_eq!(group_of_path("/g/1/"), Some(1));
        assert_eq!(group_of_path("/g/4294967295"), Some(u32::MAX));
    }

    #[test]
    fn other_paths_are_no_group() {
        for p in [
            "",
            "/foo",
            "/g",
            "/g/",
            "/g//",
            "/g/x",
            "/g/-1",
            "/g/+1",
            "/g/01",
            "/g/1//",
            "/g/1/x",
            "/g/4294967296",
            "/g/99999999999999999999",
            "/g/999999999999999999999999999999",
            "//",
            "/G/1",
        ] {
            assert_eq!(group_of_path(p), None, "{p:?}");
        }
    }

    #[test]
    fn not_found_is_json_rpc() {
        let rp = not_found("this node does not serve group 7".into());
        assert_eq!(rp.status(), hyper::StatusCode::NOT_FOUND);
        assert_eq!(
            rp.headers()
                .get(hyper::header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }
}
