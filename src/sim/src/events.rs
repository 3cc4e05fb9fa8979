//! The event queue: every future happening of a run at its virtual time, popped in
//! (time, insertion) order, so equal times keep the order they were scheduled in and a run
//! replays exactly.

use alloy_primitives::bytes::Bytes;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
pub enum Event {
    /// A frame of `group` reaches node `to` (it left node `from` earlier).
    Deliver {
        group: u32,
        from: u32,
        to: u32,
        frame: Bytes,
    },
    /// A node's driver of `group` wants a step (its next deadline); stale if it
    /// rescheduled.
    Wake {
        group: u32,
        node: u32,
    },
    /// The client signs and submits a new transaction.
    Submit,
    /// The client resubmits transactions that have no receipt yet.
    Retry,
    /// A scheduled crash of a random live node (every group on it).
    Crash,
    /// A crashed node starts again (every group on it).
    Restart {
        node: u32,
    },
    PartitionStart,
    PartitionHeal,
    /// An isolation (a one-node partition after a decision or proposal) ends.
    Heal,
    /// The faulty phase ends: crashed nodes restart, partitions heal, the network calms.
    Quiet,
    /// Settlement runs: the settler looks at each user chain's proxy account.
    SettleTick,
    /// Settlement runs: relayer `relayer` does one round.
    RelayTick {
        relayer: u32,
    },
    /// Settlement runs: a settler's or relayer's transaction reaches node `node`'s RPC in
    /// group `group` (it left the client earlier, through the faulty client link).
    ClientTx {
        group: u32,
        node: u32,
        raw: bcos_types::Bytes,
    },
    /// Membership-change runs: the committee proposes step `step` of the plan
    /// ([`crate::world`]: remove the last node, then add it back).
    Govern {
        step: u32,
    },
}

impl Event {
    /// A small tag for the trace hash.
    pub fn tag(&self) -> u8 {
        match self {
            Event::Deliver { .. } => 1,
            Event::Wake { .. } => 2,
            Event::Submit => 3,
            Event::Retry => 4,
            Event::Crash => 5,
            Event::Restart { .. } => 6,
            Event::PartitionStart => 7,
            Event::PartitionHeal => 8,
            Event::Quiet => 9,
            Event::Heal => 10,
            Event::SettleTick => 11,
            Event::RelayTick { .. } => 12,
            Event::ClientTx { .. } => 13,
            Event::Govern { .. } => 14,
        }
    }
}

struct Entry {
    at_ms: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ms, self.seq).cmp(&(o.at_ms, o.seq))
    }
}

#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl EventQueue {
    pub fn push(&mut self, at_ms: u64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at_ms,
            seq: self.seq,
            event,
        }));
    }

    pub fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|Reverse(e)| (e.at_ms, e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_insertion() {
        let mut q = EventQueue::default();
        for (at, node) in [(5, 1), (3, 2), (5, 3), (3, 4)] {
            q.push(at, Event::Wake { group: 0, node });
        }
        let order: Vec<(u64, u32)> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| match e {
                Event::Wake { node, .. } => (t, node),
                _ => (t, 99),
            })
            .collect();
        assert_eq!(order, vec![(3, 2), (3, 4), (5, 1), (5, 3)]);
    }
}
