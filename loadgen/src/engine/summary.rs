//! What one level measured over its window [w0, w1): throughput from commit times inside the
//! window, latency (commit − send, in an HdrHistogram) of the transactions sent inside it.
//! Over several groups everything is of the aggregate (one index, one epoch), and the
//! committed count is also split by group.

use super::{Timing, REFUSED, UNSET};
use crate::results::LatencySummary;
use hdrhistogram::Histogram;
use std::sync::atomic::Ordering;

/// Largest latency the histogram holds (µs); longer ones are clamped to it.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Quantiles of the CDF handed to the report (after a linear 2 % grid up to 0.94).
const TAIL_QUANTILES: [f64; 6] = [0.95, 0.99, 0.995, 0.999, 0.9999, 1.0];

#[derive(Debug, Clone)]
pub struct Summary {
    pub window_s: f64,
    /// Sent inside the window.
    pub submitted: u64,
    /// Committed inside the window (whenever sent): the throughput numerator.
    pub committed: u64,
    /// Sent inside the window and refused, or not committed by the end of the drain.
    pub errors: u64,
    pub latency_ms: LatencySummary,
    pub latency_cdf: Vec<(f64, f64)>,
    /// Commits per second of the window.
    pub tps_timeline: Vec<f64>,
    /// `committed` by group (one entry for a single-group level).
    pub per_group_committed: Vec<u64>,
}

impl Summary {
    pub fn committed_tps(&self) -> f64 {
        self.committed as f64 / self.window_s
    }

    /// Each group's committed TPS over the window; they add up to [`Self::committed_tps`].
    pub fn per_group_committed_tps(&self) -> Vec<f64> {
        self.per_group_committed
            .iter()
            .map(|&c| c as f64 / self.window_s)
            .collect()
    }
}

pub fn summarize(t: &Timing, w0: u64, w1: u64) -> Summary {
    let window_ns = w1.saturating_sub(w0).max(1);
    let seconds = window_ns.div_ceil(1_000_000_000) as usize;
    let mut timeline = vec![0u64; seconds];
    let mut hist = Histogram::<u64>::new_with_bounds(1, LATENCY_US_MAX, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("sigfig 3 is valid"))
    });
    let (mut submitted, mut committed, mut errors) = (0u64, 0u64, 0u64);
    let mut per_group_committed = vec![0u64; t.groups().len()];
    for (g, range) in t.groups().iter().enumerate() {
        for i in range.clone() {
            let commit = t.commit_ns[i].load(Ordering::Relaxed);
            if commit < REFUSED && (w0..w1).contains(&commit) {
                per_group_committed[g] += 1;
            }
        }
    }
    for i in 0..t.len() {
        let send = t.send_ns[i].load(Ordering::Relaxed);
        let commit = t.commit_ns[i].load(Ordering::Relaxed);
        if commit < REFUSED && (w0..w1).contains(&commit) {
            committed += 1;
            timeline[((commit - w0) / 1_000_000_000) as usize] += 1;
        }
        if send == UNSET || !(w0..w1).contains(&send) {
            continue;
        }
        submitted += 1;
        if commit >= REFUSED {
            errors += 1;
        } else {
            hist.saturating_record((commit.saturating_sub(send) / 1_000).max(1));
        }
    }
    // The last second may be partial: scale it to a rate.
    let mut tps_timeline: Vec<f64> = timeline.iter().map(|&c| c as f64).collect();
    let last_ns = window_ns - (seconds as u64 - 1) * 1_000_000_000;
    if let Some(last) = tps_timeline.last_mut() {
        *last *= 1e9 / last_ns as f64;
    }
    Summary {
        window_s: window_ns as f64 / 1e9,
        submitted,
        committed,
        errors,
        latency_ms: latency_summary(&hist),
        latency_cdf: cdf(&hist),
        tps_timeline,
        per_group_committed,
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn latency_summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

fn cdf(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    // A 2 % grid below the first tail quantile, so the points stay sorted.
    (0..48)
        .map(|k| k as f64 * 0.02)
        .chain(TAIL_QUANTILES)
        .map(|q| (ms(h.value_at_quantile(q)), q))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const S: u64 = 1_000_000_000;

    #[test]
    fn window_counts_and_latency() {
        let t = Timing::new(4, Instant::now());
        // 0: sent before the window, committed inside it (counts for TPS, not latency).
        t.mark_sent(0..1, |_| S / 2);
        t.mark_committed(std::iter::once(0), S + 10);
        // 1: sent and committed inside, 20 ms.
        t.mark_sent(1..2, |_| 2 * S);
        t.mark_committed(std::iter::once(1), 2 * S + 20_000_000);
        // 2: sent inside, refused.
        t.mark_sent(2..3, |_| 2 * S);
        t.mark_refused(2);
        // 3: sent inside, never committed.
        t.mark_sent(3..4, |_| 2 * S);
        let s = summarize(&t, S, 3 * S);
        assert_eq!((s.submitted, s.committed, s.errors), (3, 2, 2));
        assert_eq!(s.tps_timeline, vec![1.0, 1.0]);
        assert!((s.latency_ms.p50 - 20.0).abs() < 0.1, "{:?}", s.latency_ms);
        assert_eq!(s.committed_tps(), 1.0);
        assert_eq!(s.per_group_committed, [2]);
    }

    #[test]
    fn commits_are_counted_per_group_and_in_aggregate() {
        // Group 0: positions 0..3, group 1: 3..5; window [1 s, 3 s).
        let t = Timing::grouped(&[3, 2], Instant::now());
        t.mark_sent(0..5, |_| S);
        t.mark_committed([0, 1].into_iter(), S + 100); // group 0, in the window
        t.mark_committed([2].into_iter(), 4 * S); // group 0, after the window
        t.mark_committed([3].into_iter(), 2 * S + 10); // group 1, in the window
        t.mark_refused(4); // group 1, refused
        let s = summarize(&t, S, 3 * S);
        assert_eq!(s.per_group_committed, [2, 1]);
        assert_eq!((s.submitted, s.committed, s.errors), (5, 3, 1));
        assert_eq!(s.per_group_committed_tps(), [1.0, 0.5]);
        // One timeline and one latency distribution for the aggregate.
        assert_eq!(s.tps_timeline, vec![2.0, 1.0]);
        let sum: f64 = s.per_group_committed_tps().iter().sum();
        assert!((sum - s.committed_tps()).abs() < 1e-9);
    }
}
