//! Node-level methods: `web3_*`, `net_*`, the chain facts of `eth_*` (chainId, syncing,
//! accounts) and the FISCO BCOS `bcos_*` namespace, each mapped to one [`ChainApi`] call.
//!
//! [`ChainApi`]: crate::ChainApi

use crate::blocking::{self, Pool};
use crate::errors::{ok, RpcResult};
use crate::server::Ctx;
use alloy_primitives::{keccak256, Bytes, B256, U64};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

/// The most pooled transactions one `bcos_getPendingTransactions` answers (≈ 1 KiB of JSON
/// each, well within `max_response_body_bytes`).
pub const PENDING_TXS_ANSWER_MAX: usize = 1_000;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_method("web3_clientVersion", |_, c, _| ok(c.api.client_version()))?;
    m.register_method("web3_sha3", |p, _, _| -> RpcResult<B256> {
        let data: Bytes = p.one()?;
        Ok(keccak256(&data))
    })?;
    // net_version is the chain id as a decimal string (geth, anvil).
    m.register_method("net_version", |_, c, _| ok(c.api.chain_id().to_string()))?;
    m.register_method("net_listening", |_, _, _| ok(true))?;
    m.register_method("net_peerCount", |_, c, _| ok(U64::from(c.api.peer_count())))?;
    m.register_method("eth_chainId", |_, c, _| ok(U64::from(c.api.chain_id())))?;
    m.register_method("eth_syncing", |_, c, _| {
        if !c.api.syncing() {
            return ok(serde_json::Value::Bool(false));
        }
        // geth's progress object; a single BFT node only "syncs" while replaying its own log.
        let head = U64::from(c.api.head_number());
        ok(serde_json::json!({ "startingBlock": "0x0", "currentBlock": head, "highestBlock": head }))
    })?;
    m.register_method("eth_accounts", |_, c, _| ok(c.api.accounts()))?;
    m.register_method("bcos_getNodeInfo", |_, c, _| ok(c.api.node_info()))?;
    m.register_method("bcos_getGroupList", |_, c, _| ok(c.api.group_list()))?;
    m.register_method("bcos_getConsensusStatus", |_, c, _| {
        ok(c.api.consensus_status())
    })?;
    m.register_method("bcos_getPendingTxSize", |_, c, _| {
        ok(U64::from(c.api.pending_tx_count()))
    })?;
    m.register_method("bcos_getPeers", |_, c, _| ok(c.api.peers()))?;
    // Pooled transactions (at most `PENDING_TXS_ANSWER_MAX`, or fewer if asked), as
    // eth_getTransactionByHash shows a pending one.
    m.register_method("bcos_getPendingTransactions", |p, c, _| {
        let asked: Option<U64> = p.sequence().optional_next()?;
        let max = asked.map_or(PENDING_TXS_ANSWER_MAX, |n| {
            n.to::<u64>().min(PENDING_TXS_ANSWER_MAX as u64) as usize
        });
        let txs: Vec<_> = c
            .api
            .pending_txs(max)
            .iter()
            .map(crate::convert::pending_rpc_tx)
            .collect();
        ok(txs)
    })?;
    // Transactions refused at admission by a governance rule, from journal number N.
    m.register_method("bcos_getInterceptions", |p, c, _| {
        let from: Option<U64> = p.sequence().optional_next()?;
        c.api
            .interceptions(from.map_or(0, |n| n.to::<u64>()))
            .map_err(crate::errors::api_error)
    })?;
    // The commit certificate stored with block N (PBFT: view, signers, BLS aggregate).
    blocking::register(
        m,
        "bcos_getBlockCertificate",
        Pool::Read,
        |p, c, _| -> RpcResult<serde_json::Value> {
            let n: U64 = p.one()?;
            c.api
                .block_certificate(n.to::<u64>())
                .map_err(crate::errors::api_error)?
                .ok_or_else(|| crate::errors::invalid_params(format!("no block {n}")))
        },
    )?;
    // High-frequency-account settlement (spec/settlement.md §9).
    blocking::register(
        m,
        "bcos_getSettlementStatus",
        Pool::Read,
        |_, c, _| -> RpcResult<serde_json::Value> {
            c.api.settlement_status().map_err(crate::errors::api_error)
        },
    )?;
    blocking::register(
        m,
        "bcos_getSettlementProof",
        Pool::Read,
        |p, c, _| -> RpcResult<serde_json::Value> {
            let seq: U64 = p.one()?;
            c.api
                .settlement_proof(seq.to::<u64>())
                .map_err(crate::errors::api_error)
        },
    )?;
    m.register_method("bcos_getTotalTransactionCount", |_, c, _| {
        ok(U64::from(c.api.total_tx_count()))
    })?;
    Ok(())
}
