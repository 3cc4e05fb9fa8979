//! The event loop both consensus drivers run: wait for a peer message (from the per-peer
//! queues of the [`Inbox`]), pool work or the next deadline (a core timer or the status tick), handle it, then let the driver fire due
//! timers, announce its head and seal. Stops on `Event::Stop` or when every sender is gone.

use super::inbox::Inbox;
use super::wire::Wire;
use crate::runtime::Clock;
use std::time::Duration;

pub use super::inbox::Event;

/// The steps a driver supplies to [`run`].
pub trait Steps {
    /// When to wake even if nothing arrives.
    /// When to wake even if nothing arrives (the runtime clock's ms).
    fn next_deadline_ms(&self) -> u64;
    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()>;
    /// After every wake-up: due timers, status and sync, sealing.
    fn after_wake(&mut self) -> anyhow::Result<()>;
}

/// Runs `d` until stopped; an error from a step ends the loop.
pub fn run(d: &mut impl Steps, inbox: &Inbox, clock: &dyn Clock) -> anyhow::Result<()> {
    loop {
        let wait = Duration::from_millis(d.next_deadline_ms().saturating_sub(clock.now_ms()));
        match inbox.recv_timeout(wait) {
            Some(Event::Net(from, w)) => d.on_wire(from, w)?,
            Some(Event::Work) | None => {}
            Some(Event::Stop) => return Ok(()),
        }
        d.after_wake()?;
    }
}
