//! The solo sealer's commit stage (spec/execution.md SEAL-R6): a decided block is made
//! durable on a thread of its own while the sealer packs and executes the next block on
//! the decided block's state ([`bcos_storage::PendingState`]). One block is in flight at a
//! time, and blocks reach storage in order, each with the pool update and announcement of
//! [`block_exec::commit`] after it (DUR-3: nothing is visible before it is durable).
//!
//! The stage is the node shell's, not the driver's: the drivers the simulator steps never
//! spawn threads (`runtime.rs`), and solo is not simulated.

use crate::block_exec::{self, Candidate, SealerContext};
use anyhow::{anyhow, Context};
use bcos_storage::{PendingState, StateReader};
use bcos_types::{Address, SealedBlock, StateDiff};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A decided block on its way to storage: what the next block is built on.
pub struct Pending {
    pub block: SealedBlock,
    diff: Arc<StateDiff>,
    /// Per sender, the first nonce the pending block does not hold; `u64::MAX` for a sender
    /// whose transaction it refused (the pool drops that sender's later nonces with it,
    /// SEAL-R3). See [`crate::pool::Pool::take_ready_after`].
    pub taken: HashMap<Address, u64>,
}

impl Pending {
    /// The state after the pending block.
    pub fn state<'a>(&'a self, committed: &'a dyn StateReader) -> PendingState<'a> {
        PendingState {
            base: committed,
            diff: &self.diff,
            number: self.block.number(),
            hash: self.block.hash,
        }
    }
}

struct Job {
    candidate: Candidate,
    diff: Arc<StateDiff>,
    certificate: Vec<u8>,
}

pub struct CommitStage {
    jobs: Option<mpsc::SyncSender<Job>>,
    done: mpsc::Receiver<anyhow::Result<()>>,
    worker: Option<JoinHandle<()>>,
    pending: Option<Pending>,
}

impl CommitStage {
    /// Starts the committing thread.
    pub fn start(ctx: SealerContext) -> anyhow::Result<Self> {
        // Capacity 1 with at most one job outstanding: `submit` never blocks on the channel.
        let (jobs, inbox) = mpsc::sync_channel::<Job>(1);
        let (report, done) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                for job in inbox {
                    let result = tracing::info_span!("committer").in_scope(|| {
                        block_exec::commit_with_diff(
                            &ctx,
                            job.candidate,
                            &job.diff,
                            job.certificate,
                        )
                    });
                    let failed = result.is_err();
                    if report.send(result).is_err() || failed {
                        return;
                    }
                }
            })
            .context("starting the committer thread")?;
        Ok(CommitStage {
            jobs: Some(jobs),
            done,
            worker: Some(worker),
            pending: None,
        })
    }

    /// The block being made durable, if any.
    pub fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// Hands a decided block to the committing thread once the one before it is durable.
    pub fn submit(&mut self, mut c: Candidate, certificate: Vec<u8>) -> anyhow::Result<()> {
        self.wait()?;
        let diff = Arc::new(std::mem::take(&mut c.executed.diff));
        let mut taken = HashMap::with_capacity(c.included.len());
        for tx in &c.included {
            let next = tx.nonce().saturating_add(1);
            let t = taken.entry(tx.sender).or_insert(next);
            *t = (*t).max(next);
        }
        for tx in &c.rejected {
            taken.insert(tx.sender, u64::MAX);
        }
        let block = c.block.clone();
        let jobs = self.jobs.as_ref().context("the commit stage is closed")?;
        jobs.send(Job {
            candidate: c,
            diff: diff.clone(),
            certificate,
        })
        .map_err(|_| anyhow!("the committer thread is gone"))?;
        self.pending = Some(Pending { block, diff, taken });
        Ok(())
    }

    /// Returns once the pending block (if any) is durable, announced and gone from the
    /// pool; its commit's error if it failed.
    pub fn wait(&mut self) -> anyhow::Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        match self.done.recv() {
            Ok(result) => result.with_context(|| format!("committing block {}", p.block.number())),
            Err(_) => Err(anyhow!(
                "the committer thread stopped before block {} was durable",
                p.block.number()
            )),
        }
    }

    /// Forgets the pending block if its commit has finished (its error if it failed);
    /// never waits.
    pub fn poll(&mut self) -> anyhow::Result<()> {
        let Some(p) = &self.pending else {
            return Ok(());
        };
        let number = p.block.number();
        match self.done.try_recv() {
            Ok(result) => {
                self.pending = None;
                result.with_context(|| format!("committing block {number}"))
            }
            Err(mpsc::TryRecvError::Empty) => Ok(()),
            Err(mpsc::TryRecvError::Disconnected) => Err(anyhow!(
                "the committer thread stopped before block {number} was durable"
            )),
        }
    }

    /// Commits what is in flight, then stops the thread.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let result = self.wait();
        self.close();
        result
    }

    fn close(&mut self) {
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            if w.join().is_err() {
                tracing::error!("the committer thread panicked");
            }
        }
    }
}

impl Drop for CommitStage {
    /// A block in flight still reaches storage: closing the channel lets the thread finish
    /// it before it ends.
    fn drop(&mut self) {
        self.close();
    }
}
