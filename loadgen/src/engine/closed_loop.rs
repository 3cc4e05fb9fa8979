//! Closed loop: keep `concurrency` transactions in flight (sent, neither committed nor
//! refused). A sender reserves a whole batch of slots before claiming transactions, so the
//! threads together never exceed the limit; latency counts from the actual send time, which
//! in a closed loop is when the slot became free. Over several groups each group has its own
//! slots (its share of the concurrency), claim counter and senders.

use super::send::Sender;
use super::{Shared, UNSET};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Longest a sender waits for a free slot before re-checking `stop`.
const WAIT_SLICE_MS: u64 = 5;

/// One sender of group `group`: keeps that group's `concurrency` slots filled.
pub fn run_sender(
    shared: &Shared,
    group: usize,
    concurrency: usize,
    batch_max: usize,
    sender: &mut Sender,
) -> anyhow::Result<()> {
    let t = &shared.timing;
    let g = &shared.groups[group];
    let in_flight = &t.in_flight[group];
    let batch = batch_max.min(concurrency).max(1);
    let n = g.range.len();
    while !shared.stop.load(Ordering::Relaxed) {
        let before = in_flight.fetch_add(batch as i64, Ordering::Relaxed);
        if before + batch as i64 > concurrency as i64 {
            in_flight.fetch_sub(batch as i64, Ordering::Relaxed);
            t.wait_change(Duration::from_millis(WAIT_SLICE_MS));
            continue;
        }
        let start = g.next.fetch_add(batch, Ordering::Relaxed);
        let end = (start + batch).min(n);
        if end < start + batch {
            in_flight.fetch_sub((start + batch - end.max(start)) as i64, Ordering::Relaxed);
        }
        if start >= n {
            let _ = shared.ran_out_ns.compare_exchange(
                UNSET,
                t.now_ns(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            break;
        }
        let range = g.range.start + start..g.range.start + end;
        let now = t.now_ns();
        t.mark_sent(range.clone(), |_| now);
        sender.send(shared, range)?;
    }
    Ok(())
}
