//! The event loop both consensus drivers run: wait for a peer message (from the per-peer
//! queues of the [`Inbox`]), pool work or the next deadline (a core timer or the status tick), handle it, then let the driver fire due
//! timers, announce its head and seal. Stops on `Event::Stop` or when every sender is gone.

use super::inbox::Inbox;
use super::wire::Wire;
use std::time::Instant;

pub use super::inbox::Event;

/// The steps a driver supplies to [`run`].
pub trait Steps {
    /// When to wake even if nothing arrives.
    fn next_deadline(&self) -> Instant;
    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()>;
    /// After every wake-up: due timers, status and sync, sealing.
    fn after_wake(&mut self) -> anyhow::Result<()>;
}

/// Runs `d` until stopped; an error from a step ends the loop.
pub fn run(d: &mut impl Steps, inbox: &Inbox) -> anyhow::Result<()> {
    loop {
        let wait = d.next_deadline().saturating_duration_since(Instant::now());
        match inbox.recv_timeout(wait) {
            Some(Event::Net(from, w)) => d.on_wire(from, w)?,
            Some(Event::Work) | None => {}
            Some(Event::Stop) => return Ok(()),
        }
        d.after_wake()?;
    }
}
