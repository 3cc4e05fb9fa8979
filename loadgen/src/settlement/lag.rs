//! Settlement lag: how long a payment, once committed on its user chain, waits until the
//! record that holds it is credited on the merchant chain. Both ends are times loadgen took
//! (ns since the level's epoch): the commit tracker's when it first saw the payment's block,
//! the [`super::monitor`]'s when it first saw the merchant chain's `creditedSeq` reach the
//! record.
//!
//! Which record holds a payment: a record takes the proxy's whole balance when its
//! `settle()` runs (XS-R2), so a payment at position (block b, transaction index i) is in the
//! first record made after it — the first `Settlement` log at a position after (b, i). Where
//! the node gives no transaction index for a log, the record counts as made after every
//! transaction of its block (the rule "the first record with record.block ≥ b").

use crate::results::LatencySummary;
use std::collections::BTreeMap;

/// One payment committed on a user chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub block: u64,
    /// Its index in the block's transactions.
    pub index: u32,
    /// When loadgen saw it committed (ns since the level's epoch).
    pub committed_ns: u64,
}

/// A settlement record of a user chain and where it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub block: u64,
    /// The `settle()` transaction's index in its block, when the log says.
    pub index: Option<u32>,
}

impl Record {
    fn position(&self) -> (u64, u64) {
        (self.block, self.index.map_or(u64::MAX, u64::from))
    }
}

/// The lags of the payments whose record was seen credited, and how many were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lags {
    pub lags_ns: Vec<u64>,
    /// Payments with no record after them, or whose record was not seen credited.
    pub uncredited: u64,
}

/// When each record was first seen credited (ns), from the monitor's observations of
/// `creditedSeq`: `(credited_seq, ns)` in the order seen, starting from `base_seq` (credited
/// before the level). Records are credited in order (XS-S1), so seeing `creditedSeq` go from
/// k to k' at t credits k+1..=k' at t.
pub fn credit_times(base_seq: u64, seen: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    let mut last = base_seq;
    for &(seq, ns) in seen {
        for s in last + 1..=seq {
            out.insert(s, ns);
        }
        last = last.max(seq);
    }
    out
}

/// The lag of every payment: (credit time of its record) − (its commit time).
pub fn lags(payments: &[Payment], records: &[Record], credited_ns: &BTreeMap<u64, u64>) -> Lags {
    let mut recs = records.to_vec();
    recs.sort_by_key(Record::position);
    let mut out = Lags::default();
    for p in payments {
        let at = (p.block, u64::from(p.index));
        let first = recs.partition_point(|r| r.position() <= at);
        match recs.get(first).and_then(|r| credited_ns.get(&r.seq)) {
            Some(&t) => out.lags_ns.push(t.saturating_sub(p.committed_ns)),
            None => out.uncredited += 1,
        }
    }
    out
}

/// Percentiles (nearest rank) of `values_ns`, in ms.
pub fn summary(values_ns: &[u64]) -> LatencySummary {
    if values_ns.is_empty() {
        return LatencySummary::default();
    }
    let mut v = values_ns.to_vec();
    v.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1] as f64 / 1e6
    };
    LatencySummary {
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn pay(block: u64, index: u32, committed_ms: u64) -> Payment {
        Payment {
            block,
            index,
            committed_ns: committed_ms * MS,
        }
    }

    fn rec(seq: u64, block: u64, index: Option<u32>) -> Record {
        Record { seq, block, index }
    }

    #[test]
    fn a_payment_is_in_the_first_record_made_after_it() {
        // Records 1..3 at blocks 10 (tx 5), 20 (tx 0), 30 (index unknown).
        let records = [rec(2, 20, Some(0)), rec(1, 10, Some(5)), rec(3, 30, None)];
        let credited = credit_times(0, &[(1, 1_000 * MS), (3, 2_500 * MS)]);
        let l = lags(
            &[
                pay(9, 0, 100),    // record 1
                pay(10, 4, 200),   // before settle() in block 10: record 1
                pay(10, 6, 300),   // after it: record 2 (block 20, tx 0)
                pay(20, 0, 400),   // is not settle() itself; after tx 0: record 3
                pay(30, 900, 500), // index unknown at block 30: record 3 (≥ b rule)
                pay(31, 0, 600),   // nothing made after it
            ],
            &records,
            &credited,
        );
        assert_eq!(
            l.lags_ns,
            [900 * MS, 800 * MS, 2_200 * MS, 2_100 * MS, 2_000 * MS]
        );
        assert_eq!(l.uncredited, 1);
    }

    #[test]
    fn an_uncredited_record_leaves_its_payments_uncredited() {
        let records = [rec(1, 5, Some(1)), rec(2, 8, Some(1))];
        let credited = credit_times(0, &[(1, 50 * MS)]);
        let l = lags(&[pay(4, 0, 10), pay(6, 0, 20)], &records, &credited);
        assert_eq!((l.lags_ns, l.uncredited), (vec![40 * MS], 1));
    }

    #[test]
    fn credit_times_fill_the_records_a_poll_skipped() {
        // Credited through 4 before the level; seen at 6 (t = 10), 6 again, then 9 (t = 30).
        let c = credit_times(4, &[(6, 10), (6, 20), (9, 30)]);
        let v: Vec<(u64, u64)> = c.into_iter().collect();
        assert_eq!(v, [(5, 10), (6, 10), (7, 30), (8, 30), (9, 30)]);
        assert!(credit_times(3, &[(2, 5)]).is_empty(), "never goes back");
    }

    #[test]
    fn percentiles_are_nearest_rank_in_ms() {
        let v: Vec<u64> = (1..=100).rev().map(|k| k * MS).collect();
        let s = summary(&v);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(summary(&[]), LatencySummary::default());
        assert_eq!(summary(&[7 * MS]).p99, 7.0);
    }
}
