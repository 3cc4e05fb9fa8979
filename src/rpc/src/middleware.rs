//! The RPC middleware: parallel batches, and the request accounting of `conn`.
//!
//! jsonrpsee 0.26 runs the entries of a batch one after another on the connection's task
//! (`RpcService::batch` awaits each `call` in turn). A batch of hundreds of
//! `eth_sendRawTransaction` would then verify signatures on one core. [`ParallelBatch`]
//! replaces that: each call of a batch runs on its own tokio task, at most
//! `batch_parallelism_max` at once, and the answers are put back in request order. Single
//! calls also run on their own task, so a handler that panicked would cost only its own
//! request (the caller gets -32603), never the connection or the server.
//!
//! A batch's answers are bounded together by `max_response_body_bytes`; entries running
//! in parallel count their answers as they finish, and once the sum is past the limit the
//! batch is answered with jsonrpsee's "response too big" error and its other entries are
//! cancelled, so a batch holds about one limit's worth of answers, not one per entry.
//!
//! Every request (a batch counts once) takes a ticket of its connection's
//! [`ConnMeter`](crate::conn::ConnMeter) and waits for a permit of its connection, one of
//! its client IP and one of the server; the ticket keeps them until the response has been
//! written (see `conn`).
//!
//! A batch made only of `eth_sendRawTransaction` calls takes `raw_tx_batch` instead: its
//! transactions are admitted together, not one task each.

use crate::conn::{ConnMeter, Ticket};
use crate::raw_tx_batch::{self, Entries, RawTxIntake};
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, Request, RpcServiceT};
use jsonrpsee::core::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::error::reject_too_big_batch_response;
use jsonrpsee::types::{ErrorCode, ErrorObject, Id};
use jsonrpsee::Extensions;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// See the module docs.
#[derive(Clone)]
pub struct ParallelBatch<S> {
    pub(crate) service: S,
    pub(crate) parallelism: usize,
    pub(crate) response_limit: usize,
    /// Server-wide request permits (`requests_in_flight_max`).
    pub(crate) requests: Arc<Semaphore>,
}

/// Starts a request's accounting: its connection's ticket (none for a request that did not
/// come through `conn`, as in unit tests of the module) holding the client's and the
/// server's permits, waited for in that order.
async fn admit(extensions: &Extensions, requests: &Arc<Semaphore>) -> Option<Ticket> {
    let meter = extensions.get::<Arc<ConnMeter>>()?;
    let mut ticket = meter.begin();
    // The semaphores are never closed, so acquiring only fails if they were. The
    // connection's own permit first: a request waiting for it holds nothing shared.
    if let Ok(p) = meter.slots().acquire_owned().await {
        ticket.hold(p);
    }
    if let Ok(p) = meter.ip_requests().acquire_owned().await {
        ticket.hold(p);
    }
    if let Ok(p) = requests.clone().acquire_owned().await {
        ticket.hold(p);
    }
    Some(ticket)
}

/// Hands the response's bytes to the ticket. jsonrpsee writes only method and batch answers
/// after the middleware; a subscription's answer was written by `accept` or `reject` before
/// the middleware saw it, so none of it is left to wait for (counting it kept the slot taken
/// until unrelated bytes went out, and with every slot so held the socket was never read
/// again).
fn finish(ticket: Option<Ticket>, rp: &MethodResponse) {
    if let Some(t) = ticket {
        let to_write = if rp.is_method_call() || rp.is_batch() {
            rp.as_json().get().len()
        } else {
            0
        };
        t.finish(to_write);
    }
}

