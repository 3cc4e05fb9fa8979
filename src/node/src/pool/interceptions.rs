//! The admission interception journal (spec/governance.md REG-R5): a transaction the pool
//! refuses by a rule never reaches a block, so it leaves no receipt; each refusal is kept
//! here, numbered, for `bcos_getInterceptions` (and the warehouse) to read, beside the
//! `regtech` log line. In memory and bounded: the oldest entries go first, and a reader
//! that fell behind sees where the kept ones start.

use bcos_types::{Address, B256};
use parking_lot::Mutex;
use std::collections::VecDeque;

/// Interceptions kept at most (about 300 B each).
pub const INTERCEPTIONS_KEPT_MAX: usize = 4096;
/// Interceptions returned by one read at most.
pub const INTERCEPTIONS_PER_READ_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intercepted {
    /// Numbered from 0 in the order of refusal, since the node started.
    pub seq: u64,
    pub unix_ms: u64,
    /// The block the transaction would have gone into at the earliest.
    pub block: u64,
    pub tx: B256,
    pub from: Address,
    pub to: Option<Address>,
    pub rule: &'static str,
    pub reason: String,
}

#[derive(Default)]
pub struct InterceptionLog {
    inner: Mutex<(u64, VecDeque<Intercepted>)>,
}

impl InterceptionLog {
    pub fn record(&self, mut e: Intercepted) {
        let mut g = self.inner.lock();
        e.seq = g.0;
        g.0 += 1;
        if g.1.len() >= INTERCEPTIONS_KEPT_MAX {
            g.1.pop_front();
        }
        g.1.push_back(e);
    }

    /// Entries from `seq` on (at most [`INTERCEPTIONS_PER_READ_MAX`]), and the next seq to
    /// ask for.
    pub fn since(&self, seq: u64) -> (Vec<Intercepted>, u64) {
        let g = self.inner.lock();
        let out: Vec<Intercepted> =
            g.1.iter()
                .filter(|e| e.seq >= seq)
                .take(INTERCEPTIONS_PER_READ_MAX)
                .cloned()
                .collect();
        let next = out.last().map_or(g.0.max(seq).min(g.0), |e| e.seq + 1);
        (out, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Intercepted {
        Intercepted {
            seq: 0,
            unix_ms: 0,
            block: 1,
            tx: B256::repeat_byte(n),
            from: Address::ZERO,
            to: None,
            rule: "blacklist",
            reason: String::new(),
        }
    }

    #[test]
    fn the_journal_is_numbered_bounded_and_read_in_pages() {
        let log = InterceptionLog::default();
        for i in 0..(INTERCEPTIONS_KEPT_MAX + 10) {
            log.record(entry(i as u8));
        }
        let (first, next) = log.since(0);
        assert_eq!(first.len(), INTERCEPTIONS_PER_READ_MAX);
        assert_eq!(first[0].seq, 10, "the ten oldest gave way");
        assert_eq!(next, 10 + INTERCEPTIONS_PER_READ_MAX as u64);
        let end = (INTERCEPTIONS_KEPT_MAX + 10) as u64;
        let (rest, next) = log.since(end - 1);
        assert_eq!((rest.len(), next), (1, end));
        let (none, next) = log.since(end);
        assert_eq!((none.len(), next), (0, end));
    }
}
