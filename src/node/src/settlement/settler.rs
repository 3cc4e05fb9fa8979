//! The settler of a user chain (spec/settlement.md §9, XS-R1): while the merchant's proxy
//! holds something, it sends `settle()` every `settle_interval_ms`, or as soon as
//! `settle_every_blocks` blocks have passed since the last record, whichever comes first.
//!
//! The decision what to settle is the contract's, made in consensus; the settler only asks.
//! Every node may run one with the same key: they sign byte-identical transactions (same
//! nonce, deterministic signatures), so the pool keeps one and at most one lands per nonce.

use super::config::{SettlementConfig, SETTLE_GAS_LIMIT};
use crate::api::NodeApi;
use alloy_consensus::{TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use bcos_crypto::SecretKey;
use bcos_execution::settlement::{selector, user_slots, SETTLE_SIGNATURE};
use bcos_rpc::{ChainApi, StateAt};
use bcos_settlement::SETTLEMENT_ADDRESS;
use bcos_types::{Address, TxKind, U256};
use std::sync::Arc;
use std::time::Duration;

/// Parses the settler key (hex, with or without 0x).
pub fn settler_secret(hex: &str) -> anyhow::Result<SecretKey> {
    let raw = hex.trim().trim_start_matches("0x");
    let mut bytes = [0u8; 32];
    if raw.len() != 64 {
        anyhow::bail!("settlement.settler_key must be 32 bytes of hex");
    }
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&raw[2 * i..2 * i + 2], 16)
            .map_err(|_| anyhow::anyhow!("settlement.settler_key is not hex"))?;
    }
    SecretKey::from_byte_array(bytes)
        .map_err(|e| anyhow::anyhow!("settlement.settler_key is not a valid key: {e}"))
}

/// The `settle()` transaction with `nonce`, signed by `key`.
pub fn settle_tx(key: &SecretKey, chain_id: u64, nonce: u64, base_fee: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: SETTLE_GAS_LIMIT,
        max_fee_per_gas: u128::from(base_fee),
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(SETTLEMENT_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: selector(SETTLE_SIGNATURE).to_vec().into(),
    };
    bcos_crypto::sign::sign_tx(tx, key)
}

/// Whether a `settle()` is due at `head`: the proxy holds something and either the interval
/// timer fired or enough blocks passed since the last record.
fn due(api: &NodeApi, merchant: Address, every_blocks: u64, timer: bool) -> bool {
    let held = api
        .account(&merchant, StateAt::Latest)
        .ok()
        .flatten()
        .is_some_and(|a| !a.balance.is_zero());
    if !held {
        return false;
    }
    if timer {
        return true;
    }
    let last = api
        .storage_at(
            &SETTLEMENT_ADDRESS,
            &user_slots::LAST_BLOCK,
            StateAt::Latest,
        )
        .unwrap_or_default();
    let last = u64::try_from(last).unwrap_or(0);
    api.head_number().saturating_sub(last) >= every_blocks
}

/// Starts the settler of the user chain `api` serves; abort the handle to stop it.
pub fn start(
    api: Arc<NodeApi>,
    cfg: &SettlementConfig,
    key: SecretKey,
) -> tokio::task::JoinHandle<()> {
    let merchant = cfg.merchant;
    let every_blocks = cfg.settle_every_blocks;
    let interval = Duration::from_millis(cfg.settle_interval_ms);
    let settler = bcos_crypto::address_of(&key);
    let mut blocks = api.subscribe_blocks();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let timer = tokio::select! {
                _ = tick.tick() => true,
                b = blocks.recv() => match b {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => false,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            if !due(&api, merchant, every_blocks, timer) {
                continue;
            }
            // One settle() in flight at a time: wait while the pool holds ours.
            let Ok(pending) = api.pending_nonce(&settler) else {
                continue;
            };
            let latest = api
                .account(&settler, StateAt::Latest)
                .ok()
                .flatten()
                .map_or(0, |a| a.nonce);
            if pending != latest {
                continue;
            }
            let tx = settle_tx(&key, api.chain_id(), latest, api.next_base_fee());
            let raw = tx.encoded_2718();
            match api.send_raw_transaction(raw.into()).await {
                Ok(hash) => tracing::debug!(%hash, nonce = latest, "settle() sent"),
                // Another node's identical transaction got there first, or the settler is
                // out of gas money: say so, try again at the next tick.
                Err(e) => tracing::debug!(reason = %e, "settle() not sent"),
            }
            tick.reset();
        }
    })
}

/// Starts the settler when `settlement.settler_key` is set.
pub fn start_if_keyed(
    api: Arc<NodeApi>,
    cfg: &SettlementConfig,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if cfg.settler_key.is_empty() {
        return Ok(None);
    }
    let key = settler_secret(&cfg.settler_key)?;
    Ok(Some(start(api, cfg, key)))
}
