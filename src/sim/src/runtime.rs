//! The simulator's side of the drivers' runtime seam (`bcos_node::runtime`): a virtual clock,
//! a transport that only queues frames (the simulator delivers them as events, through its
//! faulty network), and a durable record in memory that survives a simulated crash exactly
//! as far as a correct driver made it durable (`store` returns only when the record is
//! "on disk", so a crash can only fall before or after a store, never inside one).

use alloy_primitives::bytes::Bytes;
use bcos_node::runtime::{Clock, Durable, Transport};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Wall time (seconds since the epoch) at virtual time 0: block timestamps start here.
pub const WALL_EPOCH_S: u64 = 1_750_000_000;

/// Virtual time of the whole run, in ms; only the simulator's loop moves it.
#[derive(Debug, Default)]
pub struct VirtualTime(AtomicU64);

impl VirtualTime {
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Moves time forward (never back).
    pub fn advance_to(&self, ms: u64) {
        self.0.fetch_max(ms, Ordering::Relaxed);
    }
}

/// One node's clock: virtual time plus the node's own skew (it runs ahead by `skew_ms`).
pub struct NodeClock {
    pub time: Arc<VirtualTime>,
    pub skew_ms: u64,
}

impl Clock for NodeClock {
    fn now_ms(&self) -> u64 {
        self.time.now_ms().saturating_add(self.skew_ms)
    }

    fn wall_s(&self) -> u64 {
        WALL_EPOCH_S + self.now_ms() / 1_000
    }
}

/// Where a frame goes: one peer, or every other member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    To(u32),
    All,
}

/// Frames a node's driver (and its inline sync server) sent during one step.
#[derive(Default)]
pub struct Outbox(Mutex<Vec<(Dest, Bytes)>>);

impl Outbox {
    pub fn take(&self) -> Vec<(Dest, Bytes)> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// The transport a simulated driver sends through.
pub struct SimTransport(pub Arc<Outbox>);

impl Transport for SimTransport {
    fn send(&self, to: u32, frame: Bytes) -> bool {
        self.0 .0.lock().push((Dest::To(to), frame));
        true
    }

    fn broadcast(&self, frame: Bytes) {
        self.0 .0.lock().push((Dest::All, frame));
    }
}

/// The consensus record: shared with the node's slot in the simulator, so it outlives the
/// driver that wrote it.
#[derive(Clone, Default)]
pub struct MemDurable(pub Arc<Mutex<Option<Vec<u8>>>>);

impl Durable for MemDurable {
    fn load(&self) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().clone())
    }

    fn store(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        *self.0.lock() = Some(bytes.to_vec());
        Ok(())
    }
}
