//! The pool's data structure: per-sender queues ordered by nonce, indexed by hash, bounded in
//! count and bytes. Pure and single-threaded; `Pool` puts it behind one lock.

use super::error::PoolError;
use bcos_types::{Address, RecoveredTx, B256};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug)]
struct SenderQueue {
    /// The account's next nonce as of the last committed block.
    next_nonce: u64,
    txs: BTreeMap<u64, RecoveredTx>,
}

impl SenderQueue {
    /// Length of the gap-free run starting at `next_nonce`.
    fn ready_len(&self) -> u64 {
        let mut n = self.next_nonce;
        for &nonce in self.txs.range(self.next_nonce..).map(|(k, _)| k) {
            if nonce != n {
                break;
            }
            n += 1;
        }
        n - self.next_nonce
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
}

#[derive(Debug)]
pub struct TxQueue {
    limits: QueueLimits,
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, (Address, u64)>,
    bytes: usize,
}

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
            by_hash: HashMap::new(),
            bytes: 0,
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
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.txs.get(nonce)
    }

    /// The sender's next nonce as the pool knows it, if it tracks the sender.
    pub fn next_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|q| q.next_nonce)
    }

    /// Next nonce counting the sender's gap-free pooled transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders
            .get(sender)
            .map(|q| q.next_nonce + q.ready_len())
    }

    /// Inserts `tx`; `state_nonce` is the sender's committed next nonce (used when the pool
    /// does not track the sender yet).
    pub fn insert(&mut self, tx: RecoveredTx, state_nonce: u64) -> Result<Inserted, PoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let limits = &self.limits;
        let size = tx.encoded_len();
        let nonce = tx.nonce();
        let next = self
            .senders
            .get(&tx.sender)
            .map_or(state_nonce, |q| q.next_nonce);
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
        let queue = self.senders.get(&tx.sender);
        let replaced = queue.and_then(|q| q.txs.get(&nonce)).cloned();
        if let Some(old) = &replaced {
            let bump = old.max_fee_per_gas() * (100 + u128::from(limits.price_bump_percent)) / 100;
            if tx.max_fee_per_gas() < bump {
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
            if self.len() >= limits.txs_max || self.bytes + size > limits.bytes_max {
                return Err(PoolError::PoolFull {
                    count: self.len(),
                    bytes: self.bytes,
                    count_max: limits.txs_max,
                    bytes_max: limits.bytes_max,
                });
            }
        }
        if let Some(old) = replaced {
            self.by_hash.remove(&old.hash());
            self.bytes -= old.encoded_len();
        }
        let sender = tx.sender;
        let q = self.senders.entry(sender).or_insert_with(|| SenderQueue {
            next_nonce: next,
            txs: BTreeMap::new(),
        });
        q.txs.insert(nonce, tx);
        self.by_hash.insert(hash, (sender, nonce));
        self.bytes += size;
        let ready = nonce < q.next_nonce + q.ready_len();
        Ok(Inserted { ready })
    }

    /// Ready transactions for the next block, at most `txs_max` and `gas_max` in total;
    /// each sender's in nonce order. Nothing is removed: commits remove.
    pub fn take_ready(&self, txs_max: usize, gas_max: u64) -> Vec<RecoveredTx> {
        let mut out = Vec::new();
        let mut gas = 0u64;
        'senders: for q in self.senders.values() {
            let mut expect = q.next_nonce;
            for (&nonce, tx) in q.txs.range(q.next_nonce..) {
                if nonce != expect || out.len() >= txs_max {
                    continue 'senders;
                }
                let g = tx.gas_limit();
                if gas.saturating_add(g) > gas_max {
                    continue 'senders;
                }
                gas += g;
                out.push(tx.clone());
                expect += 1;
            }
            if out.len() >= txs_max {
                break;
            }
        }
        out
    }

    /// A block committed `tx` (from `sender` at `nonce`): drop it and anything below it.
    pub fn remove_committed(&mut self, sender: &Address, nonce: u64) {
        let Some(q) = self.senders.get_mut(sender) else {
            return;
        };
        q.next_nonce = q.next_nonce.max(nonce + 1);
        let keep = q.txs.split_off(&q.next_nonce);
        let gone = std::mem::replace(&mut q.txs, keep);
        for tx in gone.into_values() {
            self.by_hash.remove(&tx.hash());
            self.bytes -= tx.encoded_len();
        }
        if q.txs.is_empty() {
            self.senders.remove(sender);
        }
    }

    /// Execution refused `tx`: drop it and the sender's later transactions, which cannot
    /// run before it.
    pub fn remove_rejected(&mut self, sender: &Address, nonce: u64) {
        let Some(q) = self.senders.get_mut(sender) else {
            return;
        };
        let gone = q.txs.split_off(&nonce);
        for tx in gone.into_values() {
            self.by_hash.remove(&tx.hash());
            self.bytes -= tx.encoded_len();
        }
        if q.txs.is_empty() {
            self.senders.remove(sender);
        }
    }
}
