//! The solo driver (one node, spec/execution.md §5, SOLO-R1): the same [`DriverBase`] and
//! event loop as the PBFT and Raft drivers, with no peers. Whenever the pool has ready
//! transactions it packs a block up to the tx-count and gas limits, executes it, offers it
//! to the core, and stores what the core decides (spec/durability.md); then the pool forgets
//! its transactions and subscribers hear of it. An idle chain seals nothing.

use super::base::{DriverBase, Routed};
use super::config::ClusterConfig;
use super::event_loop::Steps;
use super::inbox::Inbox;
use super::wire::Wire;
use super::ConsensusView;
use crate::block_exec::{self, SealerContext};
use crate::runtime::DriverRuntime;
use anyhow::bail;
use bcos_consensus::{Input, Never, Proposal, Protocol, Solo};
use bcos_types::SealedBlock;
use std::sync::Arc;
use std::time::Instant;

/// How long an idle solo driver sleeps before looking again (the pool's doorbell wakes it
/// sooner).
const IDLE_WAKE_MS: u64 = 60_000;

pub struct SoloDriver {
    base: DriverBase<Never, Never>,
    core: Solo,
}

impl SoloDriver {
    pub fn new(ctx: SealerContext, rt: DriverRuntime) -> anyhow::Result<Self> {
        let view = Arc::new(ConsensusView::default());
        let (base, _) =
            DriverBase::new(ctx, ClusterConfig::default(), rt, idle_recoverer()?, view)?;
        let core = Solo::new(base.head.number() + 1);
        Ok(SoloDriver { base, core })
    }

    pub fn run(mut self, inbox: &Inbox) -> anyhow::Result<()> {
        let clock = self.base.clock.clone();
        super::event_loop::run(&mut self, inbox, &*clock)
    }

    pub fn head(&self) -> &SealedBlock {
        &self.base.head
    }

    /// Seals one block if anything is ready; false when the pool had nothing to offer.
    fn seal_one(&mut self) -> anyhow::Result<bool> {
        let ctx = &self.base.ctx;
        let batch = ctx.pool.take_ready_within(ctx.limits());
        if batch.is_empty() {
            return Ok(false);
        }
        let candidate = block_exec::build(ctx, &self.base.head, batch)?;
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
                    self.base.store_block(c, d.certificate)?;
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
    /// At once while the pool holds ready transactions (one block per step, so a stop is
    /// seen between blocks), else when the doorbell rings.
    fn next_deadline_ms(&self) -> u64 {
        let now = self.base.now_ms();
        if self.base.ctx.pool.has_ready() {
            now
        } else {
            now.saturating_add(IDLE_WAKE_MS)
        }
    }

    fn on_wire(&mut self, _from: u32, _w: Wire) -> anyhow::Result<()> {
        Ok(())
    }

    fn after_wake(&mut self) -> anyhow::Result<()> {
        self.base.flush_deferred()?;
        self.seal_one().map(|_| ())
    }
}

/// Starts the solo driver on a thread of its own; it stops when the pool's doorbell closes.
pub fn start(
    ctx: SealerContext,
    failed: Box<dyn FnOnce(String) + Send>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let inbox = Arc::new(Inbox::new(1, 1));
    super::spawn_doorbell_relay(ctx.doorbell.clone(), inbox.clone())?;
    let rt = DriverRuntime::alone(ctx.clock.clone());
    let driver = SoloDriver::new(ctx, rt)?;
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
