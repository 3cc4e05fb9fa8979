//! `bcos_getSettlementStatus` and `bcos_getSettlementProof` (spec/settlement.md §9): what
//! each side has done, read from the settlement contract's storage at the head, and the
//! proof a relayer carries.

use super::config::{SettlementConfig, SettlementRole};
use crate::api::NodeApi;
use bcos_execution::settlement::{merchant_slots, user_slots};
use bcos_rpc::{ApiError, ChainApi, StateAt};
use bcos_settlement::{SettlementProof, SETTLEMENT_ADDRESS};
use bcos_types::{Address, U256};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

/// This node's APIs of the groups it runs, so the merchant side can report each user
/// chain's own progress next to what it credited (when the node runs both).
pub type GroupApis = Arc<parking_lot::RwLock<BTreeMap<u32, Weak<NodeApi>>>>;

/// What a group's RPC needs to answer the settlement methods.
pub struct SettlementView {
    pub config: SettlementConfig,
    pub role: SettlementRole,
    /// chain id -> group, of the registered user chains.
    pub chains: BTreeMap<u64, u32>,
    pub peers: GroupApis,
}

fn read(api: &NodeApi, slot: U256) -> Result<U256, ApiError> {
    api.storage_at(&SETTLEMENT_ADDRESS, &slot, StateAt::Latest)
}

fn small(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn balance(api: &NodeApi, who: &Address) -> Result<U256, ApiError> {
    Ok(api
        .account(who, StateAt::Latest)?
        .map_or(U256::ZERO, |a| a.balance))
}

/// The user side: last record, settled amount, what the proxy holds, and how long the
/// proxy's takings have waited (blocks and ms since the last record).
pub fn user_status(api: &NodeApi, merchant: &Address, now_s: u64) -> Result<Value, ApiError> {
    let last_seq = small(read(api, user_slots::LAST_SEQ)?);
    let last_block = small(read(api, user_slots::LAST_BLOCK)?);
    let head = api.head_number();
    let last_ts = api.header(last_block)?.map_or(0, |(_, h)| h.timestamp);
    Ok(json!({
        "role": "user",
        "chainId": api.chain_id(),
        "merchant": merchant,
        "lastSeq": last_seq,
        "lastBlock": last_block,
        "settled": read(api, user_slots::CUMULATIVE)?,
        "proxyBalance": balance(api, merchant)?,
        "head": head,
        "blocksSinceLastRecord": head.saturating_sub(last_block),
        "msSinceLastRecord": now_s.saturating_sub(last_ts).saturating_mul(1000),
    }))
}

/// One user chain as the merchant chain sees it, with that chain's own progress and the
/// lag of its oldest uncredited record where this node runs the user chain too.
fn merchant_chain(
    api: &NodeApi,
    chain: u64,
    group: u32,
    peer: Option<Arc<NodeApi>>,
    now_s: u64,
) -> Result<Value, ApiError> {
    let credited_seq = small(read(api, merchant_slots::credited_seq(chain))?);
    let mut out = json!({
        "chainId": chain,
        "group": group,
        "creditedSeq": credited_seq,
        "credited": read(api, merchant_slots::credited(chain))?,
    });
    if let Some(user) = peer {
        let created = small(read(&user, user_slots::LAST_SEQ)?);
        out["createdSeq"] = json!(created);
        out["created"] = json!(read(&user, user_slots::CUMULATIVE)?);
        out["lagRecords"] = json!(created.saturating_sub(credited_seq));
        let (mut lag_blocks, mut lag_ms) = (0u64, 0u64);
        if created > credited_seq {
            let oldest = small(read(&user, user_slots::record_block(credited_seq + 1))?);
            lag_blocks = user.head_number().saturating_sub(oldest);
            let ts = user.header(oldest)?.map_or(now_s, |(_, h)| h.timestamp);
            lag_ms = now_s.saturating_sub(ts).saturating_mul(1000);
        }
        out["lagBlocks"] = json!(lag_blocks);
        out["lagMs"] = json!(lag_ms);
    }
    Ok(out)
}

pub fn status(api: &NodeApi, view: &SettlementView, now_s: u64) -> Result<Value, ApiError> {
    let merchant = view.config.merchant;
    match view.role {
        SettlementRole::User => user_status(api, &merchant, now_s),
        SettlementRole::Merchant => {
            let peers = view.peers.read().clone();
            let chains = view
                .chains
                .iter()
                .map(|(chain, group)| {
                    let peer = peers.get(group).and_then(Weak::upgrade);
                    merchant_chain(api, *chain, *group, peer, now_s)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "role": "merchant",
                "chainId": api.chain_id(),
                "merchant": merchant,
                "merchantBalance": balance(api, &merchant)?,
                "chains": chains,
            }))
        }
    }
}

/// The proof of record `seq` of this user chain, built from its committed block.
pub fn proof(api: &NodeApi, seq: u64) -> Result<Value, ApiError> {
    let none = || ApiError::InvalidParams(format!("no settlement record {seq} on this chain"));
    if seq == 0 {
        return Err(none());
    }
    let block = small(read(api, user_slots::record_block(seq))?);
    if block == 0 {
        return Err(none());
    }
    let committed = api.committed_block(block)?.ok_or_else(none)?;
    let (proof, record) = SettlementProof::for_record(
        api.chain_id(),
        committed.block.block.header.clone(),
        committed.certificate.clone(),
        &committed.receipts,
        seq,
    )
    .ok_or_else(|| {
        ApiError::Internal(format!(
            "block {block} holds no record {seq} though storage says so"
        ))
    })?;
    Ok(json!({
        "chainId": record.chain_id,
        "seq": record.seq,
        "block": record.block,
        "amount": record.amount,
        "cumulative": record.cumulative,
        "proof": bcos_types::Bytes::from(proof.encode()),
    }))
}
