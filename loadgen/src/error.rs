//! Bad input (a missing or malformed profile, an unknown workload, an unreachable URL) is a
//! [`UsageError`]: the binary prints one `error:` line and exits with code 2, unlike failures
//! of the run itself (exit 1).

/// An error caused by what the user asked for rather than by the run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for `Err(UsageError(..).into())`.
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(msg.into()).into())
}

/// True when any error in `e`'s chain is a [`UsageError`].
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<UsageError>().is_some())
}
