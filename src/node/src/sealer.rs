//! The sealer and its consensus driver (spec/execution.md §5).
//!
//! Whenever the pool has ready transactions it packs a block up to the tx-count and gas
//! limits, executes it, offers it to the consensus core, and carries out the core's outputs:
//! a `Commit` makes the block durable (spec/durability.md), then the pool forgets its
//! transactions and subscribers hear of it. An idle chain seals nothing.

pub use crate::block_exec::SealerContext;
use crate::block_exec::{self, Candidate};
use anyhow::{bail, Context};
use bcos_consensus::{Decision, Input, Output, Proposal, Protocol};
use bcos_sync::Wake;
use bcos_types::{RecoveredTx, SealedBlock};
use std::time::Instant;

pub struct Sealer<P: Protocol> {
    ctx: SealerContext,
    protocol: P,
    parent: SealedBlock,
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
        block_exec::build(&self.ctx, &self.parent, batch)
    }

    fn commit(&mut self, c: Candidate, decision: Decision) -> anyhow::Result<()> {
        if decision.block_hash != c.block.hash || decision.height != c.block.number() {
            bail!(
                "the core decided block {} at {}, not the proposed one",
                decision.block_hash,
                decision.height
            );
        }
        let block = c.block.clone();
        block_exec::commit(&self.ctx, c, decision.certificate)?;
        self.parent = block;
        Ok(())
    }
}
