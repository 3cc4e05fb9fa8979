//! The newest committed blocks kept in memory so RPC reads of fresh blocks skip the disk.
//! Receipts are kept encoded (the form already built for the WriteBatch) and decoded once,
//! on the first read, off the commit path.

use bcos_types::receipt::decode_receipts;
use bcos_types::{Address, Bytes, CommittedBlock, Receipt, SealedBlock};
use parking_lot::RwLock;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

pub struct CachedBlock {
    pub block: SealedBlock,
    receipts_encoded: Vec<u8>,
    receipts: OnceLock<Arc<Vec<Receipt>>>,
    pub senders: Arc<Vec<Address>>,
    pub certificate: Bytes,
}

impl CachedBlock {
    pub fn new(
        block: SealedBlock,
        receipts_encoded: Vec<u8>,
        senders: Vec<Address>,
        certificate: Bytes,
    ) -> Self {
        CachedBlock {
            block,
            receipts_encoded,
            receipts: OnceLock::new(),
            senders: Arc::new(senders),
            certificate,
        }
    }

    /// None if the cached bytes do not decode (they were encoded by this process, so that
    /// is a bug; callers fall back to the database).
    pub fn receipts(&self) -> Option<Arc<Vec<Receipt>>> {
        if let Some(r) = self.receipts.get() {
            return Some(r.clone());
        }
        let decoded = Arc::new(decode_receipts(&self.receipts_encoded).ok()?);
        Some(self.receipts.get_or_init(|| decoded).clone())
    }

    pub fn committed(&self) -> Option<CommittedBlock> {
        Some(CommittedBlock {
            block: self.block.clone(),
            receipts: self.receipts()?,
            senders: self.senders.clone(),
            certificate: self.certificate.clone(),
        })
    }
}

/// Consecutive blocks, newest last.
pub struct RecentBlocks {
    capacity: usize,
    blocks: RwLock<VecDeque<Arc<CachedBlock>>>,
}

impl RecentBlocks {
    pub fn new(capacity: usize) -> Self {
        RecentBlocks {
            capacity,
            blocks: RwLock::new(VecDeque::with_capacity(capacity)),
        }
    }

    pub fn push(&self, entry: CachedBlock) {
        if self.capacity == 0 {
            return;
        }
        let mut blocks = self.blocks.write();
        // Keep the run consecutive so lookups are an index computation.
        if let Some(last) = blocks.back() {
            if last.block.number().checked_add(1) != Some(entry.block.number()) {
                blocks.clear();
            }
        }
        if blocks.len() == self.capacity {
            blocks.pop_front();
        }
        blocks.push_back(Arc::new(entry));
    }

    pub fn get(&self, number: u64) -> Option<Arc<CachedBlock>> {
        let blocks = self.blocks.read();
        let first = blocks.front()?.block.number();
        let idx = usize::try_from(number.checked_sub(first)?).ok()?;
        blocks.get(idx).cloned()
    }
}
