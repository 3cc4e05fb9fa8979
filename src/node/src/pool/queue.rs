//! The pool's data structure: per-sender queues ordered by nonce, indexed by hash, bounded in
//! count and bytes. Pure and single-threaded; `Pool` puts it behind one lock and passes the
//! time in, so expiry is tested without sleeping.
//!
//! A sender's transactions split into a *ready* run (nonces `next_nonce..ready_end`, no gap,
//! proposable in the next block) and *gapped* ones (above a missing nonce). Gapped
//! transactions cost memory but can never be proposed, so they are bounded apart from the
//! rest (per sender and in total) and expire: otherwise a few dozen fresh keys could fill the
//! whole pool with transactions no leader will ever include (issue 10, item 10).

use super::error::PoolError;
use bcos_types::{Address, RecoveredTx, B256, U256};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Pooled {
    tx: RecoveredTx,
    admitted: Instant,
}

#[derive(Debug)]
struct SenderQueue {
    /// The account's next nonce as of the last committed block.
    next_nonce: u64,
    /// Its key in `TxQueue::arrival` (when this queue was opened).
    arrival: u64,
    /// First nonce past the gap-free run: every nonce in `next_nonce..ready_end` is in `txs`,
    /// and `txs` holds nothing below `next_nonce`.
    ready_end: u64,
    txs: BTreeMap<u64, Pooled>,
}

impl SenderQueue {
    fn new(next_nonce: u64, arrival: u64) -> Self {
        SenderQueue {
            next_nonce,
            arrival,
            ready_end: next_nonce,
            txs: BTreeMap::new(),
        }
    }

    fn ready_count(&self) -> usize {
        // Bounded by `txs.len()`, so the cast cannot truncate.
        (self.ready_end - self.next_nonce) as usize
    }

    fn gapped_count(&self) -> usize {
        self.txs.len() - self.ready_count()
    }

    /// Moves `ready_end` past every pooled nonce that now continues the run. Nonces are
    /// below `u64::MAX` (admission refuses the maximum), so `ready_end + 1` cannot overflow.
    fn extend_ready(&mut self) {
        self.ready_end = self.ready_end.max(self.next_nonce);
        while self.txs.contains_key(&self.ready_end) {
            self.ready_end += 1;
        }
    }
}

/// Limits the queue enforces itself.
#[derive(Debug, Clone)]
pub struct QueueLimits {
    pub txs_max: usize,
    pub bytes_max: usize,
    pub per_sender_max: usize,
    pub nonce_gap_max: u64,
    pub price_bump_percent: u64,
    /// Gapped transactions one sender may have pooled.
    pub gapped_per_sender_max: usize,
    /// Gapped transactions of all senders together.
    pub gapped_txs_max: usize,
    /// A transaction still gapped this long after admission is dropped.
    pub gapped_lifetime: Duration,
}

#[derive(Debug)]
pub struct TxQueue {
    limits: QueueLimits,
    senders: HashMap<Address, SenderQueue>,
    /// Senders in the order their queues were opened: `take_ready` serves them first come,
    /// first proposed. The order is the pool's own, never a hash map's, so a block's
    /// contents do not depend on a per-process hash seed (a seeded simulation replays).
    arrival: BTreeMap<u64, Address>,
    next_arrival: u64,
    by_hash: HashMap<B256, (Address, u64)>,
    bytes: usize,
    /// Sum of every sender's `gapped_count`.
    gapped: usize,
    /// When `expire_gapped_if_due` next sweeps; `None`: at the next call.
    next_sweep: Option<Instant>,
}

/// How often admission and commits sweep expired gapped transactions: a sweep visits every
/// sender, so it runs at most this often, however busy the pool is.
pub const GAPPED_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The transaction can go into the next block (no nonce gap before it).
    pub ready: bool,
}

