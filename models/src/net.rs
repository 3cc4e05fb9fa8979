//! The modelled network: the messages in flight as a sorted vector of 64-bit keys
//! (destination, source, interned message id), so that copying, hashing and comparing a
//! network is a memcpy-sized job. The messages themselves live in the model's table
//! ([`crate::intern`]).
//!
//! Three kinds (`--faults`): [`NetKind::Set`] (duplication and reordering: a message once
//! sent stays deliverable, any number of times, in any order — the kind safety runs use, as
//! it admits every delivery order the other two do), [`NetKind::Bag`] (reordering, each copy
//! delivered at most once) and [`NetKind::Fifo`] (per-pair FIFO, each copy once).

use bcos_consensus::NodeIndex;
use std::hash::{Hash, Hasher};

/// One message in flight: who sent it, to whom, and what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry<M> {
    pub src: NodeIndex,
    pub dst: NodeIndex,
    pub msg: M,
}

/// A message in flight as the network keeps it: `dst << 48 | src << 32 | entry id`.
pub type Key = u64;

pub fn key(src: NodeIndex, dst: NodeIndex, entry: u32) -> Key {
    (u64::from(dst) << 48) | (u64::from(src & 0xFFFF) << 32) | u64::from(entry)
}

pub fn key_dst(k: Key) -> NodeIndex {
    (k >> 48) as NodeIndex
}

pub fn key_src(k: Key) -> NodeIndex {
    ((k >> 32) & 0xFFFF) as NodeIndex
}

/// The interned entry a key names.
pub fn key_entry(k: Key) -> u32 {
    k as u32
}

/// How the network treats a message once sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetKind {
    /// Duplicating and reordering: a set of messages, none ever removed by a delivery.
    Set,
    /// Reordering, not duplicating: a multiset, a delivery removes one copy.
    Bag,
    /// FIFO per (sender, receiver) pair, not duplicating.
    Fifo,
}

/// The messages in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    kind: NetKind,
    /// Sorted for `Set` (distinct) and `Bag` (repeats adjacent); for `Fifo` sorted by
    /// (dst, src) and, within a pair, in send order.
    keys: Vec<Key>,
    /// Sum of the mixed keys (kept up to date by every change), so hashing a network is one
    /// write; FIFO mixes in each key's position in its channel.
    sum: u64,
}

impl Hash for Net {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.sum);
        state.write_usize(self.keys.len());
    }
}

