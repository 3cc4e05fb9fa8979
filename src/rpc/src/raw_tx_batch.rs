//! Batches made only of `eth_sendRawTransaction` calls: the way load tools and wallets
//! submit many transactions (loadgen sends batches of up to 500).
//!
//! Run through jsonrpsee, each call of such a batch is its own tokio task with its own copy
//! of the request and its extensions, goes through the method table, and waits for its own
//! verdict from the node's ingress (one wake-up per transaction). Here the batch's
//! parameters are decoded in place and handed to [`ChainApi::send_raw_transactions`]
//! together, which the node admits in order with one wake-up for the batch.
//!
//! Measured on the 2-core CI machine, `bcos dev` under loadgen's closed-loop transfers
//! (batches of up to 500): `perf record -a` for 10 s put the node's tokio threads at 21 µs
//! of CPU per committed transfer before and 9.7 µs after; in 6 interleaved rounds (fresh
//! node each, 12 s window, same build command for both binaries, order swapped after 3) the
//! node committed 1.08-1.39x the transfers per second, median 1.27.
//!
//! Each call is answered exactly as the method's handler would answer it (same result,
//! same error objects, same order), and the batch's answers are bounded by the same
//! response limit. A handler that panics costs the batch (each call gets -32603), never the
//! connection.

use crate::api::ChainApi;
use crate::errors::api_error;
use alloy_primitives::{Bytes, B256};
use jsonrpsee::core::middleware::{BatchEntry, BatchEntryErr};
use jsonrpsee::core::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::{ErrorCode, ErrorObject, Id, Params};
use jsonrpsee::ResponsePayload;
use std::sync::Arc;

pub(crate) const METHOD: &str = "eth_sendRawTransaction";

/// The group's transaction intake, put into every request's extensions by `groups`.
#[derive(Clone)]
pub(crate) struct RawTxIntake(pub(crate) Arc<dyn ChainApi>);

/// A batch's entries, as jsonrpsee parsed them.
pub(crate) type Entries<'a> = Vec<Result<BatchEntry<'a>, BatchEntryErr<'a>>>;

/// True when every entry is a call of [`METHOD`] (a notification or an entry jsonrpsee
/// could not parse sends the batch down the general path).
pub(crate) fn only_raw_txs(entries: &Entries<'_>) -> bool {
    !entries.is_empty()
        && entries
            .iter()
            .all(|e| matches!(e, Ok(BatchEntry::Call(req)) if req.method_name() == METHOD))
}

/// Answers a batch for which [`only_raw_txs`] holds; `limit` bounds each answer and the
/// batch's answers together, as `max_response_body_bytes` does on the general path.
pub(crate) async fn answer(
    intake: RawTxIntake,
    entries: Entries<'_>,
    limit: usize,
) -> MethodResponse {
    let mut ids: Vec<Id<'static>> = Vec::with_capacity(entries.len());
    // Per call: the raw transaction, or the invalid-params answer its handler would give.
    let mut decoded: Vec<Result<Bytes, MethodResponse>> = Vec::with_capacity(entries.len());
    for entry in entries {
        let Ok(BatchEntry::Call(req)) = entry else {
            continue;
        };
        let id = req.id.into_owned();
        let params = Params::new(req.params.as_ref().map(|p| p.get()));
        decoded.push(
            params
                .one::<Bytes>()
                .map_err(|e| MethodResponse::error(id.clone(), e)),
        );
        ids.push(id);
    }
    let raws: Vec<Bytes> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok().cloned())
        .collect();
    let api = intake.0;
    // On its own task, like every call of the general path: a panic is the batch's only.
    let verdicts = tokio::spawn(async move { api.send_raw_transactions(raws).await }).await;
    let mut verdicts = match verdicts {
        Ok(v) => v.into_iter(),
        Err(_) => {
            tracing::error!("JSON-RPC handler panicked (a batch of {METHOD})");
            Vec::new().into_iter()
        }
    };
    let mut out = BatchResponseBuilder::new_with_limit(limit);
    for (id, d) in ids.into_iter().zip(decoded) {
        let rp = match d {
            Err(invalid) => invalid,
            Ok(_) => match verdicts.next() {
                Some(verdict) => respond(id, verdict.map_err(api_error), limit),
                None => MethodResponse::error(id, ErrorObject::from(ErrorCode::InternalError)),
            },
        };
        if let Err(too_big) = out.append(rp) {
            return too_big;
        }
    }
    MethodResponse::from_batch(out.finish())
}

fn respond(
    id: Id<'static>,
    verdict: Result<B256, jsonrpsee::types::ErrorObjectOwned>,
    limit: usize,
) -> MethodResponse {
    match verdict {
        Ok(hash) => MethodResponse::response(id, ResponsePayload::success(hash), limit),
        Err(e) => MethodResponse::error(id, e),
    }
}
