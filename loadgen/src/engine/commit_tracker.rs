//! Commit tracking: a dedicated connection polls `eth_blockNumber` every
//! [`TrackerConfig::poll_interval_ms`] and reads each new block's transaction hashes with
//! `eth_getBlockByNumber(n, false)`; each of our hashes gets its commit time stamped when its
//! block is first seen (so a commit time is late by at most one poll interval plus one block
//! fetch) and its position (block, index) recorded. A level over several groups runs one
//! tracker per group, each following its group's blocks at the group's endpoint.

use super::Timing;
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::B256;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bits of a packed position that hold the transaction's index in its block.
const POSITION_INDEX_BITS: u32 = 24;

/// (block, index in the block) as one word: the block in the high bits.
pub fn pack_position(block: u64, index: usize) -> u64 {
    (block << POSITION_INDEX_BITS) | (index as u64 & ((1 << POSITION_INDEX_BITS) - 1))
}

/// The (block, index) of [`pack_position`]; None for UNSET.
pub fn unpack_position(p: u64) -> Option<(u64, u32)> {
    (p != super::UNSET).then_some((
        p >> POSITION_INDEX_BITS,
        (p & ((1 << POSITION_INDEX_BITS) - 1)) as u32,
    ))
}

/// A transaction committed in a level's window: where, and when loadgen saw it (ns since
/// the level's epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Its position among the group's pre-signed transactions.
    pub tx: usize,
    pub block: u64,
    pub index: u32,
    pub ns: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Pause between polls that found no new block.
    pub poll_interval_ms: u64,
    /// Blocks fetched in one JSON-RPC batch when the tracker is behind.
    pub blocks_per_batch_max: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            poll_interval_ms: 2,
            blocks_per_batch_max: 8,
        }
    }
}

#[derive(Deserialize)]
struct BlockHashes {
    transactions: Vec<B256>,
}

pub struct CommitTracker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl CommitTracker {
    /// Starts tracking the blocks of group `group` (at `url`) after the current head. `index`
    /// maps our hashes to positions in `timing`.
    pub fn spawn(
        url: &str,
        group: usize,
        index: Arc<HashMap<B256, u32>>,
        timing: Arc<Timing>,
        config: TrackerConfig,
    ) -> anyhow::Result<CommitTracker> {
        let mut client = RpcClient::connect(url)?;
        let mut seen = hex_u64(&client.must("eth_blockNumber", json!([]))?)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("commit-tracker-{group}"))
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    let head = hex_u64(&client.must("eth_blockNumber", json!([]))?)?;
                    if head <= seen {
                        std::thread::sleep(Duration::from_millis(config.poll_interval_ms));
                        continue;
                    }
                    let last = head.min(seen + config.blocks_per_batch_max);
                    let calls: Vec<(&str, serde_json::Value)> = (seen + 1..=last)
                        .map(|n| ("eth_getBlockByNumber", json!([format!("0x{n:x}"), false])))
                        .collect();
                    let blocks = client.batch(&calls)?;
                    let now = timing.now_ns();
                    for (n, b) in (seen + 1..=last).zip(blocks) {
                        let b = b.map_err(|e| anyhow::anyhow!("eth_getBlockByNumber({n}): {e}"))?;
                        let block: BlockHashes = serde_json::from_value(b)?;
                        let ours: Vec<usize> = block
                            .transactions
                            .iter()
                            .enumerate()
                            .filter_map(|(k, h)| {
                                let i = *index.get(h)? as usize;
                                timing.position[i].store(pack_position(n, k), Ordering::Relaxed);
                                Some(i)
                            })
                            .collect();
                        timing.mark_committed(ours.into_iter(), now);
                    }
                    seen = last;
                }
                Ok(())
            })?;
        Ok(CommitTracker {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the tracker; reports an error it hit (a dead node, a malformed block).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the commit tracker panicked"),
            None => Ok(()),
        }
    }

    /// True while the tracker thread runs (false after it failed).
    pub fn alive(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for CommitTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
