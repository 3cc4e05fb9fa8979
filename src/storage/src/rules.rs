//! Checks every store applies before a commit (spec/durability.md DUR-0), so MemStore and
//! DiskStore accept and reject exactly the same commits.

use crate::traits::{BlockCommit, StorageError};
use bcos_types::B256;

/// The block must extend the head: number `head + 1` with the head's hash as parent, or
/// block 0 into an empty store; and receipts and senders must match the transactions.
pub fn check_commit(
    head: Option<(u64, B256)>,
    commit: &BlockCommit<'_>,
) -> Result<(), StorageError> {
    let number = commit.block.number();
    let parent = commit.block.header().parent_hash;
    match head {
        None if number != 0 => {
            return Err(StorageError::NotNext {
                number,
                reason: "the store is empty; expected genesis (block 0)".into(),
            })
        }
        None => {}
        Some((head_number, head_hash)) => {
            if head_number.checked_add(1) != Some(number) {
                return Err(StorageError::NotNext {
                    number,
                    reason: format!("head is block {head_number}"),
                });
            }
            if parent != head_hash {
                return Err(StorageError::NotNext {
                    number,
                    reason: format!("parent hash {parent} is not the head's hash {head_hash}"),
                });
            }
        }
    }
    let txs = commit.block.block.txs.len();
    if commit.receipts.len() != txs || commit.senders.len() != txs {
        return Err(StorageError::InvalidCommit {
            number,
            reason: format!(
                "{txs} transactions but {} receipts and {} senders",
                commit.receipts.len(),
                commit.senders.len()
            ),
        });
    }
    if txs > u32::MAX as usize {
        return Err(StorageError::InvalidCommit {
            number,
            reason: format!("{txs} transactions exceed the index range"),
        });
    }
    Ok(())
}
