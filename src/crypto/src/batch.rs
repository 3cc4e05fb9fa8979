//! `BatchRecoverer`: sender recovery for many transactions at once, in parallel on its own
//! rayon pool, consulting and filling a shared [`SenderCache`].
//!
//! Recovery is ~93 % of the CPU cost of admitting a transfer and scales 2.0x over 2 cores
//! (shared/reference/machine-limits.md, rows 1 and 7), so it runs off the caller's thread on a
//! dedicated pool, sized independently of the async runtime. Results keep input order.
//!
//! A hash is recovered at most once node-wide while it stays cached: cached hashes are answered
//! from the cache, duplicates within a batch are recovered once and copied, and a hash another
//! caller is recovering right now is waited for through the cache's claims rather than
//! recovered twice. Only a signature that fails to recover is tried again by a later caller.

use crate::recover::recover_sender;
use crate::sender_cache::{Lookup, SenderCache};
use alloy_primitives::{map::B256Map, Address};
use bcos_types::{RecoveredTx, Tx, TxError};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Tuning of a [`BatchRecoverer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    /// Threads of the recovery pool; 0 (the default) means one per available core.
    pub thread_count: usize,
    /// Batches with fewer cache misses than this are recovered on the calling thread. One
    /// recovery costs ~40 µs against a few µs to hand work to the pool and wait for it, so
    /// only tiny batches (the single-tx RPC path) gain from staying inline. Default 4.
    pub parallel_min_txs: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            thread_count: 0,
            parallel_min_txs: 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot start the recovery thread pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// Parallel, cached sender recovery; see the module docs.
#[derive(Debug)]
pub struct BatchRecoverer {
    pool: rayon::ThreadPool,
    cache: Arc<SenderCache>,
    config: BatchConfig,
    /// ECDSA recoveries actually performed (cache misses that reached libsecp256k1).
    recoveries_total: AtomicU64,
    cache_hits_total: AtomicU64,
}

impl BatchRecoverer {
    pub fn new(config: BatchConfig, cache: Arc<SenderCache>) -> Result<Self, BatchError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.thread_count)
            .thread_name(|i| format!("bcos-recover-{i}"))
            .build()?;
        Ok(BatchRecoverer {
            pool,
            cache,
            config,
            recoveries_total: AtomicU64::new(0),
            cache_hits_total: AtomicU64::new(0),
        })
    }

    pub fn cache(&self) -> &Arc<SenderCache> {
        &self.cache
    }

    pub fn thread_count(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// ECDSA recoveries performed so far, over all calls (a metric and a test hook).
    pub fn recoveries_total(&self) -> u64 {
        self.recoveries_total.load(Ordering::Relaxed)
    }

    /// Senders answered from the cache so far.
    pub fn cache_hits_total(&self) -> u64 {
        self.cache_hits_total.load(Ordering::Relaxed)
    }

    /// Recovers a hash this caller claimed, and resolves the claim either way.
    fn recover_claimed(&self, tx: &Tx) -> Result<Address, TxError> {
        self.recoveries_total.fetch_add(1, Ordering::Relaxed);
        let sender = recover_sender(tx);
        self.cache.resolve(tx.hash(), sender.as_ref().ok().copied());
        sender
    }

    /// Waits out another caller's claim on `tx`'s hash (see the cache's docs).
    fn await_other(&self, tx: &Tx, stats: &mut RecoverStats) -> Result<Address, TxError> {
        match self.cache.wait_for(&tx.hash()) {
            Lookup::Hit(sender) => {
                stats.cache_hits += 1;
                Ok(sender)
            }
            // The other caller's recovery failed (a bad signature is not cached): ours will
            // fail the same way, but only a recovery can say so.
            Lookup::Claimed | Lookup::InFlight => {
                stats.recovered += 1;
                self.recover_claimed(tx)
            }
        }
    }

    /// Recovers one transaction on the calling thread, through the cache.
    pub fn recover_one(&self, tx: Arc<Tx>) -> Result<RecoveredTx, TxError> {
        let mut stats = RecoverStats::default();
        let sender = match self.cache.lookup_or_claim(&tx.hash()) {
            Lookup::Hit(sender) => {
                stats.cache_hits += 1;
                sender
            }
            Lookup::Claimed => {
                stats.recovered += 1;
                self.recover_claimed(&tx)?
            }
            Lookup::InFlight => self.await_other(&tx, &mut stats)?,
        };
        self.count(&stats);
        Ok(RecoveredTx::new(tx, sender))
    }

    fn count(&self, stats: &RecoverStats) {
        self.cache_hits_total
            .fetch_add(stats.cache_hits as u64, Ordering::Relaxed);
    }

    /// Recovers every transaction; `out[i]` belongs to `txs[i]`.
    pub fn recover_batch(&self, txs: Vec<Arc<Tx>>) -> Vec<Result<RecoveredTx, TxError>> {
        self.recover_batch_counted(txs).0
    }

    /// [`Self::recover_batch`], with what this call recovered and found cached (exact per
    /// call, unlike a difference of the shared totals while other callers run).
    pub fn recover_batch_counted(
        &self,
        txs: Vec<Arc<Tx>>,
    ) -> (Vec<Result<RecoveredTx, TxError>>, RecoverStats) {
        let mut stats = RecoverStats::default();
        let mut senders: Vec<Option<Result<Address, TxError>>> = Vec::with_capacity(txs.len());
        // Index of the first claim per hash, so duplicates in a batch are recovered once.
        let mut first_miss: B256Map<usize> = B256Map::default();
        let mut misses: Vec<usize> = Vec::new();
        let mut in_flight: Vec<usize> = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            senders.push(None);
            if first_miss.contains_key(&tx.hash()) {
                continue;
            }
            match self.cache.lookup_or_claim(&tx.hash()) {
                Lookup::Hit(sender) => {
                    stats.cache_hits += 1;
                    senders[i] = Some(Ok(sender));
                }
                Lookup::Claimed => {
                    first_miss.insert(tx.hash(), i);
                    misses.push(i);
                }
                Lookup::InFlight => in_flight.push(i),
            }
        }

        let recovered: Vec<Result<Address, TxError>> =
            if misses.len() < self.config.parallel_min_txs {
                misses
                    .iter()
                    .map(|&i| self.recover_claimed(&txs[i]))
                    .collect()
            } else {
                self.pool.install(|| {
                    misses
                        .par_iter()
                        .map(|&i| self.recover_claimed(&txs[i]))
                        .collect()
                })
            };
        stats.recovered += misses.len();
        for (&i, result) in misses.iter().zip(recovered) {
            senders[i] = Some(result);
        }
        // Only now, with every claim of this call resolved, wait for other callers' claims.
        for i in in_flight {
            senders[i] = Some(self.await_other(&txs[i], &mut stats));
        }
        // Later duplicates of a miss take the first occurrence's result.
        for i in 0..txs.len() {
            if senders[i].is_none() {
                let first = first_miss
                    .get(&txs[i].hash())
                    .and_then(|&j| senders[j].clone());
                senders[i] = first;
            }
        }
        self.count(&stats);

        let out = txs
            .into_iter()
            .zip(senders)
            .map(|(tx, sender)| {
                // Every slot is filled above; an empty one would be a bug here, and is
                // reported as a rejection rather than a panic on the ingress path.
                let sender = sender.unwrap_or(Err(TxError::InvalidSignature))?;
                Ok(RecoveredTx::new(tx, sender))
            })
            .collect();
        (out, stats)
    }
}

/// What one call of [`BatchRecoverer::recover_batch_counted`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoverStats {
    /// ECDSA recoveries performed.
    pub recovered: usize,
    /// Senders answered from the cache, including those another caller was recovering.
    pub cache_hits: usize,
}
