//! The small runtime the consensus drivers are written against (DESIGN.md "One core, three
//! drivers"; issue 12): a clock, a transport, a durable record and the block-sync server.
//! The node's implementations are here (monotonic `Instant`, wall time, the TLS network,
//! an fsynced file, a serving thread); the simulator (`bcos-sim`) supplies virtual ones, so
//! the same driver code runs under a seeded, single-threaded simulation.
//!
//! A driver never reads `Instant::now`, `SystemTime::now`, sockets or files itself, and
//! never spawns a thread: it is stepped by whoever owns it.

use alloy_primitives::bytes::Bytes;
use bcos_types::Height;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic milliseconds (timers, timeouts) and wall-clock seconds (block timestamps).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
    fn wall_s(&self) -> u64;
}

/// Frames to peers (the receiving side pushes into the driver's `on_wire`, with the sender
/// authenticated by whoever carries the frames).
pub trait Transport: Send + Sync {
    /// Queues a frame for `to`; false when it could not be queued (the protocols recover
    /// a lost message by retransmission, view change or sync).
    fn send(&self, to: u32, frame: Bytes) -> bool;
    fn broadcast(&self, frame: Bytes);
}

/// One durable record (the consensus core's `Output::Persist`): `store` returns only once
/// the bytes survive a crash, `load` returns what was last stored.
pub trait Durable: Send {
    fn load(&self) -> anyhow::Result<Option<Vec<u8>>>;
    fn store(&mut self, bytes: &[u8]) -> anyhow::Result<()>;
}

/// Answers block-sync requests (off the consensus thread in the node, inline in the
/// simulator), within per-peer budgets.
pub trait SyncServe: Send {
    fn offer(&self, peer: u32, start: Height, count: u64);
}

/// What a consensus driver runs on.
pub struct DriverRuntime {
    pub net: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    /// The core's durable record.
    pub durable: Box<dyn Durable>,
    /// The bodies of blocks the durable record names but the store does not hold yet (Raft:
    /// uncommitted entries this node proposed or acknowledged), so that a restarted node can
    /// still send them.
    pub bodies: Box<dyn Durable>,
    pub sync_server: Box<dyn SyncServe>,
}

/// The system clock: monotonic from the moment it was made.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn wall_s(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The clock of the node process (one per process; cheap to clone).
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock::new())
}

// The TLS P2P network's transport is per group: `crate::groups::transport::GroupTransport`.

/// A durable record in a file, replaced atomically ([`crate::cluster::durable::DurableFile`]).
pub struct FileDurable(pub crate::cluster::durable::DurableFile);

impl Durable for FileDurable {
    fn load(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.0.load_bytes()
    }

    fn store(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.0.store_bytes(bytes)
    }
}

/// A node without peers (solo): nothing to send, no record to keep, no one to serve.
pub struct Alone;

impl Transport for Alone {
    fn send(&self, _to: u32, _frame: Bytes) -> bool {
        false
    }

    fn broadcast(&self, _frame: Bytes) {}
}

impl Durable for Alone {
    fn load(&self) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn store(&mut self, _bytes: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }
}

impl SyncServe for Alone {
    fn offer(&self, _peer: u32, _start: Height, _count: u64) {}
}

impl DriverRuntime {
    /// The runtime of a single node: its clock and nothing else.
    pub fn alone(clock: Arc<dyn Clock>) -> Self {
        DriverRuntime {
            net: Arc::new(Alone),
            clock,
            durable: Box::new(Alone),
            bodies: Box::new(Alone),
            sync_server: Box::new(Alone),
        }
    }
}

/// Decodes a durable record stored as JSON.
pub fn load_json<T: serde::de::DeserializeOwned>(d: &dyn Durable) -> anyhow::Result<Option<T>> {
    match d.load()? {
        None => Ok(None),
        Some(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("the consensus record is damaged: {e}")
            })?))
        }
    }
}

/// Stores a durable record as JSON.
pub fn store_json<T: serde::Serialize>(d: &mut dyn Durable, value: &T) -> anyhow::Result<()> {
    d.store(&serde_json::to_vec(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_monotonic_and_wall_time_is_recent() {
        let c = SystemClock::new();
        let a = c.now_ms();
        let b = c.now_ms();
        assert!(b >= a);
        assert!(c.wall_s() > 1_700_000_000);
    }
}
