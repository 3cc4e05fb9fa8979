//! The transaction pool: admission (static rules, parallel sender recovery, nonce and balance
//! against committed state), per-sender nonce queues, and hand-off to the sealer.
//!
//! What a consensus driver may rely on: [`Pool::ready_len`] / [`Pool::has_ready`] count only
//! *proposable* transactions (no nonce gap before them), the ones [`Pool::take_ready`]
//! returns. Gapped transactions are in [`Pool::len`] but no leader can propose them, so
//! "work is pending" must be decided on `has_ready`, never on `!is_empty`.

pub mod error;
pub mod ingress;
pub mod interceptions;
pub mod queue;
pub mod rules;

pub use error::PoolError;
pub use ingress::Ingress;

use crate::config::PoolConfig;
use crate::metrics::Metrics;
use bcos_storage::ChainStore;
use bcos_sync::Doorbell;
use bcos_types::{Address, RecoveredTx, TxError, B256, U256};
use parking_lot::Mutex;
use queue::{QueueLimits, TxQueue};
use rules::StaticRules;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub struct Pool {
    queue: Mutex<TxQueue>,
    rules: StaticRules,
    store: Arc<dyn ChainStore>,
    doorbell: Doorbell,
    metrics: Arc<Metrics>,
    /// Blocks applied to the pool; bumped under the queue lock (see `admit_batch`).
    commit_epoch: AtomicU64,
    /// Transactions refused by a rule (REG-R5), for `bcos_getInterceptions`.
    interceptions: interceptions::InterceptionLog,
}

/// Recovered transactions with their senders' committed (nonce, balance), read at `epoch`.
struct Prefetched {
    epoch: u64,
    txs: Vec<Result<(RecoveredTx, u64, U256), PoolError>>,
}

/// POOL-A6, A8 … A10 for one transaction, given its sender's committed nonce and balance.
fn admit_one(
    q: &mut TxQueue,
    tx: RecoveredTx,
    committed_nonce: u64,
    balance: U256,
    now: Instant,
) -> Result<(B256, bool), PoolError> {
    let hash = tx.hash();
    if q.contains(&hash) {
        return Err(PoolError::AlreadyKnown);
    }
    // The pool's own next nonce wins when it tracks the sender: it already counts commits.
    let state_nonce = q.next_nonce(&tx.sender).unwrap_or(committed_nonce);
    if tx.nonce() < state_nonce {
        return Err(PoolError::NonceTooLow {
            next: state_nonce,
            got: tx.nonce(),
        });
    }
    let cost = tx.max_cost().ok_or(PoolError::CostOverflow)?;
    if cost > balance {
        return Err(PoolError::InsufficientFunds {
            balance: balance.to_string(),
            cost: cost.to_string(),
        });
    }
    let inserted = q.insert(tx, state_nonce, now)?;
    Ok((hash, inserted.ready))
}

impl Pool {
    pub fn new(
        config: &PoolConfig,
        rules: StaticRules,
        store: Arc<dyn ChainStore>,
        doorbell: Doorbell,
        metrics: Arc<Metrics>,
    ) -> Self {
        let limits = QueueLimits {
            txs_max: config.txs_max,
            bytes_max: config.bytes_max,
            per_sender_max: config.per_sender_max,
            nonce_gap_max: config.nonce_gap_max,
            price_bump_percent: config.price_bump_percent,
            gapped_per_sender_max: config.gapped_per_sender_max,
            gapped_txs_max: config.gapped_txs_max,
            gapped_lifetime: std::time::Duration::from_millis(config.gapped_lifetime_ms),
        };
        Pool {
            queue: Mutex::new(TxQueue::new(limits)),
            rules,
            store,
            doorbell,
            metrics,
            commit_epoch: AtomicU64::new(0),
            interceptions: Default::default(),
        }
    }

    pub fn rules(&self) -> &StaticRules {
        &self.rules
    }

    pub fn contains(&self, hash: &B256) -> bool {
        self.queue.lock().contains(hash)
    }

