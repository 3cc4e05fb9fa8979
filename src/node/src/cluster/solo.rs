//! The solo driver (one node, spec/execution.md §5, SOLO-R1): the same [`DriverBase`] and
//! event loop as the PBFT and Raft drivers, with no peers. Whenever the pool has ready
//! transactions it packs a block up to the tx-count and gas limits, executes it, offers it
//! to the core, and stores what the core decides (spec/durability.md); then the pool forgets
//! its transactions and subscribers hear of it. An idle chain seals nothing.
//!
//! With `sealer.pipelined_commit` (the default) a decided block is stored by the
//! [`CommitStage`]'s thread while this one builds the next block on its state (SEAL-R6).

use super::base::{DriverBase, Routed};
use super::commit_stage::CommitStage;
use super::config::ClusterConfig;
use super::event_loop::Steps;
use super::inbox::Inbox;
use super::wire::Wire;
use super::ConsensusView;
use crate::block_exec::{self, SealerContext};
use crate::runtime::DriverRuntime;
use anyhow::bail;
use bcos_consensus::{Input, Never, Proposal, Protocol, Solo};
use bcos_types::{RecoveredTx, SealedBlock};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// How long an idle solo driver sleeps before looking again (the pool's doorbell wakes it
/// sooner).
const IDLE_WAKE_MS: u64 = 60_000;

pub struct SoloDriver {
    base: DriverBase<Never, Never>,
    core: Solo,
    /// SEAL-R6 when set; else each block is stored on this thread before the next is built.
    stage: Option<CommitStage>,
    /// The block still committing holds every ready transaction: wait for the doorbell (a
    /// new one admitted, or the pool updated after the commit) instead of spinning.
    starved: bool,
}

impl SoloDriver {
    pub fn new(ctx: SealerContext, rt: DriverRuntime, pipelined: bool) -> anyhow::Result<Self> {
        let stage = if pipelined {
            Some(CommitStage::start(ctx.clone())?)
        } else {
            None
        };
        let view = Arc::new(ConsensusView::default());
        let (base, _) =
            DriverBase::new(ctx, ClusterConfig::default(), rt, idle_recoverer()?, view)?;
        let core = Solo::new(base.head.number() + 1);
        Ok(SoloDriver {
            base,
            core,
            stage,
            starved: false,
        })
    }

    /// Runs until stopped; a block still committing is made durable before this returns.
    pub fn run(mut self, inbox: &Inbox) -> anyhow::Result<()> {
        let clock = self.base.clock.clone();
        let ran = super::event_loop::run(&mut self, inbox, &*clock);
        let finished = self.stage.take().map_or(Ok(()), CommitStage::finish);
        ran.and(finished)
    }

    /// The block the next one is built on (with SEAL-R6 it may still be committing).
    pub fn head(&self) -> &SealedBlock {
        &self.base.head
    }

    /// The next block's transactions: past those of a block still committing (SEAL-R6).
    fn take_batch(&mut self) -> anyhow::Result<Vec<RecoveredTx>> {
        let ctx = &self.base.ctx;
        let Some(stage) = self.stage.as_mut() else {
            return Ok(ctx.pool.take_ready_within(ctx.limits()));
        };
        stage.poll()?;
        let Some(p) = stage.pending() else {
            return Ok(ctx.pool.take_ready_within(ctx.limits()));
        };
        let state = p.state(&*ctx.store);
        let batch = ctx.pool.take_ready_after(ctx.limits_on(&state), &p.taken);
        self.starved = batch.is_empty();
        Ok(batch)
    }

    /// Executes `batch` on the head's state: the committed state, or the pending block's
    /// over it (SEAL-R6).
    fn build(&self, batch: Vec<RecoveredTx>) -> anyhow::Result<block_exec::Candidate> {
        let ctx = &self.base.ctx;
        match self.stage.as_ref().and_then(CommitStage::pending) {
            Some(p) => {
                ctx.metrics.pipelined_blocks.fetch_add(1, Ordering::Relaxed);
                block_exec::build_on(ctx, &p.state(&*ctx.store), &self.base.head, batch)
            }
            None => block_exec::build(ctx, &self.base.head, batch),
        }
    }

