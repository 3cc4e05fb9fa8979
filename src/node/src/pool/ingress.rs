//! Ingress: raw transactions from every RPC connection meet here and are recovered in
//! parallel batches, then admitted under one pool lock.
//!
//! RPC handlers decode and check the static rules on their own task, then queue the
//! transaction and await the verdict. One thread drains whatever is queued (up to
//! `ingress_batch_max`), recovers the senders on the rayon pool (both cores; each hash at
//! most once thanks to the sender cache) and admits the batch.
//!
//! The queue is bounded in count (`pool.ingress_queue_max`) and in encoded bytes
//! (`pool.ingress_queue_bytes_max`): transactions forwarded by peers arrive without waiting
//! for a verdict, and up to 128 KiB each a count alone would allow gigabytes.

use super::{Pool, PoolError};
use crate::flow::TxStage;
use bcos_crypto::BatchRecoverer;
use bcos_types::{Tx, B256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

type Verdict = Result<B256, PoolError>;

struct Job {
    tx: Arc<Tx>,
    reply: Reply,
}

/// Where a job's verdict goes.
enum Reply {
    One(oneshot::Sender<Verdict>),
    /// The `usize`-th transaction of a [`Ingress::submit_many`] call.
    Many(Arc<Gather>, usize),
}

impl Reply {
    fn send(self, verdict: Verdict) {
        match self {
            Reply::One(reply) => {
                let _ = reply.send(verdict);
            }
            Reply::Many(gather, index) => gather.put(index, verdict),
        }
    }
}

/// The verdicts of one [`Ingress::submit_many`] call, handed over together when the last
/// arrives: one wake-up of the caller for the whole batch, not one per transaction. If
/// jobs are dropped unanswered (the ingress thread stopped), the last `Arc` drops the
/// sender and the caller sees the channel closed.
struct Gather {
    state: parking_lot::Mutex<GatherState>,
}

struct GatherState {
    verdicts: Vec<Option<Verdict>>,
    left: usize,
    done: Option<oneshot::Sender<Vec<Verdict>>>,
}

impl Gather {
    fn put(&self, index: usize, verdict: Verdict) {
        let mut st = self.state.lock();
        let Some(place) = st.verdicts.get_mut(index) else {
            return;
        };
        if place.replace(verdict).is_none() {
            st.left = st.left.saturating_sub(1);
        }
        if st.left == 0 {
            if let Some(done) = st.done.take() {
                let all = std::mem::take(&mut st.verdicts)
                    .into_iter()
                    .map(|v| v.unwrap_or(Err(PoolError::ShuttingDown)))
                    .collect();
                let _ = done.send(all);
            }
        }
    }
}

pub struct Ingress {
    sender: parking_lot::Mutex<Option<SyncSender<Job>>>,
    queue_max: usize,
    /// Encoded bytes of the queued transactions, against `bytes_max`.
    queued_bytes: Arc<AtomicUsize>,
    bytes_max: usize,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Ingress {
    pub fn start(
        pool: Arc<Pool>,
        recoverer: Arc<BatchRecoverer>,
        queue_max: usize,
        bytes_max: usize,
        batch_max: usize,
    ) -> Arc<Self> {
        let (tx, rx) = sync_channel(queue_max.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let drained = queued_bytes.clone();
        let thread = std::thread::Builder::new()
            .name("ingress".into())
            .spawn(move || run(rx, pool, recoverer, batch_max.max(1), drained))
            .expect("spawning the ingress thread at start-up");
        Arc::new(Ingress {
            sender: parking_lot::Mutex::new(Some(tx)),
            queue_max,
            queued_bytes,
            bytes_max,
            thread: parking_lot::Mutex::new(Some(thread)),
        })
    }

    /// Counts `tx`'s bytes against the byte bound, or says the queue is full.
    fn reserve(&self, tx: &Tx) -> Result<(), PoolError> {
        let size = tx.encoded_len();
        let max = self.bytes_max;
        self.queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                b.checked_add(size).filter(|total| *total <= max)
            })
            .map(|_| ())
            .map_err(|bytes| PoolError::BusyBytes { bytes, limit: max })
    }

    fn unreserve(&self, size: usize) {
        self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
    }

    /// Queues a job whose bytes are reserved; gives them back if it cannot be queued.
    fn enqueue(&self, job: Job) -> Result<(), PoolError> {
        let size = job.tx.encoded_len();
        self.reserve(&job.tx)?;
        let guard = self.sender.lock();
        let result = match guard.as_ref() {
            None => Err(PoolError::ShuttingDown),
            Some(sender) => sender.try_send(job).map_err(|e| match e {
                TrySendError::Full(_) => PoolError::Busy(self.queue_max),
                TrySendError::Disconnected(_) => PoolError::ShuttingDown,
            }),
        };
        if result.is_err() {
            self.unreserve(size);
        }
        result
    }

    /// Queues decoded transactions for recovery and admission and waits for their verdicts,
    /// in their order: queued in that order (a sender's nonces stay in sequence), each
    /// counted against the queue's bounds on its own, and answered with one wake-up when
    /// the last verdict is in.
    pub async fn submit_many(&self, txs: Vec<Arc<Tx>>) -> Vec<Result<B256, PoolError>> {
        let count = txs.len();
        if count == 0 {
            return Vec::new();
        }
        let (done, verdicts) = oneshot::channel();
        let gather = Arc::new(Gather {
            state: parking_lot::Mutex::new(GatherState {
                verdicts: (0..count).map(|_| None).collect(),
                left: count,
                done: Some(done),
            }),
        });
        for (index, tx) in txs.into_iter().enumerate() {
            let reply = Reply::Many(gather.clone(), index);
            if let Err(refused) = self.enqueue(Job { tx, reply }) {
                gather.put(index, Err(refused));
            }
        }
        // Only the queued jobs hold it now: if they are dropped unanswered, so is `done`.
        drop(gather);
        verdicts
            .await
            .unwrap_or_else(|_| (0..count).map(|_| Err(PoolError::ShuttingDown)).collect())
    }

    /// Queues a transaction without waiting for its verdict (transactions forwarded by
    /// peers: a refusal is only logged at debug level). Fails when the queue is full.
    pub fn offer(&self, tx: Arc<Tx>) -> Result<(), PoolError> {
        let (reply, _verdict) = oneshot::channel();
        self.enqueue(Job {
            tx,
            reply: Reply::One(reply),
        })
    }

    /// Stops accepting transactions, lets queued ones finish, and joins the thread.
    pub fn close(&self) {
        self.sender.lock().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

fn run(
    rx: Receiver<Job>,
    pool: Arc<Pool>,
    recoverer: Arc<BatchRecoverer>,
    batch_max: usize,
    queued_bytes: Arc<AtomicUsize>,
) {
    let mut jobs = Vec::with_capacity(batch_max);
    while let Ok(first) = rx.recv() {
        jobs.push(first);
        while jobs.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let txs: Vec<Arc<Tx>> = jobs.iter().map(|j| j.tx.clone()).collect();
        // Out of the queue: the batch's bytes are the batch's now (at most `batch_max`).
        let taken: usize = txs.iter().map(|t| t.encoded_len()).sum();
        queued_bytes.fetch_sub(taken, Ordering::AcqRel);
        let started = Instant::now();
        let (recovered, stats) =
            tracing::info_span!("recover").in_scope(|| recoverer.recover_batch_counted(txs));
        pool.metrics.record_recovery(stats, started.elapsed());
        if pool.metrics.flow.is_on() {
            let ok = recovered
                .iter()
                .filter_map(|r| r.as_ref().ok().map(|t| t.hash()));
            pool.metrics.flow.txs(TxStage::Recovered, ok);
        }
        let verdicts = pool.admit_batch(recovered);
        for (job, verdict) in jobs.drain(..).zip(verdicts) {
            job.reply.send(verdict);
        }
    }
}
