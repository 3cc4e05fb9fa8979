//! Why the pool refused a transaction. The messages follow geth's wording where geth has one,
//! so clients that match on them keep working.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    Malformed(String),
    #[error("invalid signature")]
    InvalidSignature,
    #[error("invalid chain id: transaction has {got}, this chain is {expected}")]
    WrongChainId { got: u64, expected: u64 },
    #[error(
        "transaction has no chain id (only EIP-155 replay-protected transactions are accepted)"
    )]
    Unprotected,
    #[error("nonce too low: next nonce {next}, tx nonce {got}")]
    NonceTooLow { next: u64, got: u64 },
    #[error("nonce too high: next nonce {next}, tx nonce {got}, at most {gap_max} ahead")]
    NonceTooHigh { next: u64, got: u64, gap_max: u64 },
    #[error("nonce has max value")]
    NonceMax,
    #[error("transaction cost overflows: gas * max fee + value exceeds 2^256 - 1")]
    CostOverflow,
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds { balance: String, cost: String },
    #[error("exceeds block gas limit: tx gas {gas}, block gas limit {limit}")]
    GasLimitExceeded { gas: u64, limit: u64 },
    #[error("gas limit too high: tx gas {gas} exceeds the per-transaction cap {cap} (EIP-7825)")]
    GasAboveTxCap { gas: u64, cap: u64 },
    #[error("intrinsic gas too low: tx gas {gas}, needs at least {needed}")]
    IntrinsicGasTooLow { gas: u64, needed: u64 },
    #[error("max fee per gas less than block base fee: max fee {fee_cap}, base fee {base_fee}")]
    FeeCapTooLow { fee_cap: u128, base_fee: u64 },
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    #[error("oversized data: transaction of {size} bytes, limit {limit}")]
    Oversized { size: usize, limit: usize },
    #[error("already known")]
    AlreadyKnown,
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error("pool full: {count} transactions, {bytes} bytes (limits {count_max}, {bytes_max})")]
    PoolFull {
        count: usize,
        bytes: usize,
        count_max: usize,
        bytes_max: usize,
    },
    #[error("pool full for sender: {count} pending transactions (limit {limit})")]
    SenderFull { count: usize, limit: usize },
    #[error(
        "too many future-nonce transactions for sender: {count} wait behind a missing nonce \
         (limit {limit}); send the missing nonce first"
    )]
    GappedSenderFull { count: usize, limit: usize },
    #[error(
        "pool full for future-nonce transactions: {count} wait behind missing nonces \
         (limit {limit}); send the missing nonce first"
    )]
    GappedPoolFull { count: usize, limit: usize },
    #[error("pool busy: {0} transactions already wait for signature recovery")]
    Busy(usize),
    #[error(
        "pool busy: {bytes} bytes of transactions already wait for signature recovery \
         (limit {limit})"
    )]
    BusyBytes { bytes: usize, limit: usize },
    /// A governance rule refused it (spec/governance.md REG-R1); the text names the rule.
    #[error("{0}")]
    Intercepted(bcos_types::governance::Interception),
    #[error("node is shutting down")]
    ShuttingDown,
    #[error("storage: {0}")]
    Storage(String),
}
