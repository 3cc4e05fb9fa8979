//! Flow logs (whitepaper §3.4): one structured tracing event per stage a transaction or a
//! block goes through on this node, so an operator can follow one of them, or the stages'
//! latencies over a run, from the log alone (`bcos flow`, [`timeline`]).
//!
//! They cost a log line per transaction per stage, so they are off by default and switched
//! per group at run time: `[observability] flow_log` at start, then the admin listener's
//! `bcos_setFlowLog(group, on)`. Events go to the target [`TARGET`] at INFO; the node always
//! lets that target through its log filter, so switching them on is enough.
//!
//! Every event carries `group`, `stage`, `t_us` (Unix time in microseconds, taken when the
//! stage happened, so the log's own timestamp format does not matter) and `tx` (a hash) or
//! `block` (a number; `hash` where known). Transaction events after proposal carry the block
//! number too, which is how a transaction's timeline joins its block's.

pub mod command;
pub mod timeline;

use bcos_types::B256;
use std::sync::atomic::{AtomicBool, Ordering};

/// The tracing target of every flow event.
pub const TARGET: &str = "bcos_flow";

/// What a transaction goes through on a node, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxStage {
    /// Its bytes arrived over JSON-RPC (or from a peer, as a forwarded transaction).
    Received,
    /// Its sender was recovered.
    Recovered,
    /// The pool took it.
    Admitted,
    /// A block built here includes it.
    Proposed,
    /// The block that includes it was executed here.
    Executed,
    /// That block is durable here.
    Committed,
    /// Its receipt is served (subscribers have been told about its block).
    ReceiptVisible,
}

/// What a block goes through on a node (PBFT's phases; Raft has no pre-prepare or prepare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlockStage {
    /// Built here from the pool (by the leader, or the solo sealer).
    Sealed,
    /// Its proposal was accepted here (PBFT pre-prepare; Raft: appended to the log).
    PrePrepared,
    /// A prepare quorum formed for it here (PBFT).
    Prepared,
    /// Consensus decided it (PBFT commit quorum; Raft commit index).
    Committed,
    /// Executed here (by its builder while sealing, or by a replica checking it).
    Executed,
    /// Durable here (block, receipts and state), and announced.
    Stored,
}

impl TxStage {
    pub const ALL: [TxStage; 7] = [
        TxStage::Received,
        TxStage::Recovered,
        TxStage::Admitted,
        TxStage::Proposed,
        TxStage::Executed,
        TxStage::Committed,
        TxStage::ReceiptVisible,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TxStage::Received => "received",
            TxStage::Recovered => "recovered",
            TxStage::Admitted => "admitted",
            TxStage::Proposed => "proposed",
            TxStage::Executed => "executed",
            TxStage::Committed => "committed",
            TxStage::ReceiptVisible => "receipt_visible",
        }
    }
}

impl BlockStage {
    /// In the order a PBFT replica goes through them: it executes a block after preparing
    /// it, before its commit vote (PBFT-R4); a leader executes while sealing.
    pub const ALL: [BlockStage; 6] = [
        BlockStage::Sealed,
        BlockStage::PrePrepared,
        BlockStage::Prepared,
        BlockStage::Executed,
        BlockStage::Committed,
        BlockStage::Stored,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BlockStage::Sealed => "sealed",
            BlockStage::PrePrepared => "pre_prepared",
            BlockStage::Prepared => "prepared",
            BlockStage::Committed => "committed",
            BlockStage::Executed => "executed",
            BlockStage::Stored => "stored",
        }
    }
}

/// One group's flow log switch and emitter.
#[derive(Debug)]
pub struct Flow {
    group: u32,
    on: AtomicBool,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new(0, false)
    }
}

fn now_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

impl Flow {
    pub fn new(group: u32, on: bool) -> Self {
        Flow {
            group,
            on: AtomicBool::new(on),
        }
    }

    /// Switches the log on or off; returns whether it was on.
    pub fn set(&self, on: bool) -> bool {
        self.on.swap(on, Ordering::AcqRel)
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// `stage` of each of `hashes` (none of them in a block yet).
    pub fn txs(&self, stage: TxStage, hashes: impl IntoIterator<Item = B256>) {
        if !self.is_on() {
            return;
        }
        let t_us = now_us();
        for tx in hashes {
            tracing::info!(target: TARGET, group = self.group, stage = %stage.name(), %tx, t_us, "flow");
        }
    }

    /// `stage` of each of `hashes`, all in block `block`.
    pub fn txs_in_block(&self, stage: TxStage, block: u64, hashes: impl IntoIterator<Item = B256>) {
        if !self.is_on() {
            return;
        }
        let t_us = now_us();
        for tx in hashes {
            tracing::info!(target: TARGET, group = self.group, stage = %stage.name(), %tx, block, t_us, "flow");
        }
    }

    /// `stage` of block `block` (its hash where known).
    pub fn block(&self, stage: BlockStage, block: u64, hash: Option<&B256>) {
        if !self.is_on() {
            return;
        }
        let t_us = now_us();
        match hash {
            Some(hash) => {
                tracing::info!(target: TARGET, group = self.group, stage = %stage.name(), block, %hash, t_us, "flow")
            }
            None => {
                tracing::info!(target: TARGET, group = self.group, stage = %stage.name(), block, t_us, "flow")
            }
        }
    }
}
