//! The group admin server: a separate JSON-RPC listener (HTTP only) through which an
//! operator generates, starts, stops and removes the groups this node runs.
//!
//! It is apart from the public port because it changes what the node runs and has no
//! authentication: it binds loopback addresses only, unless `admin_allow_non_loopback`
//! says otherwise, and has its own small limits (`admin_max_request_body_bytes`,
//! `admin_max_connections`, batches refused), behind the same accept loop as the public
//! port (`conn`).
//!
//! The node side is [`GroupAdmin`]. Its calls may block for seconds (they open databases
//! and join threads), so each runs on tokio's blocking pool, never on the async threads
//! that carry P2P and the public RPC. Calls for one group are not serialized here: a
//! [`GroupAdmin`] that cannot start and stop one group at once must say so with an error.
//!
//! Methods (a group is a JSON number or a `0x` hex string; anything else is -32602):
//! `bcos_generateGroup(group, description)`, `bcos_startGroup(group)`,
//! `bcos_stopGroup(group)`, `bcos_removeGroup(group)`, `bcos_queryGroupStatus(group)`,
//! each answering the group's [`GroupStatus`], `bcos_getGroupList()`, answering every
//! group's, and `bcos_setFlowLog(group, on)`, switching a running group's flow log (answers
//! whether it was on).

use crate::api::{ApiError, JsonValue};
use crate::config::RpcConfig;
use crate::errors::{api_error, internal_error, invalid_params, RpcError, RpcResult};
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::Params;
use jsonrpsee::RpcModule;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a group's lifecycle looks like to an operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupStatus {
    pub group: u32,
    /// "created" (configured, never started), "running", "stopped" or "removed".
    pub status: String,
    pub chain_id: u64,
    pub consensus: String,
    pub members: Vec<u32>,
    /// The head block number while the group's chain is open.
    pub block_number: Option<u64>,
}

/// The node side of the admin server. Every call runs on the blocking pool.
pub trait GroupAdmin: Send + Sync + 'static {
    fn list(&self) -> Vec<GroupStatus>;
    fn status(&self, group: u32) -> Result<GroupStatus, ApiError>;
    /// Writes the group's config from a JSON description (chainId, consensus, members,
    /// genesis ...) on this node; does not start it.
    fn generate(&self, group: u32, description: JsonValue) -> Result<GroupStatus, ApiError>;
    fn start(&self, group: u32) -> Result<GroupStatus, ApiError>;
    fn stop(&self, group: u32) -> Result<GroupStatus, ApiError>;
    fn remove(&self, group: u32) -> Result<GroupStatus, ApiError>;
    /// Switches a running group's flow log on or off; answers whether it was on. A node
    /// without flow logs refuses.
    fn set_flow_log(&self, group: u32, on: bool) -> Result<bool, ApiError> {
        let _ = (group, on);
        Err(ApiError::InvalidParams("this node has no flow logs".into()))
    }
}

/// A running admin server. Clones control the same server.
#[derive(Debug, Clone)]
pub struct AdminHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl AdminHandle {
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

/// Binds `config.admin_addr` and serves the admin methods over `admin` until
/// [`AdminHandle::stop`]; `Ok(None)` when `admin_addr` is `None` (the admin server is off).
/// Refuses a non-loopback address unless `config.admin_allow_non_loopback`. Must run inside
/// a tokio runtime.
pub async fn start_admin(
    config: &RpcConfig,
    admin: Arc<dyn GroupAdmin>,
) -> Result<Option<AdminHandle>, RpcError> {
    let Some(addr) = config.admin_addr else {
        return Ok(None);
    };
    if !addr.ip().to_canonical().is_loopback() && !config.admin_allow_non_loopback {
        return Err(RpcError::AdminNotLoopback { addr });
    }
    let module = admin_module(admin)?;
    let server_config = ServerConfig::builder()
        .http_only()
        .max_request_body_size(config.admin_max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .max_connections(config.admin_max_connections.max(1))
        .set_batch_request_config(BatchRequestConfig::Disabled)
        .build();
    // The public port's accept loop, with the admin's own limits.
    let conn_config = RpcConfig {
        addr,
        max_request_body_bytes: config.admin_max_request_body_bytes,
        max_connections: config.admin_max_connections,
        connections_per_ip_max: config.admin_max_connections,
        requests_per_connection_in_flight_max: 1,
        ..config.clone()
    };
    let (listener, local_addr) = crate::conn::bind(addr).await?;
    let builder = Server::builder()
        .set_config(server_config)
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
        conn_config,
        stop,
        make_service,
    ));
    tracing::info!(%local_addr, "group admin server listening (HTTP)");
    Ok(Some(AdminHandle { local_addr, handle }))
}

struct AdminCtx(Arc<dyn GroupAdmin>);

/// A lifecycle call that takes only the group.
type GroupOp = fn(&dyn GroupAdmin, u32) -> Result<GroupStatus, ApiError>;

