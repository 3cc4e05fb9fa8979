//! The drivers' timers: a core's `SetTimer { timer, ticks }` (1 tick = 1 ms) becomes a
//! deadline; `CancelTimer` drops it; the event loop sleeps until the earliest one.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

pub struct Timers<T> {
    deadlines: HashMap<T, Instant>,
}

impl<T: Copy + Eq + Hash> Timers<T> {
    pub fn new() -> Self {
        Timers {
            deadlines: HashMap::new(),
        }
    }

    /// Arms (or re-arms) `timer` to fire `ticks` ms from now.
    pub fn set(&mut self, timer: T, ticks: u64) {
        self.deadlines
            .insert(timer, Instant::now() + Duration::from_millis(ticks));
    }

    pub fn cancel(&mut self, timer: &T) {
        self.deadlines.remove(timer);
    }

    /// The earliest deadline, or `otherwise` when none is armed.
    pub fn next_deadline(&self, otherwise: Instant) -> Instant {
        self.deadlines
            .values()
            .copied()
            .min()
            .unwrap_or(otherwise)
            .min(otherwise)
    }

    /// Removes and returns the timers whose deadline has passed.
    pub fn take_due(&mut self) -> Vec<T> {
        let now = Instant::now();
        let due: Vec<T> = self
            .deadlines
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in &due {
            self.deadlines.remove(t);
        }
        due
    }
}

impl<T: Copy + Eq + Hash> Default for Timers<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_fire_once_and_cancelled_ones_never() {
        let mut t = Timers::new();
        t.set(1u8, 0);
        t.set(2u8, 0);
        t.set(3u8, 60_000);
        t.cancel(&2);
        assert_eq!(t.take_due(), vec![1]);
        assert!(t.take_due().is_empty());
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(t.next_deadline(later) < later);
        t.cancel(&3);
        assert_eq!(t.next_deadline(later), later);
    }
}
