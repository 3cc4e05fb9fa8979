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
    // Before the first record there is no record to be late after.
    let since_ms = if last_seq == 0 {
        Value::Null
    } else {
        let last_ts = api.header(last_block)?.map_or(now_s, |(_, h)| h.timestamp);
        json!(now_s.saturating_sub(last_ts).saturating_mul(1000))
    };
    Ok(json!({
        "role": "user",
        "chainId": api.chain_id(),
        "merchant": merchant,
        "lastSeq": last_seq,
        "lastBlock": last_block,
        "settled": read(api, user_slots::CUMULATIVE)?,
        "proxyBalance": balance(api, merchant)?,
        "blocksSinceLastRecord": head.saturating_sub(last_block),
        "msSinceLastRecord": since_ms,
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

/// Attempts at a reading during which no block committed.
pub const STATUS_READS_MAX: usize = 8;

/// The status, read at one state: the fields are read one by one, so the reading is kept
/// only if the head did not move meanwhile (`head` says which state it is).
pub fn status(api: &NodeApi, view: &SettlementView, now_s: u64) -> Result<Value, ApiError> {
    for _ in 0..STATUS_READS_MAX {
        let before = api.head_number();
        let mut out = status_once(api, view, now_s)?;
        if api.head_number() == before {
            out["head"] = json!(before);
            return Ok(out);
        }
    }
    Err(ApiError::Unavailable(format!(
        "the chain committed a block during each of {STATUS_READS_MAX} readings; try again"
    )))
}

fn status_once(api: &NodeApi, view: &SettlementView, now_s: u64) -> Result<Value, ApiError> {
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
            let mut credited_total = U256::ZERO;
            for chain in view.chains.keys() {
                credited_total =
                    credited_total.saturating_add(read(api, merchant_slots::credited(*chain))?);
            }
            Ok(json!({
                "role": "merchant",
                "chainId": api.chain_id(),
                "merchant": merchant,
                "merchantBalance": balance(api, &merchant)?,
                "creditedTotal": credited_total,
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
