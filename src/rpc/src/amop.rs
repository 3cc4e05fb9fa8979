//! AMOP over WebSocket JSON-RPC (whitepaper §3.1; the node's router is `bcos_node::amop`):
//!
//! - `amop_subscribe(topic[, auth])` → a subscription; notifications `amop_subscription` carry
//!   `{kind: "message"|"request", id, topic, data}` (data 0x-hex). A private topic needs
//!   `auth = {address, nonce, signature}`: `nonce` from `amop_challenge(topic)`, signed by
//!   `address` as an EIP-191 personal message (`amop_auth_message`).
//! - `amop_publish(topic, data)` → how many subscribers (here) and nodes (elsewhere) it
//!   reached; `amop_request(topic, data[, timeout_ms])` → the answer's data;
//!   `amop_respond(request_id, data)` answers a request.

use crate::errors::{server_error, RpcResult};
use crate::server::Ctx;
use crate::ApiError;
use alloy_primitives::{Address, Bytes, B256};
use jsonrpsee::core::server::SubscriptionMessage;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Default of `amop_request`'s timeout.
pub const AMOP_REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// What a subscriber receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmopKind {
    Message,
    Request,
}

/// One notification. `budget` gives its bytes back to the router's bounds when dropped
/// (after it was sent, or with the subscription).
pub struct AmopEvent {
    pub kind: AmopKind,
    pub id: B256,
    pub topic: String,
    pub data: Bytes,
    pub budget: Box<dyn Send + Sync>,
}

#[derive(Serialize)]
struct Notification<'a> {
    kind: AmopKind,
    id: B256,
    topic: &'a str,
    data: &'a Bytes,
}

/// A private topic's proof of key: `signature` (65 bytes, r ‖ s ‖ v) by `address` over
/// [`amop_auth_message`]`(topic, nonce)`.
#[derive(Debug, Clone, Deserialize)]
pub struct AmopAuth {
    pub address: Address,
    pub nonce: B256,
    pub signature: Bytes,
}

/// The text a private topic's subscriber signs (as an EIP-191 personal message, what
/// `eth_sign`, ethers' `signMessage` and `cast wallet sign` produce).
pub fn amop_auth_message(topic: &str, nonce: &B256) -> String {
    format!("bcos amop subscribe {topic} {nonce}")
}

/// A live subscription: its events, and whatever keeps it registered (dropped: gone).
pub struct AmopFeed {
    pub events: tokio::sync::mpsc::Receiver<AmopEvent>,
    pub guard: Box<dyn Send + Sync>,
}

pub type AmopReply = Pin<Box<dyn Future<Output = Result<Bytes, ApiError>> + Send>>;

/// The node side of AMOP for one group.
pub trait AmopApi: Send + Sync {
    fn subscribe(&self, topic: &str, auth: Option<AmopAuth>) -> Result<AmopFeed, ApiError>;
    /// (local subscribers, other nodes) the message was handed to.
    fn publish(&self, topic: &str, data: Bytes) -> Result<(u64, u64), ApiError>;
    fn request(&self, topic: &str, data: Bytes, timeout: Duration) -> Result<AmopReply, ApiError>;
    fn respond(&self, id: B256, data: Bytes) -> Result<(), ApiError>;
    fn challenge(&self, topic: &str) -> Result<B256, ApiError>;
}

fn amop(c: &Ctx) -> Result<Arc<dyn AmopApi>, ErrorObjectOwned> {
    c.api
        .amop()
        .ok_or_else(|| server_error("AMOP is not served by this endpoint"))
}

/// Bad input -32602; no subscriber, a failed path, a timeout or a full bound -32000.
fn api_error(e: ApiError) -> ErrorObjectOwned {
    crate::errors::api_error(e)
}

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_subscription(
        "amop_subscribe",
        "amop_subscription",
        "amop_unsubscribe",
        |p, pending, c, _| async move {
            let mut seq = p.sequence();
            let topic: String = match seq.next() {
                Ok(t) => t,
                Err(e) => return pending.reject(e).await,
            };
            let auth: Option<AmopAuth> = match seq.optional_next() {
                Ok(a) => a,
                Err(e) => return pending.reject(e).await,
            };
            let router = match amop(&c) {
                Ok(r) => r,
                Err(e) => return pending.reject(e).await,
            };
            let subscription = match c.subscriptions.enter(&pending) {
                Ok(s) => s,
                Err(e) => return pending.reject(e).await,
            };
            let mut feed = match router.subscribe(&topic, auth) {
                Ok(f) => f,
                Err(e) => return pending.reject(api_error(e)).await,
            };
            let Ok(sink) = pending.accept().await else {
                return;
            };
            let forward = async move {
                loop {
                    let event = tokio::select! {
                        _ = sink.closed() => break,
                        e = feed.events.recv() => match e {
                            Some(e) => e,
                            None => break,
                        },
                    };
                    let note = Notification {
                        kind: event.kind,
                        id: event.id,
                        topic: &event.topic,
                        data: &event.data,
                    };
                    let Ok(raw) = serde_json::value::to_raw_value(&note) else {
                        continue;
                    };
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        break;
                    }
                }
            };
            // The feed (and the router's subscription in it) goes before the slot.
            subscription.serve(forward).await;
        },
    )?;
    crate::subscriptions::register_unsubscribe(m, "amop_unsubscribe")?;
    m.register_method("amop_challenge", |p, c, _| -> RpcResult<B256> {
        let topic: String = p.one()?;
        amop(c)?.challenge(&topic).map_err(api_error)
    })?;
    m.register_method("amop_publish", |p, c, _| -> RpcResult<serde_json::Value> {
        let (topic, data): (String, Bytes) = p.parse()?;
        let (subscribers, nodes) = amop(c)?.publish(&topic, data).map_err(api_error)?;
        Ok(serde_json::json!({ "subscribers": subscribers, "nodes": nodes }))
    })?;
    m.register_method("amop_respond", |p, c, _| -> RpcResult<bool> {
        let (id, data): (B256, Bytes) = p.parse()?;
        amop(c)?.respond(id, data).map_err(api_error)?;
        Ok(true)
    })?;
    m.register_async_method("amop_request", |p, c, _| async move {
        let mut seq = p.sequence();
        let topic: String = seq.next()?;
        let data: Bytes = seq.next()?;
        let timeout_ms: Option<u64> = seq.optional_next()?;
        let timeout = Duration::from_millis(timeout_ms.unwrap_or(AMOP_REQUEST_TIMEOUT_MS_DEFAULT));
        let reply = amop(&c)?
            .request(&topic, data, timeout)
            .map_err(api_error)?;
        reply.await.map_err(api_error)
    })?;
    Ok(())
}
