//! Building, checking and committing blocks: shared by the solo sealer and the cluster
//! driver (spec/execution.md §5, spec/pbft.md §5 "execute every block proposed").
//!
//! A [`Candidate`] is a block executed against the current head's state and held in memory
//! until the consensus core decides it; [`commit`] then makes it durable
//! (spec/durability.md), tells the pool, and announces it.

use crate::flow::{BlockStage, TxStage};
use crate::metrics::Metrics;
use crate::pool::Pool;
use anyhow::bail;
use bcos_execution::{BlockEnv, ExecutedBlock, Executor, ParallelOptions};
use bcos_storage::{BlockCommit, ChainStore, StateReader};
use bcos_sync::Doorbell;
use bcos_types::block::{logs_bloom, receipts_root, tx_root};
use bcos_types::state::next_state_root;
use bcos_types::{Address, Block, Bytes, CommittedBlock, Header, RecoveredTx, SealedBlock};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct SealerContext {
    pub store: Arc<dyn ChainStore>,
    pub pool: Arc<Pool>,
    pub executor: Arc<Executor>,
    pub doorbell: Doorbell,
    pub blocks: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
    pub block_txs_max: usize,
    pub block_gas_limit: u64,
    pub base_fee: u64,
    pub beneficiary: Address,
    /// How far (seconds) a proposed block's timestamp may run ahead of this node's clock.
    pub timestamp_future_s_max: u64,
    /// Wall time for block timestamps (the runtime's clock).
    pub clock: std::sync::Arc<dyn crate::runtime::Clock>,
}

/// A block's limits (spec/governance.md GOV-R7): what governance set in the committed
/// state, else the node's `[sealer]` configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimits {
    pub txs_max: usize,
    pub gas_limit: u64,
}

impl SealerContext {
    fn settings(&self) -> bcos_execution::governance::Settings {
        self.settings_on(&*self.store)
    }

    fn settings_on(&self, state: &dyn StateReader) -> bcos_execution::governance::Settings {
        bcos_execution::governance::Settings::read(state).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading governance settings; using [sealer]'s");
            Default::default()
        })
    }

    /// Keeps the pool's per-transaction gas rule at the committed state's block gas limit
    /// (GOV-R7): called at start and after every commit.
    pub fn refresh_pool_limits(&self) {
        let governed = self.settings().block_gas_limit.unwrap_or(0);
        self.pool
            .rules()
            .governed_gas_limit
            .store(governed, Ordering::Relaxed);
    }

    /// The consensus timeout governance set (GOV-R7), if it set one: the drivers apply it
    /// after every stored block and at start.
    pub fn consensus_timeout_ms(&self) -> Option<u64> {
        self.settings().consensus_timeout_ms
    }

    /// The limits of the block after the committed head. A storage failure keeps the
    /// configured ones (and is logged): the next block's execution reads the same state and
    /// fails the same way.
    pub fn limits(&self) -> BlockLimits {
        self.limits_on(&*self.store)
    }

    /// The limits of the block after the one whose state `state` is (SEAL-R6: a block still
    /// committing may have changed them).
    pub fn limits_on(&self, state: &dyn StateReader) -> BlockLimits {
        let settings = self.settings_on(state);
        BlockLimits {
            txs_max: settings.block_txs_max.map_or(self.block_txs_max, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
            gas_limit: settings.block_gas_limit.unwrap_or(self.block_gas_limit),
        }
    }
}

/// The largest `extra_data` a block may carry (the Ethereum rule; this node writes none).
pub const EXTRA_DATA_BYTES_MAX: usize = 32;

/// A block executed and waiting for the core's decision.
pub struct Candidate {
    pub block: SealedBlock,
    pub executed: ExecutedBlock,
    pub included: Vec<RecoveredTx>,
    pub rejected: Vec<RecoveredTx>,
}

/// Why a proposed block was refused by a replica: the leader is faulty (or we are behind).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockInvalid {
    #[error("block {got} does not extend the head (expected number {expected_number}, parent {expected_parent})")]
    NotOnHead {
        got: u64,
        expected_number: u64,
        expected_parent: bcos_types::B256,
    },
    #[error("timestamp {got} is before the parent's {parent}")]
    Timestamp { got: u64, parent: u64 },
    #[error("timestamp {got} is more than {drift_s} s ahead of this node's clock ({now})")]
    TimestampAhead { got: u64, now: u64, drift_s: u64 },
    #[error("{count} transactions, more than the {max} a block may hold")]
    TooManyTxs { count: usize, max: usize },
    #[error("header field {0} differs from the block's contents or this chain's rules")]
    Header(&'static str),
    #[error("transaction {0} is invalid at its turn: {1}")]
    Tx(usize, String),
    #[error("execution failed: {0}")]
    Execution(String),
}

