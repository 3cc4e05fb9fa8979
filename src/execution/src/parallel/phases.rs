//! Where a parallel block's time went ([`super::ParallelOptions::timed`]), for the benches
//! that ask why a block was not faster: the committing thread's steps, and the speculative
//! runs of every thread. Off, it reads no clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The committing thread's time by step, and the speculative runs of all threads, in one
/// block. The committing thread's steps add up to about the block's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases {
    /// The system contracts' block start and the overlay's setup.
    pub beginning_ns: u64,
    /// Transactions the committing thread ran itself: unclaimed at their turn, never
    /// speculated, not finished in time, or whose run failed validation.
    pub serial_ns: u64,
    /// Waiting for a run another thread was still making, less `speculating_ns`.
    pub waiting_ns: u64,
    /// Speculative runs the committing thread made while it waited.
    pub speculating_ns: u64,
    /// Checking runs' reads against the block's state (EXEC-R18).
    pub validating_ns: u64,
    /// Applying validated runs to the block's state (with their fees and the change
    /// tracker) and their receipts.
    pub applying_ns: u64,
    /// After the last transaction: the diff, and freeing the spent runs.
    pub finishing_ns: u64,
    /// Speculative runs made by all threads, and their time.
    pub runs: u64,
    pub runs_ns: u64,
}

/// Reads the clock only when timing is on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) on: bool,
}

impl Clock {
    pub(crate) fn start(self) -> Option<Instant> {
        self.on.then(Instant::now)
    }

    /// Adds the time since `start` (if the clock is on) to `total_ns`.
    pub(crate) fn stop(start: Option<Instant>, total_ns: &mut u64) {
        if let Some(start) = start {
            *total_ns = total_ns.saturating_add(elapsed_ns(start));
        }
    }
}

/// Speculative runs counted from every thread at once.
#[derive(Debug, Default)]
pub(crate) struct RunCounter {
    runs: AtomicU64,
    runs_ns: AtomicU64,
}

impl RunCounter {
    pub(crate) fn add(&self, start: Option<Instant>) {
        if let Some(start) = start {
            self.runs.fetch_add(1, Ordering::Relaxed);
            self.runs_ns.fetch_add(elapsed_ns(start), Ordering::Relaxed);
        }
    }

    pub(crate) fn write_to(&self, phases: &mut Phases) {
        phases.runs = self.runs.load(Ordering::Relaxed);
        phases.runs_ns = self.runs_ns.load(Ordering::Relaxed);
    }
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
