//! Where handlers that read storage or run the EVM execute: on tokio's blocking thread pool,
//! never on the async worker threads that also carry P2P and consensus traffic (issue 10,
//! item 11), and at most `blocking_reads_in_flight_max` reads and `evm_calls_in_flight_max`
//! calls at once; past that they wait their turn (tokio's semaphore is fair).
//!
//! The answer is serialized to JSON on the blocking thread too, so even a 16 MiB response
//! costs the async threads no more than a copy.

use crate::config::RpcConfig;
use crate::errors::{internal_error, server_error, RpcResult};
use crate::server::Ctx;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use jsonrpsee::{Extensions, RpcModule};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which bounded pool a handler runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// State, blocks, receipts, logs.
    Read,
    /// eth_call and eth_estimateGas.
    Evm,
}

/// The permits of both pools, and of blocks read back for lagging subscribers.
pub struct Pools {
    reads: Arc<Semaphore>,
    evm: Arc<Semaphore>,
    refills: Arc<Semaphore>,
}

impl Pools {
    pub fn new(config: &RpcConfig) -> Self {
        Pools {
            reads: Arc::new(Semaphore::new(
                config.blocking_reads_in_flight_max.max(1) as usize
            )),
            evm: Arc::new(Semaphore::new(
                config.evm_calls_in_flight_max.max(1) as usize
            )),
            refills: Arc::new(Semaphore::new(
                config.blocking_reads_in_flight_max.max(1) as usize
            )),
        }
    }

    /// A permit a subscription holds while it reads back a missed block and sends it, so
    /// no more than `blocking_reads_in_flight_max` such private copies of blocks exist at
    /// once (blocks from the live feed are shared).
    pub async fn refill_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.refills.clone().acquire_owned().await.ok()
    }

    fn of(&self, pool: Pool) -> &Arc<Semaphore> {
        match pool {
            Pool::Read => &self.reads,
            Pool::Evm => &self.evm,
        }
    }
}

/// Runs `f` on the blocking pool once one of `pool`'s permits is free.
pub async fn run_blocking<T, F>(ctx: Arc<Ctx>, pool: Pool, f: F) -> RpcResult<T>
where
    F: FnOnce(&Ctx) -> RpcResult<T> + Send + 'static,
    T: Send + 'static,
{
    let permit = ctx
        .pools
        .of(pool)
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| server_error("server is shutting down"))?;
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&ctx)
    });
    task.await.unwrap_or_else(|e| {
        tracing::error!(%e, "blocking JSON-RPC handler failed");
        Err(internal_error("handler failed"))
    })
}

/// A handler that may block: it reads the request, the shared state and the connection's
/// extensions, and returns the answer to serialize.
pub type Handler<R> = fn(&Params<'static>, &Ctx, &Extensions) -> RpcResult<R>;

/// Registers `method` to run `handler` in `pool` (see [`run_blocking`]).
pub fn register<R>(
    m: &mut RpcModule<Ctx>,
    method: &'static str,
    pool: Pool,
    handler: Handler<R>,
) -> Result<(), RegisterMethodError>
where
    R: Serialize + 'static,
{
    m.register_async_method(method, move |params, ctx, ext| async move {
        run_blocking(ctx, pool, move |c| -> RpcResult<Box<RawValue>> {
            let answer = handler(&params, c, &ext)?;
            serde_json::value::to_raw_value(&answer).map_err(|e| internal_error(e.to_string()))
        })
        .await
    })?;
    Ok(())
}