    pub fn get(&self, hash: &B256) -> Option<RecoveredTx> {
        self.queue.lock().get(hash).cloned()
    }

    pub fn len(&self) -> usize {
        self.queue.lock().len()
    }

    /// Encoded bytes of the pooled transactions.
    pub fn bytes(&self) -> usize {
        self.queue.lock().bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Proposable transactions: those [`Pool::take_ready`] can return (no nonce gap before
    /// them). The count a consensus driver must use to decide that work is pending.
    pub fn ready_len(&self) -> usize {
        self.queue.lock().ready_len()
    }

    /// Whether a leader could propose anything now; see [`Pool::ready_len`].
    pub fn has_ready(&self) -> bool {
        self.ready_len() > 0
    }

    /// Transactions waiting behind a missing nonce (counted in `len`, never proposable).
    pub fn gapped_len(&self) -> usize {
        self.queue.lock().gapped_len()
    }

    /// Next nonce for `sender` counting its gap-free pooled transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Result<u64, PoolError> {
        if let Some(n) = self.queue.lock().pending_nonce(sender) {
            return Ok(n);
        }
        self.state_nonce(sender)
    }

    fn state_nonce(&self, sender: &Address) -> Result<u64, PoolError> {
        let acct = self
            .store
            .account(sender)
            .map_err(|e| PoolError::Storage(e.to_string()))?;
        Ok(acct.map_or(0, |a| a.nonce))
    }

    fn state_account(&self, sender: &Address) -> Result<(u64, U256), PoolError> {
        let acct = self
            .store
            .account(sender)
            .map_err(|e| PoolError::Storage(e.to_string()))?;
        Ok(acct.map_or((0, U256::ZERO), |a| (a.nonce, a.balance)))
    }

    /// The admission interception journal (REG-R5).
    pub fn interceptions(&self) -> &interceptions::InterceptionLog {
        &self.interceptions
    }

    /// REG-R1: governance's rules on the committed state; execution checks them again.
    fn intercept(&self, tx: &RecoveredTx, next_block: u64) -> Result<(), PoolError> {
        let state: &dyn bcos_storage::StateReader = &*self.store;
        match bcos_execution::governance::admission(state, tx, next_block) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(interception)) => {
                tracing::info!(
                    target: "regtech",
                    tx = %tx.hash(),
                    from = %tx.sender,
                    rule = interception.rule.name(),
                    reason = %interception.reason,
                    "transaction intercepted at admission"
                );
                self.metrics.intercepted.fetch_add(1, Ordering::Relaxed);
                self.interceptions.record(interceptions::Intercepted {
                    seq: 0,
                    unix_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                    block: next_block,
                    tx: tx.hash(),
                    from: tx.sender,
                    to: tx.tx.to(),
                    rule: interception.rule.name(),
                    reason: interception.reason.clone(),
                });
                Err(PoolError::Intercepted(interception))
            }
            Err(e) => Err(PoolError::Storage(e.to_string())),
        }
    }

    /// Admits recovered transactions under one lock; rings the sealer if any became ready.
    ///
    /// Account state is read before the lock is taken, so the sealer and RPC readers never
    /// wait behind a batch's database reads. A read can then predate a block whose commit
    /// removed the sender from the pool; its nonce would be too low and park the transaction
    /// behind a gap that never fills. The commit epoch detects that case, and the sender's
    /// state is read again under the lock.
    pub fn admit_batch(
        &self,
        recovered: Vec<Result<RecoveredTx, TxError>>,
    ) -> Vec<Result<B256, PoolError>> {
        let _span = tracing::info_span!("admit").entered();
        let started = Instant::now();
        let n = recovered.len();
        let out = self.apply(self.prefetch(recovered));
        self.metrics.admit.record(n, started.elapsed());
        let flow = &self.metrics.flow;
        if flow.is_on() {
            flow.txs(
                crate::flow::TxStage::Admitted,
                out.iter().filter_map(|r| r.as_ref().ok().copied()),
            );
        }
        out
    }

    /// First half of `admit_batch`: the state reads, outside the lock.
    fn prefetch(&self, recovered: Vec<Result<RecoveredTx, TxError>>) -> Prefetched {
        let epoch = self.commit_epoch.load(Ordering::Acquire);
        let next_block = self.store.head().map_or(1, |(n, _)| n.saturating_add(1));
        let txs = recovered
            .into_iter()
            .map(|r| match r {
                Err(TxError::InvalidSignature) => Err(PoolError::InvalidSignature),
                Err(e) => Err(PoolError::Malformed(e.to_string())),
                Ok(tx) => {
                    self.intercept(&tx, next_block)?;
                    let (nonce, balance) = self.state_account(&tx.sender)?;
                    Ok((tx, nonce, balance))
                }
            })
            .collect();
        Prefetched { epoch, txs }
    }

    /// Second half of `admit_batch`: the queue updates, under the lock.
    fn apply(&self, pre: Prefetched) -> Vec<Result<B256, PoolError>> {
        let mut any_ready = false;
        let mut out = Vec::with_capacity(pre.txs.len());
        {
            let mut q = self.queue.lock();
            let now = Instant::now();
            q.expire_gapped_if_due(now);
            let stale = self.commit_epoch.load(Ordering::Acquire) != pre.epoch;
            for c in pre.txs {
                out.push(c.and_then(|(tx, mut nonce, mut balance)| {
                    if stale && q.next_nonce(&tx.sender).is_none() {
                        (nonce, balance) = self.state_account(&tx.sender)?;
                    }
                    let (hash, ready) = admit_one(&mut q, tx, nonce, balance, now)?;
                    any_ready |= ready;
                    Ok(hash)
                }));
            }
        }
        if any_ready {
            self.doorbell.ring();
        }
        out
    }

    /// Ready transactions for the next block (not removed).
    pub fn take_ready(&self, txs_max: usize, gas_max: u64) -> Vec<RecoveredTx> {
        self.queue.lock().take_ready(txs_max, gas_max)
    }

    /// Pooled transactions, gapped ones too (see [`TxQueue::take_any`]).
    pub fn take_any(&self, txs_max: usize) -> Vec<RecoveredTx> {
        self.queue.lock().take_any(txs_max)
    }

    /// Ready transactions within a block's limits (GOV-R7).
    pub fn take_ready_within(&self, limits: crate::block_exec::BlockLimits) -> Vec<RecoveredTx> {
        self.take_ready(limits.txs_max, limits.gas_limit)
    }

    /// Ready transactions within a block's limits, past those of a block still committing
    /// (SEAL-R6; see [`TxQueue::take_ready_after`]).
    pub fn take_ready_after(
        &self,
        limits: crate::block_exec::BlockLimits,
        taken: &std::collections::HashMap<Address, u64>,
    ) -> Vec<RecoveredTx> {
        self.queue
            .lock()
            .take_ready_after(limits.txs_max, limits.gas_limit, taken)
    }

    /// After a block is durable: drop its transactions and those execution refused.
    pub fn on_block(&self, included: &[RecoveredTx], rejected: &[RecoveredTx]) {
        let mut q = self.queue.lock();
        self.commit_epoch.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        let latency = &self.metrics.latencies.tx_submit_to_commit;
        for tx in included {
            if let Some(admitted) = q.remove_committed(&tx.sender, tx.nonce()) {
                latency.observe(now.saturating_duration_since(admitted).as_secs_f64());
            }
        }
        for tx in rejected {
            q.remove_rejected(&tx.sender, tx.nonce());
        }
        q.expire_gapped_if_due(Instant::now());
        let more = q.ready_len() > 0;
        drop(q);
        if more {
            // Transactions that were not ready before this block may be now (only ready ones
            // count: a gapped one gives the sealer nothing to do).
            self.doorbell.ring();
        }
    }
}

#[cfg(test)]
mod admission_tests;
#[cfg(test)]
mod ingress_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
