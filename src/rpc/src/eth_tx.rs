//! Transactions: eth_sendRawTransaction, eth_getTransactionByHash (committed or pending),
//! eth_getTransactionReceipt, eth_getBlockReceipts, and the fee suggestions eth_gasPrice and
//! eth_maxPriorityFeePerGas.

use crate::blocking::{self, Pool};
use crate::convert::{pending_rpc_tx, rpc_block_receipts, rpc_receipt, rpc_tx};
use crate::errors::{api_error, ok, RpcResult};
use crate::server::Ctx;
use alloy_primitives::{Bytes, B256, U256};
use alloy_rpc_types_eth::{Transaction, TransactionReceipt};
use bcos_types::CommittedBlock;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    // Async so admission (signature recovery, pool insert) can run on the node's own
    // executor; each call of a batch gets its own task (see server.rs).
    m.register_async_method("eth_sendRawTransaction", |p, c, _| async move {
        let raw: Bytes = p.one()?;
        c.api.send_raw_transaction(raw).await.map_err(api_error)
    })?;
    blocking::register(
        m,
        "eth_getTransactionByHash",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Transaction>> {
            let hash: B256 = p.one()?;
            if let Some((block, index)) = locate(c, &hash)? {
                return Ok(rpc_tx(&block, index));
            }
            Ok(c.api.pending_tx(&hash).map(|tx| pending_rpc_tx(&tx)))
        },
    )?;
    blocking::register(
        m,
        "eth_getTransactionReceipt",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<TransactionReceipt>> {
            let hash: B256 = p.one()?;
            Ok(locate(c, &hash)?.and_then(|(block, index)| rpc_receipt(&block, index)))
        },
    )?;
    // Every receipt of one block, as geth and reth answer it (null for an unknown block): a
    // block's receipts in one read, not one read of the whole block per receipt.
    blocking::register(
        m,
        "eth_getBlockReceipts",
        Pool::Read,
        |p, c, _| -> RpcResult<Option<Vec<TransactionReceipt>>> {
            let id: alloy_eips::BlockId = p.one()?;
            let number = crate::eth_block::resolve_block_id(c, id)?;
            let Some(block) = crate::eth_block::block_at(c, number)? else {
                return Ok(None);
            };
            Ok(Some(rpc_block_receipts(&block)))
        },
    )?;
    m.register_method("eth_gasPrice", |_, c, _| {
        ok(U256::from(c.api.next_base_fee()) + U256::from(c.api.max_priority_fee()))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, c, _| {
        ok(U256::from(c.api.max_priority_fee()))
    })?;
    Ok(())
}

/// The committed block holding `hash` and the transaction's index in it.
fn locate(c: &Ctx, hash: &B256) -> RpcResult<Option<(CommittedBlock, usize)>> {
    let Some((number, index)) = c.api.tx_location(hash).map_err(api_error)? else {
        return Ok(None);
    };
    let block = c.api.committed_block(number).map_err(api_error)?;
    Ok(block.map(|b| (b, index as usize)))
}
