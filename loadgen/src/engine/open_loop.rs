//! Open loop: transaction i is due at `i / rate` seconds after the level's epoch, whatever
//! happened to earlier ones. Each sender thread claims every due transaction not yet claimed
//! (up to a batch) and stamps it with its SCHEDULED time, so a sender that falls behind (a
//! slow batch, a descheduled thread) shows up as latency instead of silently lowering the
//! offered load — no coordinated omission.

use super::Timing;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The fixed-rate schedule shared by the sender threads (of one group). Positions are
/// those of the level's index: the schedule covers `offset..offset + count`, and its k-th
/// transaction is due at `k / rate`.
pub struct Schedule {
    rate_per_s: f64,
    offset: usize,
    count: usize,
    next: AtomicUsize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Send these now.
    Send(Range<usize>),
    /// Nothing due before this time (ns).
    WaitUntil(u64),
    /// Every transaction has been claimed.
    Done,
}

impl Schedule {
    pub fn new(rate_per_s: f64, count: usize) -> Schedule {
        Schedule::for_range(rate_per_s, 0..count)
    }

    /// The schedule of the transactions at `range` (one group's).
    pub fn for_range(rate_per_s: f64, range: Range<usize>) -> Schedule {
        Schedule {
            rate_per_s: rate_per_s.max(f64::MIN_POSITIVE),
            offset: range.start,
            count: range.len(),
            next: AtomicUsize::new(0),
        }
    }

    /// When transaction `i` (a position in the level's index) is due (ns after the epoch).
    pub fn scheduled_ns(&self, i: usize) -> u64 {
        self.local_ns(i - self.offset)
    }

    fn local_ns(&self, k: usize) -> u64 {
        (k as f64 * 1e9 / self.rate_per_s) as u64
    }

    /// Transactions due at `now_ns`: those with `scheduled_ns(i) <= now_ns`.
    pub fn due(&self, now_ns: u64) -> usize {
        let due = (now_ns as f64 * self.rate_per_s / 1e9).floor() as usize + 1;
        // Float rounding must never make a transaction due before its scheduled time.
        let mut due = due.min(self.count);
        while due > 0 && self.local_ns(due - 1) > now_ns {
            due -= 1;
        }
        due
    }

    /// Claims the due, unclaimed transactions (at most `batch_max`), as positions in the
    /// level's index.
    pub fn claim(&self, now_ns: u64, batch_max: usize) -> Claim {
        loop {
            let next = self.next.load(Ordering::Relaxed);
            if next >= self.count {
                return Claim::Done;
            }
            let due = self.due(now_ns);
            if due <= next {
                return Claim::WaitUntil(self.local_ns(next));
            }
            let end = due.min(next + batch_max.max(1));
            if self
                .next
                .compare_exchange(next, end, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return Claim::Send(self.offset + next..self.offset + end);
            }
        }
    }
}

/// Time as the sender loop sees it; tests substitute a fake.
pub trait Clock {
    fn now_ns(&self) -> u64;
    fn sleep_until(&self, ns: u64);
    fn timing(&self) -> &Timing;
}

/// The level's real clock.
pub struct RealClock<'a>(pub &'a Timing);

impl Clock for RealClock<'_> {
    fn now_ns(&self) -> u64 {
        self.0.now_ns()
    }
    fn sleep_until(&self, ns: u64) {
        let now = self.0.now_ns();
        if ns > now {
            std::thread::sleep(Duration::from_nanos(ns - now));
        }
    }
    fn timing(&self) -> &Timing {
        self.0
    }
}

/// Longest a sender sleeps before re-checking `stop`.
const SLEEP_SLICE_NS: u64 = 50_000_000;

