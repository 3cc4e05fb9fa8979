//! The sealer and its consensus driver (spec/execution.md §5).
//!
//! Whenever the pool has ready transactions it packs a block up to the tx-count and gas
//! limits, executes it, offers it to the consensus core, and carries out the core's outputs:
//! a `Commit` makes the block durable (spec/durability.md), then the pool forgets its
//! transactions and subscribers hear of it. An idle chain seals nothing.

use crate::metrics::Metrics;
use crate::pool::Pool;
use anyhow::{bail, Context};
use bcos_consensus::{Decision, Input, Output, Proposal, Protocol};
use bcos_execution::{BlockEnv, ExecutedBlock, Executor};
use bcos_storage::{BlockCommit, ChainStore, StateReader};
use bcos_sync::{Doorbell, Wake};
use bcos_types::block::{logs_bloom, receipts_root, tx_root};
use bcos_types::state::next_state_root;
use bcos_types::{Address, Block, Bytes, CommittedBlock, Header, RecoveredTx, SealedBlock};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

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
}

pub struct Sealer<P: Protocol> {
    ctx: SealerContext,
    protocol: P,
    parent: SealedBlock,
}

/// A block executed and waiting for the core's decision.
struct Candidate {
    block: SealedBlock,
    executed: ExecutedBlock,
    included: Vec<RecoveredTx>,
    rejected: Vec<RecoveredTx>,
}

impl<P: Protocol> Sealer<P> {
    pub fn new(ctx: SealerContext, protocol: P) -> anyhow::Result<Self> {
        let (head, _) = ctx.store.head().context("the store has no genesis block")?;
        let parent = ctx
            .store
            .block_by_number(head)?
            .context("head block missing from the store")?;
        Ok(Sealer {
            ctx,
            protocol,
            parent,
        })
    }

    /// Runs until the doorbell is closed; returns an error only for failures that make going
    /// on unsafe (storage or execution faults).
    pub fn run(mut self) -> anyhow::Result<()> {
        loop {
            if self.ctx.doorbell.wait() == Wake::Closed {
                return Ok(());
            }
            while self.seal_one()? {
                if self.ctx.doorbell.is_closed() {
                    return Ok(());
                }
            }
        }
    }

    /// Seals one block if anything is ready; false when the pool had nothing to offer.
    fn seal_one(&mut self) -> anyhow::Result<bool> {
        let batch = self
            .ctx
            .pool
            .take_ready(self.ctx.block_txs_max, self.ctx.block_gas_limit);
        if batch.is_empty() {
            return Ok(false);
        }
        let candidate = self.build(batch)?;
        if candidate.included.is_empty() {
            // Everything was refused at execution: no empty block, just forget them.
            self.ctx.pool.on_block(&[], &candidate.rejected);
            return Ok(true);
        }
        let proposal = Proposal {
            height: candidate.block.number(),
            block_hash: candidate.block.hash,
        };
        let started = Instant::now();
        let outputs = tracing::info_span!("consensus")
            .in_scope(|| self.protocol.handle(Input::Propose(proposal)));
        self.ctx
            .metrics
            .consensus
            .record(candidate.included.len(), started.elapsed());
        let mut candidate = Some(candidate);
        for output in outputs {
            match output {
                Output::Commit(decision) => {
                    let c = candidate
                        .take()
                        .context("the core committed twice for one proposal")?;
                    self.commit(c, decision)?;
                }
                Output::Evidence { culprit, reason } => {
                    tracing::warn!(culprit, %reason, "consensus evidence");
                }
                Output::Persist(_)
                | Output::Send { .. }
                | Output::Broadcast(_)
                | Output::SetTimer { .. }
                | Output::CancelTimer(_) => {
                    bail!("this consensus core needs a network driver, which a single node does not run")
                }
            }
        }
        if let Some(c) = candidate {
            // Not decided (e.g. not the leader): the transactions stay pooled.
            tracing::debug!(number = c.block.number(), "proposal not committed");
        }
        Ok(true)
    }

    fn build(&self, batch: Vec<RecoveredTx>) -> anyhow::Result<Candidate> {
        let parent = self.parent.header();
        let number = parent.number + 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let env = BlockEnv {
            number,
            timestamp: now.max(parent.timestamp),
            gas_limit: self.ctx.block_gas_limit,
            base_fee: self.ctx.base_fee,
            beneficiary: self.ctx.beneficiary,
        };
        let started = Instant::now();
        let state: &dyn StateReader = &*self.ctx.store;
        let executed = tracing::info_span!("execute")
            .in_scope(|| self.ctx.executor.execute_block(state, &env, &batch))?;
        self.ctx
            .metrics
            .execute
            .record(batch.len(), started.elapsed());
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
        let header = Header {
            parent_hash: self.parent.hash,
            number,
            timestamp: env.timestamp,
            gas_limit: env.gas_limit,
            gas_used: executed.gas_used,
            base_fee_per_gas: env.base_fee,
            beneficiary: env.beneficiary,
            tx_root: tx_root(&txs),
            receipts_root: receipts_root(&executed.receipts),
            state_root: next_state_root(&parent.state_root, number, &executed.diff),
            logs_bloom: logs_bloom(&executed.receipts),
            extra_data: Bytes::new(),
        };
        let block = Block { header, txs }.seal();
        Ok(Candidate {
            block,
            executed,
            included,
            rejected,
        })
    }

    fn commit(&mut self, c: Candidate, decision: Decision) -> anyhow::Result<()> {
        if decision.block_hash != c.block.hash || decision.height != c.block.number() {
            bail!(
                "the core decided block {} at {}, not the proposed one",
                decision.block_hash,
                decision.height
            );
        }
        let senders: Vec<Address> = c.included.iter().map(|t| t.sender).collect();
        let started = Instant::now();
        tracing::info_span!("commit").in_scope(|| {
            self.ctx.store.commit_block(BlockCommit {
                block: &c.block,
                receipts: &c.executed.receipts,
                senders: &senders,
                diff: &c.executed.diff,
                certificate: &decision.certificate,
            })
        })?;
        self.ctx
            .metrics
            .commit
            .record(c.included.len(), started.elapsed());
        self.ctx.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        self.ctx.pool.on_block(&c.included, &c.rejected);
        tracing::info!(
            number = c.block.number(),
            hash = %c.block.hash,
            txs = c.included.len(),
            gas_used = c.executed.gas_used,
            "block committed"
        );
        self.parent = c.block.clone();
        let committed = CommittedBlock {
            block: c.block,
            receipts: Arc::new(c.executed.receipts),
            senders: Arc::new(senders),
            certificate: Bytes::from(decision.certificate),
        };
        // No subscriber is fine; lagging subscribers refill from storage.
        let _ = self.ctx.blocks.send(Arc::new(committed));
        Ok(())
    }
}