/// Packs and executes `batch` on top of `parent` (the leader's side).
pub fn build(
    ctx: &SealerContext,
    parent: &SealedBlock,
    batch: Vec<RecoveredTx>,
) -> anyhow::Result<Candidate> {
    build_on(ctx, &*ctx.store, parent, batch)
}

/// [`build`] on `state`, the state after `parent`: the committed state, or a block still
/// committing over it (SEAL-R6).
pub fn build_on(
    ctx: &SealerContext,
    state: &dyn StateReader,
    parent: &SealedBlock,
    batch: Vec<RecoveredTx>,
) -> anyhow::Result<Candidate> {
    let p = parent.header();
    let env = BlockEnv {
        number: p.number + 1,
        timestamp: ctx.clock.wall_s().max(p.timestamp),
        gas_limit: ctx.limits_on(state).gas_limit,
        base_fee: ctx.base_fee,
        beneficiary: ctx.beneficiary,
    };
    let flow = &ctx.metrics.flow;
    if flow.is_on() {
        flow.txs_in_block(
            TxStage::Proposed,
            env.number,
            batch.iter().map(|t| t.hash()),
        );
    }
    let executed = execute(ctx, state, &env, &batch)?;
    for (i, reason) in &executed.rejected {
        tracing::debug!(tx = %batch[*i].hash(), %reason, "refused at execution");
    }
    let included: Vec<RecoveredTx> = executed
        .included
        .iter()
        .map(|&i| batch[i].clone())
        .collect();
    let rejected: Vec<RecoveredTx> = executed
        .rejected
        .iter()
        .map(|(i, _)| batch[*i].clone())
        .collect();
    let txs = included.iter().map(|t| t.tx.clone()).collect::<Vec<_>>();
    let roots = Roots::of(&p.state_root, env.number, &txs, &executed);
    let header = Header {
        parent_hash: parent.hash,
        number: env.number,
        timestamp: env.timestamp,
        gas_limit: env.gas_limit,
        gas_used: executed.gas_used,
        base_fee_per_gas: env.base_fee,
        beneficiary: env.beneficiary,
        tx_root: roots.tx_root,
        receipts_root: roots.receipts_root,
        state_root: roots.state_root,
        logs_bloom: roots.logs_bloom,
        extra_data: Bytes::new(),
    };
    let block = Block { header, txs }.seal();
    flow.block(BlockStage::Sealed, block.number(), Some(&block.hash));
    Ok(Candidate {
        block,
        executed,
        included,
        rejected,
    })
}

/// Blocks of at least this many transactions hash their roots on the global rayon pool, side
/// by side: on a many-core node the block path is one thread (the commodity-16core run used
/// 7 of 16 cores) and the roots are a fifth of its time; below this the hand-off costs more.
const ROOTS_PARALLEL_TXS_MIN: usize = 1024;

/// The roots and bloom of an executed block (spec/execution.md §2): computed once, the same
/// way for the leader's header and a replica's check.
struct Roots {
    /// Over the transactions given: the leader's block; a replica checks it before executing.
    tx_root: bcos_types::B256,
    receipts_root: bcos_types::B256,
    state_root: bcos_types::B256,
    logs_bloom: bcos_types::Bloom,
}

impl Roots {
    fn of(
        parent_state_root: &bcos_types::B256,
        number: u64,
        txs: &[Arc<bcos_types::Tx>],
        executed: &ExecutedBlock,
    ) -> Roots {
        let tx = || tx_root(txs);
        let receipts = || receipts_root(&executed.receipts);
        let state = || next_state_root(parent_state_root, number, &executed.diff);
        let bloom = || logs_bloom(&executed.receipts);
        if executed.receipts.len() < ROOTS_PARALLEL_TXS_MIN {
            return Roots {
                tx_root: tx(),
                receipts_root: receipts(),
                state_root: state(),
                logs_bloom: bloom(),
            };
        }
        let ((tx_root, receipts_root), (state_root, logs_bloom)) =
            rayon::join(|| rayon::join(tx, receipts), || rayon::join(state, bloom));
        Roots {
            tx_root,
            receipts_root,
            state_root,
            logs_bloom,
        }
    }
}

