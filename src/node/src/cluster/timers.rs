//! The drivers' timers: a core's `SetTimer { timer, ticks }` (1 tick = 1 ms of the
//! runtime's clock) becomes a deadline; `CancelTimer` drops it; the owner of the driver wakes
//! it at the earliest one.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Timers<T> {
    deadlines_ms: HashMap<T, u64>,
}

impl<T: Copy + Eq + Hash + Ord> Timers<T> {
    pub fn new() -> Self {
        Timers {
            deadlines_ms: HashMap::new(),
        }
    }

    /// Arms (or re-arms) `timer` to fire `ticks` ms after `now_ms`.
    pub fn set(&mut self, timer: T, ticks: u64, now_ms: u64) {
        self.deadlines_ms
            .insert(timer, now_ms.saturating_add(ticks));
    }

    pub fn cancel(&mut self, timer: &T) {
        self.deadlines_ms.remove(timer);
    }

    /// The earliest deadline, or `otherwise_ms` when none is earlier.
    pub fn next_deadline_ms(&self, otherwise_ms: u64) -> u64 {
        self.deadlines_ms
            .values()
            .copied()
            .min()
            .unwrap_or(otherwise_ms)
            .min(otherwise_ms)
    }

    /// Removes and returns the timers whose deadline has passed, in a fixed order (by
    /// deadline, then timer) so that a replay fires them alike.
    pub fn take_due(&mut self, now_ms: u64) -> Vec<T> {
        let mut due: Vec<(u64, T)> = self
            .deadlines_ms
            .iter()
            .filter(|(_, at)| **at <= now_ms)
            .map(|(t, at)| (*at, *t))
            .collect();
        due.sort();
        for (_, t) in &due {
            self.deadlines_ms.remove(t);
        }
        due.into_iter().map(|(_, t)| t).collect()
    }
}

impl<T: Copy + Eq + Hash + Ord> Default for Timers<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_fire_once_in_order_and_cancelled_ones_never() {
        let mut t = Timers::new();
        t.set(1u8, 5, 100);
        t.set(4u8, 0, 100);
        t.set(2u8, 0, 100);
        t.set(3u8, 60_000, 100);
        t.cancel(&2);
        assert_eq!(t.take_due(104), vec![4]);
        assert_eq!(t.take_due(105), vec![1]);
        assert!(t.take_due(105).is_empty());
        assert_eq!(t.next_deadline_ms(u64::MAX), 60_100);
        t.cancel(&3);
        assert_eq!(t.next_deadline_ms(7), 7);
    }
}
