//! A block as the rest of the node sees it once it is durable.

use crate::block::SealedBlock;
use crate::receipt::Receipt;
use alloy_primitives::{Address, Bytes};
use std::sync::Arc;

/// A committed block with what RPC needs to serve it: receipts, the senders recovered at
/// admission (stored so nothing is recovered twice), and the commit certificate (empty for
/// the solo protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBlock {
    pub block: SealedBlock,
    pub receipts: Arc<Vec<Receipt>>,
    pub senders: Arc<Vec<Address>>,
    pub certificate: Bytes,
}

impl CommittedBlock {
    pub fn number(&self) -> u64 {
        self.block.number()
    }
}