    /// Seals one block if anything is ready; false when the pool had nothing to offer.
    fn seal_one(&mut self) -> anyhow::Result<bool> {
        let batch = self.take_batch()?;
        if batch.is_empty() {
            return Ok(false);
        }
        let candidate = self.build(batch)?;
        let ctx = &self.base.ctx;
        if candidate.included.is_empty() {
            // Everything was refused at execution: no empty block, just forget them.
            ctx.pool.on_block(&[], &candidate.rejected);
            return Ok(true);
        }
        let proposal = Proposal {
            height: candidate.block.number(),
            block_hash: candidate.block.hash,
        };
        let started = Instant::now();
        let outputs = tracing::info_span!("consensus")
            .in_scope(|| self.core.handle(Input::Propose(proposal)));
        self.base.ctx.metrics.consensus.record(0, started.elapsed());
        let mut candidate = Some(candidate);
        for o in outputs {
            match self.base.apply_output(o)? {
                Some(Routed::Commit(d)) => {
                    let Some(c) = candidate.take() else {
                        bail!("the core committed twice for one proposal");
                    };
                    if d.block_hash != c.block.hash || d.height != c.block.number() {
                        bail!(
                            "the core decided block {} at {}, not the proposed one",
                            d.block_hash,
                            d.height
                        );
                    }
                    match self.stage.as_mut() {
                        Some(stage) => {
                            let block = c.block.clone();
                            self.base.note_decided(&block);
                            stage.submit(c, d.certificate)?;
                            self.base.advance_head(block);
                        }
                        None => self.base.store_block(c, d.certificate)?,
                    }
                }
                Some(Routed::Send { .. } | Routed::Broadcast(_)) => {
                    bail!("the solo core asked to send a message")
                }
                None => {}
            }
        }
        Ok(true)
    }
}

/// Solo's blocks are its own (senders come from the pool), so block recovery never runs:
/// the smallest pool there is.
fn idle_recoverer() -> anyhow::Result<Arc<bcos_crypto::BatchRecoverer>> {
    Ok(Arc::new(bcos_crypto::BatchRecoverer::new(
        bcos_crypto::BatchConfig {
            thread_count: 1,
            ..bcos_crypto::BatchConfig::default()
        },
        Arc::new(bcos_crypto::SenderCache::with_capacity(1)),
    )?))
}

impl Steps for SoloDriver {
    /// At once while the pool holds ready transactions that no block holds yet (one block
    /// per step, so a stop is seen between blocks), else when the doorbell rings.
    fn next_deadline_ms(&self) -> u64 {
        let now = self.base.now_ms();
        if self.base.ctx.pool.has_ready() && !self.starved {
            now
        } else {
            now.saturating_add(IDLE_WAKE_MS)
        }
    }

    fn on_wire(&mut self, _from: u32, _w: Wire) -> anyhow::Result<()> {
        Ok(())
    }

    fn after_wake(&mut self) -> anyhow::Result<()> {
        self.starved = false;
        self.base.flush_deferred()?;
        self.seal_one().map(|_| ())
    }
}

/// Starts the solo driver on a thread of its own; it stops when the pool's doorbell closes.
pub fn start(
    ctx: SealerContext,
    pipelined: bool,
    failed: Box<dyn FnOnce(String) + Send>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let inbox = Arc::new(Inbox::new(1, 1));
    super::spawn_doorbell_relay(ctx.doorbell.clone(), inbox.clone())?;
    let rt = DriverRuntime::alone(ctx.clock.clone());
    let driver = SoloDriver::new(ctx, rt, pipelined)?;
    // Work may be pooled already (transactions admitted before the driver started).
    inbox.work();
    Ok(std::thread::Builder::new()
        .name("sealer".into())
        .spawn(move || {
            if let Err(e) = driver.run(&inbox) {
                tracing::error!("sealer stopped: {e:#}");
                failed(format!("{e:#}"));
            }
        })?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
#[path = "solo_tests.rs"]
mod tests;
