//! Node types → the alloy RPC types whose serde shapes are what geth and anvil send.
//!
//! Receipts store only consensus data (spec/execution.md §2.2); what clients expect beyond it
//! is derived here: a receipt's own gas from the cumulative difference, the effective gas
//! price from the block's base fee, the contract address from sender and nonce, and each
//! log's position (its `logIndex` counts across the whole block).

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{
    Eip658Value, Receipt as ConsensusReceipt, ReceiptEnvelope, ReceiptWithBloom,
};
use alloy_primitives::{Address, B256, B64, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log as RpcLog, Transaction, TransactionReceipt,
};
use bcos_types::{CommittedBlock, Header, Log, RecoveredTx, Tx};

/// The RPC header. Every block is final (one-round BFT commit), so `difficulty` and
/// `totalDifficulty` are 0 and `nonce`/`mixHash` are zero like a post-merge block.
pub fn rpc_header(hash: B256, h: &Header, size: Option<u64>) -> RpcHeader {
    RpcHeader {
        hash,
        inner: alloy_consensus::Header {
            parent_hash: h.parent_hash,
            ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
            beneficiary: h.beneficiary,
            state_root: h.state_root,
            transactions_root: h.tx_root,
            receipts_root: h.receipts_root,
            logs_bloom: h.logs_bloom,
            difficulty: U256::ZERO,
            number: h.number,
            gas_limit: h.gas_limit,
            gas_used: h.gas_used,
            timestamp: h.timestamp,
            extra_data: h.extra_data.clone(),
            mix_hash: B256::ZERO,
            nonce: B64::ZERO,
            base_fee_per_gas: Some(h.base_fee_per_gas),
            ..Default::default()
        },
        total_difficulty: Some(U256::ZERO),
        size: size.map(U256::from),
    }
}

pub fn rpc_block(cb: &CommittedBlock, full: bool) -> Block {
    let block = &cb.block.block;
    let header = rpc_header(cb.block.hash, &block.header, Some(block.length() as u64));
    let transactions = if full {
        BlockTransactions::Full((0..block.txs.len()).filter_map(|i| rpc_tx(cb, i)).collect())
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|t| t.hash()).collect())
    };
    Block {
        header,
        uncles: Vec::new(),
        transactions,
        withdrawals: None,
    }
}

fn recovered(tx: &Tx, sender: Address) -> Recovered<alloy_consensus::TxEnvelope> {
    Recovered::new_unchecked(tx.envelope().clone(), sender)
}

/// The committed transaction at `index`, with its block position and effective gas price.
pub fn rpc_tx(cb: &CommittedBlock, index: usize) -> Option<Transaction> {
    let tx = cb.block.block.txs.get(index)?;
    let sender = *cb.senders.get(index)?;
    let header = cb.block.header();
    Some(Transaction {
        inner: recovered(tx, sender),
        block_hash: Some(cb.block.hash),
        block_number: Some(header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.effective_gas_price(header.base_fee_per_gas)),
        block_timestamp: None,
    })
}

/// A pooled transaction: no block fields, as geth reports pending ones.
pub fn pending_rpc_tx(tx: &RecoveredTx) -> Transaction {
    Transaction {
        inner: recovered(&tx.tx, tx.sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// The index in the block of the first log of transaction `index`.
fn first_log_index(cb: &CommittedBlock, index: usize) -> u64 {
    cb.receipts
        .iter()
        .take(index)
        .map(|r| r.logs.len() as u64)
        .sum()
}

pub fn rpc_log(cb: &CommittedBlock, tx_index: usize, log_index: u64, log: &Log) -> RpcLog {
    RpcLog {
        inner: log.clone(),
        block_hash: Some(cb.block.hash),
        block_number: Some(cb.number()),
        block_timestamp: None,
        transaction_hash: cb.block.block.txs.get(tx_index).map(|t| t.hash()),
        transaction_index: Some(tx_index as u64),
        log_index: Some(log_index),
        removed: false,
    }
}

/// Every log of the block in order, as (transaction index, log index in block, log).
pub fn block_logs(cb: &CommittedBlock) -> impl Iterator<Item = (usize, u64, &Log)> + '_ {
    cb.receipts
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.logs.iter().map(move |l| (i, l)))
        .enumerate()
        .map(|(log_index, (i, l))| (i, log_index as u64, l))
}

pub fn rpc_receipt(cb: &CommittedBlock, index: usize) -> Option<TransactionReceipt> {
    rpc_receipt_from(cb, index, first_log_index(cb, index))
}

/// Every receipt of the block, each log index carried over from the one before (not
/// summed again from the block's start for each receipt).
pub fn rpc_block_receipts(cb: &CommittedBlock) -> Vec<TransactionReceipt> {
    let mut first = 0u64;
    let mut out = Vec::with_capacity(cb.receipts.len());
    for (index, receipt) in cb.receipts.iter().enumerate() {
        if let Some(r) = rpc_receipt_from(cb, index, first) {
            out.push(r);
        }
        first += receipt.logs.len() as u64;
    }
    out
}

/// The receipt of transaction `index`, whose first log has block-wide index `first`.
fn rpc_receipt_from(cb: &CommittedBlock, index: usize, first: u64) -> Option<TransactionReceipt> {
    let tx = cb.block.block.txs.get(index)?;
    let receipt = cb.receipts.get(index)?;
    let sender = *cb.senders.get(index)?;
    let header = cb.block.header();
    let previous_cumulative = match index {
        0 => 0,
        i => cb.receipts.get(i - 1).map_or(0, |r| r.cumulative_gas_used),
    };
    let logs = receipt
        .logs
        .iter()
        .enumerate()
        .map(|(k, l)| rpc_log(cb, index, first + k as u64, l))
        .collect();
    let with_bloom = ReceiptWithBloom {
        receipt: ConsensusReceipt {
            status: Eip658Value::Eip658(receipt.success),
            cumulative_gas_used: receipt.cumulative_gas_used,
            logs,
        },
        logs_bloom: receipt.bloom(),
    };
    let inner = match receipt.tx_type {
        1 => ReceiptEnvelope::Eip2930(with_bloom),
        2 => ReceiptEnvelope::Eip1559(with_bloom),
        _ => ReceiptEnvelope::Legacy(with_bloom),
    };
    let to = tx.to();
    Some(TransactionReceipt {
        inner,
        transaction_hash: tx.hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(cb.block.hash),
        block_number: Some(header.number),
        gas_used: receipt
            .cumulative_gas_used
            .saturating_sub(previous_cumulative),
        effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from: sender,
        to,
        contract_address: to.is_none().then(|| sender.create(tx.nonce())),
    })
}