fn execute(
    ctx: &SealerContext,
    state: &dyn StateReader,
    env: &BlockEnv,
    txs: &[RecoveredTx],
) -> anyhow::Result<ExecutedBlock> {
    let started = Instant::now();
    // `sealer.execute_threads` picks serial or parallel execution; the result is the same
    // (EXEC-R17), so nodes may differ in the setting.
    let threads = ctx.executor.config().parallel_threads;
    let (executed, stats) = tracing::info_span!("execute").in_scope(|| {
        ctx.executor
            .execute_block_parallel_with(state, env, txs, ParallelOptions::new(threads))
    })?;
    ctx.metrics.record_parallel(&stats);
    let elapsed = started.elapsed();
    ctx.metrics.execute.record(txs.len(), elapsed);
    ctx.metrics
        .latencies
        .block_execute
        .observe(elapsed.as_secs_f64());
    let flow = &ctx.metrics.flow;
    if flow.is_on() {
        flow.block(BlockStage::Executed, env.number, None);
        flow.txs_in_block(TxStage::Executed, env.number, txs.iter().map(|t| t.hash()));
    }
    Ok(executed)
}

/// Checks a block someone else built against `parent` and this chain's rules, executes it
/// and checks every header field that execution determines (the replica's side). `txs` are
/// the block's transactions with their recovered senders, in block order.
pub fn verify_and_execute(
    ctx: &SealerContext,
    parent: &SealedBlock,
    block: SealedBlock,
    txs: Vec<RecoveredTx>,
) -> Result<Candidate, BlockInvalid> {
    let p = parent.header();
    let h = block.header().clone();
    if h.number != p.number + 1 || h.parent_hash != parent.hash {
        return Err(BlockInvalid::NotOnHead {
            got: h.number,
            expected_number: p.number + 1,
            expected_parent: parent.hash,
        });
    }
    if h.timestamp < p.timestamp {
        return Err(BlockInvalid::Timestamp {
            got: h.timestamp,
            parent: p.timestamp,
        });
    }
    // A far-future timestamp would stick: every later block must be at or after it.
    let now = ctx.clock.wall_s();
    if h.timestamp > now.saturating_add(ctx.timestamp_future_s_max) {
        return Err(BlockInvalid::TimestampAhead {
            got: h.timestamp,
            now,
            drift_s: ctx.timestamp_future_s_max,
        });
    }
    if h.extra_data.len() > EXTRA_DATA_BYTES_MAX {
        return Err(BlockInvalid::Header("extra_data"));
    }
    if h.beneficiary != ctx.beneficiary {
        return Err(BlockInvalid::Header("beneficiary"));
    }
    let limits = ctx.limits();
    if h.gas_limit != limits.gas_limit {
        return Err(BlockInvalid::Header("gas_limit"));
    }
    if block.block.txs.len() > limits.txs_max {
        return Err(BlockInvalid::TooManyTxs {
            count: block.block.txs.len(),
            max: limits.txs_max,
        });
    }
    // A leader's block passes the same per-transaction rules as the pool (size, chain id,
    // signature form, gas and fee bounds): what the pool refuses, no block carries.
    let rules = ctx.pool.rules();
    for (i, tx) in block.block.txs.iter().enumerate() {
        rules
            .check(tx)
            .map_err(|e| BlockInvalid::Tx(i, e.to_string()))?;
    }
    if h.base_fee_per_gas != ctx.base_fee {
        return Err(BlockInvalid::Header("base_fee_per_gas"));
    }
    if h.tx_root != tx_root(&block.block.txs) {
        return Err(BlockInvalid::Header("tx_root"));
    }
    let env = BlockEnv {
        number: h.number,
        timestamp: h.timestamp,
        gas_limit: h.gas_limit,
        base_fee: h.base_fee_per_gas,
        beneficiary: h.beneficiary,
    };
    let executed = execute(ctx, &*ctx.store, &env, &txs)
        .map_err(|e| BlockInvalid::Execution(format!("{e:#}")))?;
    if let Some((i, reason)) = executed.rejected.first() {
        return Err(BlockInvalid::Tx(*i, reason.clone()));
    }
    if executed.gas_used != h.gas_used {
        return Err(BlockInvalid::Header("gas_used"));
    }
    // The tx root was checked before executing: no transactions to hash again.
    let roots = Roots::of(&p.state_root, h.number, &[], &executed);
    if roots.receipts_root != h.receipts_root {
        return Err(BlockInvalid::Header("receipts_root"));
    }
    if roots.state_root != h.state_root {
        return Err(BlockInvalid::Header("state_root"));
    }
    if roots.logs_bloom != h.logs_bloom {
        return Err(BlockInvalid::Header("logs_bloom"));
    }
    Ok(Candidate {
        block,
        executed,
        included: txs,
        rejected: Vec::new(),
    })
}

