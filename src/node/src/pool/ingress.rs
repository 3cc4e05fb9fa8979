//! Ingress: raw transactions from every RPC connection meet here and are recovered in
//! parallel batches, then admitted under one pool lock.
//!
//! RPC handlers decode and check the static rules on their own task, then queue the
//! transaction and await the verdict. One thread drains whatever is queued (up to
//! `ingress_batch_max`), recovers the senders on the rayon pool (both cores; each hash at
//! most once thanks to the sender cache) and admits the batch.

use super::{Pool, PoolError};
use bcos_crypto::BatchRecoverer;
use bcos_types::{Tx, B256};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

struct Job {
    tx: Arc<Tx>,
    reply: oneshot::Sender<Result<B256, PoolError>>,
}

pub struct Ingress {
    sender: parking_lot::Mutex<Option<SyncSender<Job>>>,
    queue_max: usize,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Ingress {
    pub fn start(
        pool: Arc<Pool>,
        recoverer: BatchRecoverer,
        queue_max: usize,
        batch_max: usize,
    ) -> Arc<Self> {
        let (tx, rx) = sync_channel(queue_max.max(1));
        let thread = std::thread::Builder::new()
            .name("ingress".into())
            .spawn(move || run(rx, pool, recoverer, batch_max.max(1)))
            .expect("spawning the ingress thread at start-up");
        Arc::new(Ingress {
            sender: parking_lot::Mutex::new(Some(tx)),
            queue_max,
            thread: parking_lot::Mutex::new(Some(thread)),
        })
    }

    /// Queues a decoded transaction for recovery and admission and waits for the verdict.
    pub async fn submit(&self, tx: Arc<Tx>) -> Result<B256, PoolError> {
        let (reply, verdict) = oneshot::channel();
        {
            let guard = self.sender.lock();
            let Some(sender) = guard.as_ref() else {
                return Err(PoolError::ShuttingDown);
            };
            match sender.try_send(Job { tx, reply }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(PoolError::Busy(self.queue_max)),
                Err(TrySendError::Disconnected(_)) => return Err(PoolError::ShuttingDown),
            }
        }
        verdict.await.unwrap_or(Err(PoolError::ShuttingDown))
    }

    /// Queues a transaction without waiting for its verdict (transactions forwarded by
    /// peers: a refusal is only logged at debug level). Fails when the queue is full.
    pub fn offer(&self, tx: Arc<Tx>) -> Result<(), PoolError> {
        let (reply, _verdict) = oneshot::channel();
        let guard = self.sender.lock();
        let Some(sender) = guard.as_ref() else {
            return Err(PoolError::ShuttingDown);
        };
        sender.try_send(Job { tx, reply }).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy(self.queue_max),
            TrySendError::Disconnected(_) => PoolError::ShuttingDown,
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

fn run(rx: Receiver<Job>, pool: Arc<Pool>, recoverer: BatchRecoverer, batch_max: usize) {
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
        let started = Instant::now();
        let hits_before = recoverer.cache_hits_total();
        let recovered = tracing::info_span!("recover").in_scope(|| recoverer.recover_batch(txs));
        // Only real recoveries count as items (as on the block path): a hash seen before
        // comes from the sender cache.
        let hits = recoverer.cache_hits_total().saturating_sub(hits_before) as usize;
        pool.metrics
            .recover
            .record(jobs.len().saturating_sub(hits), started.elapsed());
        let verdicts = pool.admit_batch(recovered);
        for (job, verdict) in jobs.drain(..).zip(verdicts) {
            let _ = job.reply.send(verdict);
        }
    }
}