/// One sender thread's loop: claim due transactions, stamp them with their scheduled times,
/// send; until the schedule is exhausted or `stop` is set.
pub fn run_sender<C: Clock>(
    schedule: &Schedule,
    clock: &C,
    batch_max: usize,
    stop: &AtomicBool,
    mut send: impl FnMut(Range<usize>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    while !stop.load(Ordering::Relaxed) {
        match schedule.claim(clock.now_ns(), batch_max) {
            Claim::Send(r) => {
                let timing = clock.timing();
                timing.in_flight[timing.group_of(r.start)]
                    .fetch_add(r.len() as i64, Ordering::Relaxed);
                timing.mark_sent(r.clone(), |i| schedule.scheduled_ns(i));
                send(r)?;
            }
            Claim::WaitUntil(t) => clock.sleep_until(t.min(clock.now_ns() + SLEEP_SLICE_NS)),
            Claim::Done => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::Instant;

    struct FakeClock {
        now: Cell<u64>,
        timing: Timing,
    }

    impl Clock for FakeClock {
        fn now_ns(&self) -> u64 {
            self.now.get()
        }
        fn sleep_until(&self, ns: u64) {
            self.now.set(self.now.get().max(ns));
        }
        fn timing(&self) -> &Timing {
            &self.timing
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn claims_follow_the_schedule() {
        let s = Schedule::new(1000.0, 10);
        assert_eq!(s.claim(0, 100), Claim::Send(0..1));
        assert_eq!(s.claim(MS / 2, 100), Claim::WaitUntil(MS));
        assert_eq!(s.claim(3 * MS, 2), Claim::Send(1..3));
        assert_eq!(s.claim(3 * MS, 100), Claim::Send(3..4));
        assert_eq!(s.claim(100 * MS, 100), Claim::Send(4..10));
        assert_eq!(s.claim(100 * MS, 100), Claim::Done);
    }

    #[test]
    fn a_group_schedule_claims_its_own_positions() {
        // Group 1 of a level: positions 10..14 at 500 tx/s (each group at rate/G).
        let s = Schedule::for_range(500.0, 10..14);
        assert_eq!(s.claim(0, 100), Claim::Send(10..11));
        assert_eq!(s.claim(MS, 100), Claim::WaitUntil(2 * MS));
        assert_eq!(s.scheduled_ns(12), 4 * MS);
        assert_eq!(s.claim(5 * MS, 100), Claim::Send(11..13));
        assert_eq!(s.claim(100 * MS, 100), Claim::Send(13..14));
        assert_eq!(s.claim(100 * MS, 100), Claim::Done);
    }

    #[test]
    fn latency_counts_from_the_scheduled_time_when_the_sender_stalls() {
        // 1000 tx/s, batches of 1; the batch of tx 2 stalls the sender for 50 ms.
        let clock = FakeClock {
            now: Cell::new(0),
            timing: Timing::new(10, Instant::now()),
        };
        let schedule = Schedule::new(1000.0, 10);
        let stop = AtomicBool::new(false);
        let mut actual_send = vec![0u64; 10];
        run_sender(&schedule, &clock, 1, &stop, |r| {
            actual_send[r.start] = clock.now.get();
            if r.start == 2 {
                clock.now.set(clock.now.get() + 50 * MS);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        // Txs 3..10 were due during the stall and went out late, one batch each.
        assert!(
            actual_send[3..].iter().all(|&t| t == 52 * MS),
            "{actual_send:?}"
        );
        // Every tx commits 5 ms after it was actually sent.
        for (i, &t) in actual_send.iter().enumerate() {
            clock.timing.mark_committed(std::iter::once(i), t + 5 * MS);
        }
        let lat: Vec<u64> = (0..10)
            .map(|i| {
                clock.timing.commit_ns[i].load(Ordering::Relaxed)
                    - clock.timing.send_ns[i].load(Ordering::Relaxed)
            })
            .collect();
        // From the schedule: tx 3 was due at 3 ms, sent at 52 ms, committed at 57 ms -> 54 ms,
        // not the 5 ms a since-send measurement would report.
        assert_eq!(lat[0], 5 * MS);
        assert_eq!(lat[2], 5 * MS);
        assert_eq!(lat[3], 54 * MS);
        assert_eq!(lat[9], 48 * MS);
        assert_eq!(clock.timing.sent.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn stop_ends_the_loop() {
        let clock = FakeClock {
            now: Cell::new(0),
            timing: Timing::new(1000, Instant::now()),
        };
        let schedule = Schedule::new(10.0, 1000);
        let stop = AtomicBool::new(false);
        let mut sent = 0;
        run_sender(&schedule, &clock, 10, &stop, |r| {
            sent += r.len();
            if sent >= 3 {
                stop.store(true, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent, 3);
    }
}