impl TxQueue {
    pub fn new(limits: QueueLimits) -> Self {
        TxQueue {
            limits,
            senders: HashMap::new(),
            arrival: BTreeMap::new(),
            next_arrival: 0,
            by_hash: HashMap::new(),
            bytes: 0,
            gapped: 0,
            next_sweep: None,
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Transactions a leader could propose now (no nonce gap before them).
    pub fn ready_len(&self) -> usize {
        self.len() - self.gapped
    }
    /// Transactions waiting behind a missing nonce.
    pub fn gapped_len(&self) -> usize {
        self.gapped
    }
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        Some(&self.senders.get(sender)?.txs.get(nonce)?.tx)
    }

    /// The sender's next nonce as the pool knows it, if it tracks the sender.
    pub fn next_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|q| q.next_nonce)
    }

    /// Next nonce counting the sender's gap-free pooled transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|q| q.ready_end)
    }

    /// Inserts `tx` admitted at `now`; `state_nonce` is the sender's committed next nonce
    /// (used when the pool does not track the sender yet).
    pub fn insert(
        &mut self,
        tx: RecoveredTx,
        state_nonce: u64,
        now: Instant,
    ) -> Result<Inserted, PoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let nonce = tx.nonce();
        // EIP-2681: an account nonce never reaches 2^64 - 1, so no such transaction is valid.
        if nonce == u64::MAX {
            return Err(PoolError::NonceMax);
        }
        let limits = &self.limits;
        let size = tx.encoded_len();
        let queue = self.senders.get(&tx.sender);
        let next = queue.map_or(state_nonce, |q| q.next_nonce);
        if nonce < next {
            return Err(PoolError::NonceTooLow { next, got: nonce });
        }
        if nonce - next > limits.nonce_gap_max {
            return Err(PoolError::NonceTooHigh {
                next,
                got: nonce,
                gap_max: limits.nonce_gap_max,
            });
        }
        let replaced = queue.and_then(|q| q.txs.get(&nonce)).map(|p| p.tx.clone());
        if let Some(old) = &replaced {
            // In U256: fee caps and the configured bump come from outside, and their product
            // overflows u128.
            let needed = U256::from(old.max_fee_per_gas())
                * (U256::from(100u64) + U256::from(limits.price_bump_percent))
                / U256::from(100u64);
            if U256::from(tx.max_fee_per_gas()) < needed {
                return Err(PoolError::ReplacementUnderpriced);
            }
        } else {
            let pending = queue.map_or(0, |q| q.txs.len());
            if pending >= limits.per_sender_max {
                return Err(PoolError::SenderFull {
                    count: pending,
                    limit: limits.per_sender_max,
                });
            }
            if self.len() >= limits.txs_max || self.bytes.saturating_add(size) > limits.bytes_max {
                return Err(PoolError::PoolFull {
                    count: self.len(),
                    bytes: self.bytes,
                    count_max: limits.txs_max,
                    bytes_max: limits.bytes_max,
                });
            }
            // A new nonce is ready exactly when it extends the run; otherwise it is gapped.
            let ready_end = queue.map_or(next, |q| q.ready_end);
            if nonce != ready_end {
                let sender_gapped = queue.map_or(0, SenderQueue::gapped_count);
                if sender_gapped >= limits.gapped_per_sender_max {
                    return Err(PoolError::GappedSenderFull {
                        count: sender_gapped,
                        limit: limits.gapped_per_sender_max,
                    });
                }
                if self.gapped >= limits.gapped_txs_max {
                    return Err(PoolError::GappedPoolFull {
                        count: self.gapped,
                        limit: limits.gapped_txs_max,
                    });
                }
            }
        }
        if let Some(old) = replaced {
            self.by_hash.remove(&old.hash());
            self.bytes -= old.encoded_len();
        }
        let sender = tx.sender;
        let q = match self.senders.entry(sender) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let arrival = self.next_arrival;
                self.next_arrival += 1;
                self.arrival.insert(arrival, sender);
                v.insert(SenderQueue::new(next, arrival))
            }
        };
        let gapped_before = q.gapped_count();
        q.txs.insert(nonce, Pooled { tx, admitted: now });
        q.extend_ready();
        let ready = nonce < q.ready_end;
        self.gapped = self.gapped - gapped_before + q.gapped_count();
        self.by_hash.insert(hash, (sender, nonce));
        self.bytes += size;
        Ok(Inserted { ready })
    }

    /// Ready transactions for the next block, at most `txs_max` and `gas_max` in total;
    /// senders in the order their queues opened, each sender's in nonce order. Nothing is
    /// removed: commits remove.
    pub fn take_ready(&self, txs_max: usize, gas_max: u64) -> Vec<RecoveredTx> {
        self.take_ready_after(txs_max, gas_max, &HashMap::new())
    }

    /// [`TxQueue::take_ready`] past what a block still committing holds (SEAL-R6): a
    /// sender's run starts at `taken[sender]` when that is beyond its next nonce, and a
    /// sender taken up to `u64::MAX` is skipped.
    pub fn take_ready_after(
        &self,
        txs_max: usize,
        gas_max: u64,
        taken: &HashMap<Address, u64>,
    ) -> Vec<RecoveredTx> {
        let mut out = Vec::new();
        let mut gas = 0u64;
        'senders: for a in self.arrival.values() {
            let Some(q) = self.senders.get(a) else {
                continue;
            };
            let start = taken.get(a).map_or(q.next_nonce, |&t| t.max(q.next_nonce));
            if start >= q.ready_end {
                continue;
            }
            for p in q.txs.range(start..q.ready_end).map(|(_, p)| p) {
                if out.len() >= txs_max {
                    break 'senders;
                }
                let g = p.tx.gas_limit();
                if gas.saturating_add(g) > gas_max {
                    continue 'senders;
                }
                gas += g;
                out.push(p.tx.clone());
            }
        }
        out
    }

    /// Pooled transactions, gapped ones too, at most `txs_max`: senders in the order their
    /// queues opened, each sender's in nonce order. For a node whose committed state lags,
    /// so that it cannot tell which are ready elsewhere.
    pub fn take_any(&self, txs_max: usize) -> Vec<RecoveredTx> {
        self.arrival
            .values()
            .filter_map(|a| self.senders.get(a))
            .flat_map(|q| q.txs.values().map(|p| p.tx.clone()))
            .take(txs_max)
            .collect()
    }

    /// A block committed `tx` (from `sender` at `nonce`): drop it and anything below it.
    /// Returns when the pooled transaction with that very nonce was admitted, if one was.
    pub fn remove_committed(&mut self, sender: &Address, nonce: u64) -> Option<Instant> {
        let q = self.senders.get_mut(sender)?;
        let gapped_before = q.gapped_count();
        q.next_nonce = q.next_nonce.max(nonce.saturating_add(1));
        let keep = q.txs.split_off(&q.next_nonce);
        let gone = std::mem::replace(&mut q.txs, keep);
        let admitted = gone.get(&nonce).map(|p| p.admitted);
        q.extend_ready();
        let gapped_after = q.gapped_count();
        let empty = q.txs.is_empty();
        self.gapped = self.gapped - gapped_before + gapped_after;
        self.forget(gone.into_values());
        if empty {
            self.close_sender(sender);
        }
        admitted
    }

    /// Execution refused `tx`: drop it and the sender's later transactions, which cannot
    /// run before it.
    pub fn remove_rejected(&mut self, sender: &Address, nonce: u64) {
        let Some(q) = self.senders.get_mut(sender) else {
            return;
        };
        let gapped_before = q.gapped_count();
        let gone = q.txs.split_off(&nonce);
        q.ready_end = q.ready_end.min(nonce.max(q.next_nonce));
        let gapped_after = q.gapped_count();
        let empty = q.txs.is_empty();
        self.gapped = self.gapped - gapped_before + gapped_after;
        self.forget(gone.into_values());
        if empty {
            self.close_sender(sender);
        }
    }

    /// Drops every transaction still gapped `gapped_lifetime` after its admission; returns
    /// how many. Ready transactions never expire here.
    pub fn expire_gapped(&mut self, now: Instant) -> usize {
        if self.gapped == 0 {
            return 0;
        }
        let lifetime = self.limits.gapped_lifetime;
        let mut expired = Vec::new();
        let mut emptied = Vec::new();
        for (sender, q) in self.senders.iter_mut() {
            let old: Vec<u64> = q
                .txs
                .range(q.ready_end..)
                .filter(|(_, p)| now.saturating_duration_since(p.admitted) >= lifetime)
                .map(|(n, _)| *n)
                .collect();
            for n in old {
                if let Some(p) = q.txs.remove(&n) {
                    expired.push(p);
                }
            }
            if q.txs.is_empty() {
                emptied.push(*sender);
            }
        }
        for sender in emptied {
            self.close_sender(&sender);
        }
        let n = expired.len();
        // Only gapped transactions were removed, and no run changed.
        self.gapped -= n;
        self.forget(expired.into_iter());
        n
    }

    /// [`Self::expire_gapped`] at most once per [`GAPPED_SWEEP_INTERVAL`].
    pub fn expire_gapped_if_due(&mut self, now: Instant) -> usize {
        if self.next_sweep.is_some_and(|t| now < t) {
            return 0;
        }
        self.next_sweep = now.checked_add(GAPPED_SWEEP_INTERVAL);
        self.expire_gapped(now)
    }

    /// Drops an emptied sender queue and its place in the arrival order.
    fn close_sender(&mut self, sender: &Address) {
        if let Some(q) = self.senders.remove(sender) {
            self.arrival.remove(&q.arrival);
        }
    }

    fn forget(&mut self, gone: impl Iterator<Item = Pooled>) {
        for p in gone {
            self.by_hash.remove(&p.tx.hash());
            self.bytes -= p.tx.encoded_len();
        }
    }

    /// Recounts everything from scratch and panics on a mismatch (tests only).
    #[cfg(test)]
    pub fn check_invariants(&self) {
        let mut gapped = 0;
        let mut count = 0;
        let mut bytes = 0;
        for q in self.senders.values() {
            assert!(!q.txs.is_empty(), "empty sender queue kept");
            assert!(q.txs.keys().all(|n| *n >= q.next_nonce));
            let mut end = q.next_nonce;
            while q.txs.contains_key(&end) {
                end += 1;
            }
            assert_eq!(end, q.ready_end, "ready run");
            gapped += q.txs.len() - (end - q.next_nonce) as usize;
            count += q.txs.len();
            bytes += q.txs.values().map(|p| p.tx.encoded_len()).sum::<usize>();
        }
        assert_eq!(gapped, self.gapped, "gapped count");
        assert_eq!(self.arrival.len(), self.senders.len(), "arrival order");
        for (k, a) in &self.arrival {
            assert_eq!(
                self.senders.get(a).map(|q| q.arrival),
                Some(*k),
                "arrival key"
            );
        }
        assert_eq!(count, self.by_hash.len(), "hash index");
        assert_eq!(bytes, self.bytes, "bytes");
    }
}