/// Spreads a key (and its position in a FIFO channel) before keys are summed.
fn mix(k: u64, position: u64) -> u64 {
    let x = k ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn channel(k: Key) -> u64 {
    k >> 32
}

impl Net {
    pub fn new(kind: NetKind) -> Self {
        Net {
            kind,
            keys: Vec::new(),
            sum: 0,
        }
    }

    /// A copy with room for `extra` more messages (saves a reallocation per send).
    pub fn copy_with_room(&self, extra: usize) -> Net {
        let mut keys = Vec::with_capacity(self.keys.len() + extra);
        keys.extend_from_slice(&self.keys);
        Net {
            kind: self.kind,
            keys,
            sum: self.sum,
        }
    }

    pub fn kind(&self) -> NetKind {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The messages `dst` may receive now: every distinct one addressed to it (`Set`,
    /// `Bag`), or the head of each channel into it (`Fifo`).
    pub fn deliverable(&self, dst: NodeIndex, out: &mut Vec<Key>) {
        let lo = u64::from(dst) << 48;
        let start = self.keys.partition_point(|k| *k < lo);
        let mut last: Option<Key> = None;
        for k in self.keys[start..]
            .iter()
            .take_while(|k| key_dst(**k) == dst)
        {
            let skip = match (self.kind, last) {
                (NetKind::Bag, Some(prev)) => prev == *k,
                (NetKind::Fifo, Some(prev)) => channel(prev) == channel(*k),
                _ => false,
            };
            last = Some(*k);
            if !skip {
                out.push(*k);
            }
        }
    }

    /// Whether sending `k` would change nothing (a `Set` that already holds it).
    pub fn holds(&self, k: Key) -> bool {
        self.kind == NetKind::Set && self.keys.binary_search(&k).is_ok()
    }

    /// Removes one copy of `k` (a delivery in a non-duplicating network, or a loss).
    pub fn remove(&mut self, k: Key) {
        let pos = match self.kind {
            NetKind::Fifo => self.keys.iter().position(|x| *x == k),
            _ => self.keys.binary_search(&k).ok(),
        };
        if let Some(p) = pos {
            self.keys.remove(p);
            self.resum(k);
        }
    }

    /// Updates `sum` after `changed` was removed.
    fn resum(&mut self, changed: Key) {
        match self.kind {
            NetKind::Fifo => self.refifo(),
            _ => self.sum = self.sum.wrapping_sub(mix(changed, 0)),
        }
    }

    /// Recomputes a FIFO network's sum (positions within channels count).
    fn refifo(&mut self) {
        let mut sum = 0u64;
        let mut position = 0u64;
        for (i, k) in self.keys.iter().enumerate() {
            let same = i > 0 && channel(self.keys[i - 1]) == channel(*k);
            position = if same { position + 1 } else { 0 };
            sum = sum.wrapping_add(mix(*k, position));
        }
        self.sum = sum;
    }

    /// A delivery of `k` happened: non-duplicating kinds drop the delivered copy.
    pub fn consume(&mut self, k: Key) {
        if self.kind != NetKind::Set {
            self.remove(k);
        }
    }

    /// Puts `k` in flight; returns whether the network changed.
    pub fn send(&mut self, k: Key) -> bool {
        let p = match self.kind {
            NetKind::Set => match self.keys.binary_search(&k) {
                Ok(_) => return false,
                Err(p) => p,
            },
            NetKind::Bag => self.keys.partition_point(|x| *x <= k),
            NetKind::Fifo => self.keys.partition_point(|x| channel(*x) <= channel(k)),
        };
        self.keys.insert(p, k);
        match self.kind {
            NetKind::Fifo => self.refifo(),
            _ => self.sum = self.sum.wrapping_add(mix(k, 0)),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(net: &Net, dst: u32) -> Vec<u32> {
        let mut out = Vec::new();
        net.deliverable(dst, &mut out);
        out.into_iter().map(key_entry).collect()
    }

    #[test]
    fn set_ignores_repeats_and_is_order_free() {
        let mut a = Net::new(NetKind::Set);
        let mut b = Net::new(NetKind::Set);
        assert!(a.send(key(0, 1, 7)) && a.send(key(2, 1, 8)));
        assert!(b.send(key(2, 1, 8)) && b.send(key(0, 1, 7)));
        assert!(!a.send(key(0, 1, 7)), "a set holds each message once");
        assert_eq!(a, b);
        a.consume(key(0, 1, 7));
        assert_eq!(a.len(), 2, "a duplicating network keeps delivered messages");
        assert_eq!(d(&a, 1), vec![7, 8]);
        assert!(d(&a, 0).is_empty());
        assert_eq!((key_src(key(5, 3, 9)), key_dst(key(5, 3, 9))), (5, 3));
    }

    #[test]
    fn bag_counts_copies_and_fifo_delivers_heads() {
        let mut bag = Net::new(NetKind::Bag);
        bag.send(key(0, 1, 7));
        bag.send(key(0, 1, 7));
        assert_eq!(d(&bag, 1), vec![7], "equal copies are one choice");
        bag.consume(key(0, 1, 7));
        assert_eq!(bag.len(), 1);
        let mut fifo = Net::new(NetKind::Fifo);
        fifo.send(key(0, 1, 9));
        fifo.send(key(0, 1, 3));
        fifo.send(key(2, 1, 5));
        assert_eq!(d(&fifo, 1), vec![9, 5]);
        let mut other = Net::new(NetKind::Fifo);
        other.send(key(0, 1, 3));
        other.send(key(0, 1, 9));
        other.send(key(2, 1, 5));
        assert_ne!(fifo, other, "FIFO order is part of the state");
    }
}