fn admin_module(admin: Arc<dyn GroupAdmin>) -> Result<RpcModule<AdminCtx>, RpcError> {
    let mut m = RpcModule::new(AdminCtx(admin));
    let reg = |r: Result<(), jsonrpsee::core::RegisterMethodError>| {
        r.map_err(|e| RpcError::Register(e.to_string()))
    };
    reg(register_group_op(&mut m, "bcos_startGroup", |a, g| {
        a.start(g)
    }))?;
    reg(register_group_op(&mut m, "bcos_stopGroup", |a, g| {
        a.stop(g)
    }))?;
    reg(register_group_op(&mut m, "bcos_removeGroup", |a, g| {
        a.remove(g)
    }))?;
    reg(register_group_op(
        &mut m,
        "bcos_queryGroupStatus",
        |a, g| a.status(g),
    ))?;
    reg(m
        .register_async_method("bcos_generateGroup", |p, c, _| async move {
            let [group, description] = positional::<2>(&p)?;
            let group = group_number(&group)?;
            if !description.is_object() {
                return Err(invalid_params(
                    "the group description must be a JSON object",
                ));
            }
            blocking(c, move |a| a.generate(group, description)).await
        })
        .map(|_| ()))?;
    reg(m
        .register_async_method("bcos_setFlowLog", |p, c, _| async move {
            let [group, on] = positional::<2>(&p)?;
            let group = group_number(&group)?;
            let Some(on) = on.as_bool() else {
                return Err(invalid_params(format!(
                    "invalid switch {on}: expected true or false"
                )));
            };
            blocking(c, move |a| a.set_flow_log(group, on)).await
        })
        .map(|_| ()))?;
    reg(m
        .register_async_method("bcos_getGroupList", |p, c, _| async move {
            let [] = positional::<0>(&p)?;
            blocking(c, |a| Ok(a.list())).await
        })
        .map(|_| ()))?;
    Ok(m)
}

fn register_group_op(
    m: &mut RpcModule<AdminCtx>,
    method: &'static str,
    op: GroupOp,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method(method, move |p, c, _| async move {
        let [group] = positional::<1>(&p)?;
        let group = group_number(&group)?;
        blocking(c, move |a| op(a, group)).await
    })?;
    Ok(())
}

/// Runs `f` on the blocking pool (see the module docs).
async fn blocking<T, F>(c: Arc<AdminCtx>, f: F) -> RpcResult<T>
where
    T: Send + 'static,
    F: FnOnce(&dyn GroupAdmin) -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || f(c.0.as_ref()))
        .await
        .map_err(|e| {
            tracing::error!(%e, "group admin call failed");
            internal_error("group admin call failed")
        })?
        .map_err(api_error)
}

/// Exactly `N` positional parameters (none given counts as an empty list).
fn positional<const N: usize>(p: &Params<'_>) -> RpcResult<[JsonValue; N]> {
    let items: Vec<JsonValue> = if p.as_str().is_none() {
        Vec::new()
    } else {
        p.parse()?
    };
    let got = items.len();
    items
        .try_into()
        .map_err(|_| invalid_params(format!("expected {N} parameters, got {got}")))
}

/// A group number: a JSON number, or a `0x` hex string, within `u32`.
fn group_number(v: &JsonValue) -> RpcResult<u32> {
    let n = match v {
        JsonValue::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        JsonValue::String(s) => s
            .strip_prefix("0x")
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok()),
        _ => None,
    };
    n.ok_or_else(|| {
        invalid_params(format!(
            "invalid group {v}: expected a number or 0x hex string within u32"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_numbers_are_numbers_or_hex_strings_within_u32() {
        assert_eq!(group_number(&json!(2)).ok(), Some(2));
        assert_eq!(group_number(&json!("0x2")).ok(), Some(2));
        assert_eq!(group_number(&json!("0xffffffff")).ok(), Some(u32::MAX));
        assert_eq!(group_number(&json!(4_294_967_295u64)).ok(), Some(u32::MAX));
        for bad in [
            json!(-1),
            json!(1.5),
            json!(4_294_967_296u64),
            json!("0x100000000"),
            json!("2"),
            json!("0x"),
            json!("0x+2"),
            json!("0xg"),
            json!(null),
            json!([2]),
            json!({"group": 2}),
        ] {
            let e = group_number(&bad).err();
            assert_eq!(e.map(|e| e.code()), Some(-32602), "{bad}");
        }
    }

    #[test]
    fn group_status_is_camel_case() {
        let s = GroupStatus {
            group: 1,
            status: "running".into(),
            chain_id: 20201,
            consensus: "pbft".into(),
            members: vec![0, 1],
            block_number: Some(5),
        };
        assert_eq!(
            serde_json::to_value(&s).ok(),
            Some(json!({"group": 1, "status": "running", "chainId": 20201,
                        "consensus": "pbft", "members": [0, 1], "blockNumber": 5}))
        );
    }
}
