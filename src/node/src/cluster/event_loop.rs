//! The event loop both consensus drivers run: wait for a peer message, pool work or the
//! next deadline (a core timer or the status tick), handle it, then let the driver fire due
//! timers, announce its head and seal. Stops on `Event::Stop` or when every sender is gone.

use super::wire::Wire;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

/// What wakes a driver thread.
pub enum Event {
    Net(u32, Wire),
    /// The pool may have work.
    Work,
    Stop,
}

/// The steps a driver supplies to [`run`].
pub trait Steps {
    /// When to wake even if nothing arrives.
    fn next_deadline(&self) -> Instant;
    fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()>;
    /// After every wake-up: due timers, status and sync, sealing.
    fn after_wake(&mut self) -> anyhow::Result<()>;
}

/// Runs `d` until stopped; an error from a step ends the loop.
pub fn run(d: &mut impl Steps, rx: &Receiver<Event>) -> anyhow::Result<()> {
    loop {
        let wait = d.next_deadline().saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Event::Net(from, w)) => d.on_wire(from, w)?,
            Ok(Event::Work) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        d.after_wake()?;
    }
}