/// Makes a decided block durable with its certificate, then updates the pool and
/// subscribers (spec/durability.md DUR-3: publish after durable).
pub fn commit(ctx: &SealerContext, mut c: Candidate, certificate: Vec<u8>) -> anyhow::Result<()> {
    let diff = std::mem::take(&mut c.executed.diff);
    commit_with_diff(ctx, c, &diff, certificate)
}

/// [`commit`] with the block's state diff held apart from it (SEAL-R6: the sealer reads it
/// while the block is written); `c.executed.diff` is not used.
pub fn commit_with_diff(
    ctx: &SealerContext,
    c: Candidate,
    diff: &bcos_types::StateDiff,
    certificate: Vec<u8>,
) -> anyhow::Result<()> {
    if let Some((head, _)) = ctx.store.head() {
        if c.block.number() != head + 1 {
            bail!(
                "refusing to commit block {} on head {head}",
                c.block.number()
            );
        }
    }
    let senders: Vec<Address> = c.included.iter().map(|t| t.sender).collect();
    let started = Instant::now();
    tracing::info_span!("commit").in_scope(|| {
        ctx.store.commit_block(BlockCommit {
            block: &c.block,
            receipts: &c.executed.receipts,
            senders: &senders,
            diff,
            certificate: &certificate,
        })
    })?;
    let elapsed = started.elapsed();
    ctx.metrics.commit.record(c.included.len(), elapsed);
    ctx.metrics
        .latencies
        .block_commit
        .observe(elapsed.as_secs_f64());
    let flow = &ctx.metrics.flow;
    if flow.is_on() {
        let number = c.block.number();
        flow.txs_in_block(
            TxStage::Committed,
            number,
            c.included.iter().map(|t| t.hash()),
        );
    }
    ctx.metrics.blocks.fetch_add(1, Ordering::Relaxed);
    ctx.refresh_pool_limits();
    ctx.pool.on_block(&c.included, &c.rejected);
    announce(ctx, c, certificate);
    Ok(())
}

/// Tells subscribers (RPC, the simulator's client) about a block: its receipts become
/// visible. Called by [`commit`] once the block is durable (DUR-3).
pub fn announce(ctx: &SealerContext, c: Candidate, certificate: Vec<u8>) {
    let senders: Vec<Address> = c.included.iter().map(|t| t.sender).collect();
    tracing::info!(
        number = c.block.number(),
        hash = %c.block.hash,
        txs = c.included.len(),
        gas_used = c.executed.gas_used,
        "block committed"
    );
    let committed = CommittedBlock {
        block: c.block,
        receipts: Arc::new(c.executed.receipts),
        senders: Arc::new(senders),
        certificate: Bytes::from(certificate),
    };
    let flow = &ctx.metrics.flow;
    let flown = flow.is_on().then(|| {
        let hashes: Vec<_> = committed.block.block.txs.iter().map(|t| t.hash()).collect();
        (committed.block.number(), committed.block.hash, hashes)
    });
    // No subscriber is fine; lagging subscribers refill from storage.
    let _ = ctx.blocks.send(Arc::new(committed));
    if let Some((number, hash, txs)) = flown {
        flow.block(BlockStage::Stored, number, Some(&hash));
        flow.txs_in_block(TxStage::ReceiptVisible, number, txs);
    }
}

/// Seeded bug `AckBeforeDurable` only: announces a copy of a block not yet stored.
pub fn announce_early(ctx: &SealerContext, c: &Candidate, certificate: &[u8]) {
    let committed = CommittedBlock {
        block: c.block.clone(),
        receipts: Arc::new(c.executed.receipts.clone()),
        senders: Arc::new(c.included.iter().map(|t| t.sender).collect()),
        certificate: Bytes::copy_from_slice(certificate),
    };
    let _ = ctx.blocks.send(Arc::new(committed));
}

/// Senders of a block's transactions for a replica (each hash recovered once node-wide: the
/// sender cache already holds those that came through the pool).
pub fn recover_block(
    recoverer: &bcos_crypto::BatchRecoverer,
    metrics: &Metrics,
    block: &SealedBlock,
) -> anyhow::Result<Vec<RecoveredTx>> {
    let started = Instant::now();
    let (recovered, stats) = recoverer.recover_batch_counted(block.block.txs.clone());
    metrics.record_recovery(stats, started.elapsed());
    recovered
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| anyhow::anyhow!("transaction {i}: {e}")))
        .collect()
}

#[cfg(test)]
#[path = "block_exec_tests.rs"]
pub(crate) mod tests;
