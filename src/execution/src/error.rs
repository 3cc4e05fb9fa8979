//! Executor errors. Bad transactions are never errors here: they are rejected per
//! transaction (spec/execution.md §3.3); an `ExecError` means the block or call could not be
//! executed at all.

use bcos_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The state could not be read; the block must be retried, not skipped.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// An eth_call / eth_estimateGas request that is not a valid message (e.g. insufficient
    /// funds for its value, fee below the base fee, gas below the intrinsic cost).
    #[error("{0}")]
    InvalidCall(String),
    /// An eth_call / eth_estimateGas ran past its wall-clock limit (EXEC-R12); geth's
    /// wording.
    #[error("execution aborted (timeout = {} ms)", .0.as_millis())]
    Timeout(std::time::Duration),
    /// A bug or an impossible block environment.
    #[error("internal execution error: {0}")]
    Internal(String),
}

/// The database error revm sees: a storage failure, fatal to the transaction's execution.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(#[from] pub StorageError);

impl revm::database_interface::DBErrorMarker for DbError {}

impl From<DbError> for ExecError {
    fn from(e: DbError) -> Self {
        ExecError::Storage(e.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn executor_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::Executor>();
        assert_send_sync::<super::ExecError>();
    }
}
