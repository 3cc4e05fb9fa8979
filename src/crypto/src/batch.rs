//! `BatchRecoverer`: sender recovery for many transactions at once, in parallel on its own
//! rayon pool, consulting and filling a shared [`SenderCache`].
//!
//! Recovery is ~93 % of the CPU cost of admitting a transfer and scales 2.0x over 2 cores
//! (shared/reference/machine-limits.md, rows 1 and 7), so it runs off the caller's thread on a
//! dedicated pool, sized independently of the async runtime. Results keep input order.
//!
//! Within one batch a hash is recovered at most once: cached hashes are answered from the
//! cache, and duplicates among the misses are recovered once and copied. Two batches racing on
//! the same new hash may both recover it; that costs one redundant recovery, never a wrong answer.

use crate::recover::recover_sender;
use crate::sender_cache::SenderCache;
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

    fn recover_uncached(&self, tx: &Tx) -> Result<Address, TxError> {
        self.recoveries_total.fetch_add(1, Ordering::Relaxed);
        let sender = recover_sender(tx)?;
        self.cache.insert(tx.hash(), sender);
        Ok(sender)
    }

    /// Recovers one transaction on the calling thread, through the cache.
    pub fn recover_one(&self, tx: Arc<Tx>) -> Result<RecoveredTx, TxError> {
        let sender = match self.cache.get(&tx.hash()) {
            Some(sender) => {
                self.cache_hits_total.fetch_add(1, Ordering::Relaxed);
                sender
            }
            None => self.recover_uncached(&tx)?,
        };
        Ok(RecoveredTx::new(tx, sender))
    }

    /// Recovers every transaction; `out[i]` belongs to `txs[i]`.
    pub fn recover_batch(&self, txs: Vec<Arc<Tx>>) -> Vec<Result<RecoveredTx, TxError>> {
        let mut senders: Vec<Option<Result<Address, TxError>>> = Vec::with_capacity(txs.len());
        // Index of the first miss per hash, so duplicates in a batch are recovered once.
        let mut first_miss: B256Map<usize> = B256Map::default();
        let mut misses: Vec<usize> = Vec::new();
        let mut hits = 0u64;
        for (i, tx) in txs.iter().enumerate() {
            if let Some(sender) = self.cache.get(&tx.hash()) {
                hits += 1;
                senders.push(Some(Ok(sender)));
            } else {
                senders.push(None);
                first_miss.entry(tx.hash()).or_insert_with(|| {
                    misses.push(i);
                    i
                });
            }
        }
        self.cache_hits_total.fetch_add(hits, Ordering::Relaxed);

        let recovered: Vec<Result<Address, TxError>> =
            if misses.len() < self.config.parallel_min_txs {
                misses
                    .iter()
                    .map(|&i| self.recover_uncached(&txs[i]))
                    .collect()
            } else {
                self.pool.install(|| {
                    misses
                        .par_iter()
                        .map(|&i| self.recover_uncached(&txs[i]))
                        .collect()
                })
            };
        for (&i, result) in misses.iter().zip(recovered) {
            senders[i] = Some(result);
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

        txs.into_iter()
            .zip(senders)
            .map(|(tx, sender)| {
                // Every slot is filled above; an empty one would be a bug here, and is
                // reported as a rejection rather than a panic on the ingress path.
                let sender = sender.unwrap_or(Err(TxError::InvalidSignature))?;
                Ok(RecoveredTx::new(tx, sender))
            })
            .collect()
    }
}