fn owned_request(req: Request<'_>) -> Request<'static> {
    Request {
        jsonrpc: req.jsonrpc,
        id: req.id.into_owned(),
        method: Cow::Owned(req.method.into_owned()),
        params: req.params.map(|p| Cow::Owned(p.into_owned())),
        extensions: req.extensions,
    }
}

fn panicked(id: Id<'static>) -> MethodResponse {
    tracing::error!("JSON-RPC handler panicked");
    MethodResponse::error(id, ErrorObject::from(ErrorCode::InternalError))
}

impl<S> ParallelBatch<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Clone + Send + Sync + 'static,
{
    fn spawn_call(
        &self,
        req: Request<'_>,
    ) -> (Id<'static>, tokio::task::JoinHandle<MethodResponse>) {
        let req = owned_request(req);
        let id = req.id.clone();
        let service = self.service.clone();
        (id, tokio::spawn(async move { service.call(req).await }))
    }

    /// A batch entry: its answer's size is added to the batch's `answered`, and an answer
    /// that takes the batch past its limit is dropped at once (the batch fails anyway).
    fn spawn_counted(
        &self,
        req: Request<'_>,
        answered: Arc<AtomicUsize>,
    ) -> (Id<'static>, tokio::task::JoinHandle<MethodResponse>) {
        let req = owned_request(req);
        let id = req.id.clone();
        let service = self.service.clone();
        let limit = self.response_limit;
        let task = tokio::spawn(async move {
            let id = req.id.clone();
            let rp = service.call(req).await;
            let size = rp.as_json().get().len();
            let total = answered
                .fetch_add(size, Ordering::AcqRel)
                .saturating_add(size);
            if total > limit {
                return MethodResponse::error(id, reject_too_big_batch_response(limit));
            }
            rp
        });
        (id, task)
    }
}

impl<S> RpcServiceT for ParallelBatch<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let ticket = admit(&request.extensions, &this.requests).await;
            let (id, task) = this.spawn_call(request);
            let rp = task.await.unwrap_or_else(|_| panicked(id));
            finish(ticket, &rp);
            rp
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let ticket = admit(batch.extensions(), &this.requests).await;
            let intake = batch.extensions().get::<RawTxIntake>().cloned();
            let entries: Entries<'_> = batch.into_iter().collect();
            let rp = match intake {
                Some(intake) if raw_tx_batch::only_raw_txs(&entries) => {
                    raw_tx_batch::answer(intake, entries, this.response_limit).await
                }
                _ => this.run_batch(entries).await,
            };
            finish(ticket, &rp);
            rp
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

impl<S> ParallelBatch<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    async fn run_batch(&self, entries: Entries<'_>) -> MethodResponse {
        enum Slot {
            Running(Id<'static>, tokio::task::JoinHandle<MethodResponse>),
            Done(MethodResponse),
        }
        let this = self;
        let limit = this.response_limit;
        let too_big = || MethodResponse::error(Id::Null, reject_too_big_batch_response(limit));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut out = BatchResponseBuilder::new_with_limit(limit);
        let mut in_flight: VecDeque<Slot> = VecDeque::new();
        let mut running = 0usize;
        let mut got_notification = false;
        let mut entries = entries.into_iter();
        loop {
            // Keep up to `parallelism` calls running ahead of the oldest unanswered one.
            while running < this.parallelism {
                let Some(entry) = entries.next() else { break };
                match entry {
                    Ok(BatchEntry::Call(req)) => {
                        let (id, task) = this.spawn_counted(req, answered.clone());
                        in_flight.push_back(Slot::Running(id, task));
                        running += 1;
                    }
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.service.notification(n).await;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        in_flight
                            .push_back(Slot::Done(MethodResponse::error(id.into_owned(), err)));
                    }
                }
            }
            if answered.load(Ordering::Acquire) > limit {
                for slot in in_flight {
                    if let Slot::Running(_, task) = slot {
                        task.abort();
                    }
                }
                return too_big();
            }
            let Some(slot) = in_flight.pop_front() else {
                break;
            };
            let rp = match slot {
                Slot::Done(rp) => rp,
                Slot::Running(id, task) => {
                    running -= 1;
                    task.await.unwrap_or_else(|_| panicked(id))
                }
            };
            if let Err(too_big) = out.append(rp) {
                return too_big;
            }
        }
        if out.is_empty() && got_notification {
            MethodResponse::notification()
        } else {
            MethodResponse::from_batch(out.finish())
        }
    }
}
