//! Core data types of the node: transactions (standard Ethereum typed envelopes), blocks,
//! headers, receipts, account state and state diffs, and the binary Merkle tree behind the
//! header roots.
//!
//! Implements spec/execution.md §1 (block and header format), §2 (the three roots) and the
//! codec rules (a decoder rejects truncated input and trailing bytes).
//!
//! This is a pure crate: no I/O, no async, no RNG, no heavy native dependencies.

pub mod block;
pub mod call;
pub mod cns;
pub mod codec;
pub mod committed;
pub mod governance;
pub mod ids;
pub mod merkle;
pub mod receipt;
pub mod state;
pub mod tx;

pub use alloy_primitives::{keccak256, Address, Bloom, Bytes, Log, LogData, TxKind, B256, U256};
pub use block::{Block, Header, SealedBlock};
pub use call::{CallOutcome, CallRequest};
pub use codec::CodecError;
pub use committed::CommittedBlock;
pub use ids::{BlockNumber, GroupId, Height, Term, View};
pub use receipt::Receipt;
pub use state::{Account, StateDiff, KECCAK_EMPTY};
pub use tx::{RecoveredTx, Tx, TxError};
