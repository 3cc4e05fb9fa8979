//! AMOP (whitepaper §3.1): topic messaging between institutions over the chain's own
//! authenticated P2P network, per group, off the chain. Clients attach to any node over
//! WebSocket JSON-RPC (`bcos_rpc::amop`); the router here delivers to local subscribers and
//! to the peers that announced subscribers of the topic.
//!
//! - `config.rs`: `[amop]`, its bounds and private topics;
//! - `wire.rs`: the P2P messages;
//! - `router.rs`: subscribers, the peers' topics, publish, requests delivered and answered;
//! - `request.rs`: a request's retries across subscribers until answered or timed out;
//! - `private.rs`: private topics' challenge and signature check;
//! - `command.rs`: `bcos amop sub|pub|req|bench` (the client is `bcos_rpc::amop_client`).

pub mod command;
pub mod config;
pub mod private;
pub mod request;
pub mod router;
pub mod wire;

pub use config::{AmopConfig, PrivateTopic};
pub use router::{AmopNet, Router};

use bcos_rpc::amop::{AmopApi, AmopAuth, AmopFeed, AmopReply};
use bcos_rpc::ApiError;
use bcos_types::{Bytes, B256};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The RPC face of a group's router.
pub struct Amop(pub Arc<Router>);

impl AmopApi for Amop {
    fn subscribe(&self, topic: &str, auth: Option<AmopAuth>) -> Result<AmopFeed, ApiError> {
        self.0.subscribe(topic, auth)
    }

    fn publish(&self, topic: &str, data: Bytes) -> Result<(u64, u64), ApiError> {
        self.0.publish(topic, data)
    }

    fn request(&self, topic: &str, data: Bytes, timeout: Duration) -> Result<AmopReply, ApiError> {
        let max = self.0.cfg.request_timeout_ms_max;
        if timeout > Duration::from_millis(max) || timeout.is_zero() {
            return Err(ApiError::InvalidParams(format!(
                "an AMOP request's timeout is 1 to {max} ms"
            )));
        }
        if topic.is_empty() || topic.len() > self.0.cfg.topic_bytes_max {
            return Err(ApiError::InvalidParams(format!(
                "a topic is 1 to {} bytes",
                self.0.cfg.topic_bytes_max
            )));
        }
        if data.len() > self.0.cfg.data_bytes_max {
            return Err(ApiError::InvalidParams(format!(
                "AMOP data is at most {} bytes, not {}",
                self.0.cfg.data_bytes_max,
                data.len()
            )));
        }
        Ok(Box::pin(request::request(
            self.0.clone(),
            topic.to_string(),
            data,
            timeout,
        )))
    }

    fn respond(&self, id: B256, data: Bytes) -> Result<(), ApiError> {
        self.0.respond(id, data)
    }

    fn challenge(&self, topic: &str) -> Result<B256, ApiError> {
        self.0.challenge(topic)
    }
}

/// How often the node's one announcer thread looks for a router whose interval passed.
pub const AMOP_ANNOUNCE_TICK_MS: u64 = 50;

/// The routers the announcer serves (every group of every node in this process).
static ANNOUNCED: parking_lot::Mutex<(bool, Vec<Weak<Router>>)> =
    parking_lot::Mutex::new((false, Vec::new()));

/// Re-announces the router's topics every `announce_interval_ms` (a peer that restarted
/// or reconnected learns them within one interval) until the router is gone. One thread
/// serves every group, so groups do not each add a thread.
pub fn spawn_announcer(router: &Arc<Router>) -> std::io::Result<()> {
    let mut set = ANNOUNCED.lock();
    set.1.push(Arc::downgrade(router));
    if set.0 {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("amop-announce".into())
        .spawn(|| loop {
            let routers: Vec<Arc<Router>> = {
                let mut set = ANNOUNCED.lock();
                set.1.retain(|w| w.strong_count() > 0);
                set.1.iter().filter_map(Weak::upgrade).collect()
            };
            for r in routers {
                if r.announce_due() {
                    r.announce();
                }
            }
            std::thread::sleep(Duration::from_millis(AMOP_ANNOUNCE_TICK_MS));
        })?;
    set.0 = true;
    Ok(())
}
