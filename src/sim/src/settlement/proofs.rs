//! What a relayer reads from a node and what it submits: the settlement contract's storage,
//! the proof of a record built from the committed block that holds it (as
//! `bcos_node::settlement::status::proof` builds it behind `bcos_getSettlementProof`), the
//! `submitSettlement(bytes)` transaction, and the Byzantine relayer's forgeries.

use bcos_execution::settlement::{merchant_slots, user_slots};
use bcos_settlement::{SettlementProof, SettlementRecord, SETTLEMENT_ADDRESS};
use bcos_storage::ChainStore;
use bcos_types::{Address, Receipt, Tx, U256};
use secp256k1::SecretKey;

/// A slot of the settlement contract in a node's latest state.
pub fn slot(store: &dyn ChainStore, slot: U256) -> anyhow::Result<U256> {
    Ok(store.storage(&SETTLEMENT_ADDRESS, &slot)?)
}

fn small(v: U256) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

pub fn balance(store: &dyn ChainStore, who: &Address) -> anyhow::Result<U256> {
    Ok(store.account(who)?.map_or(U256::ZERO, |a| a.balance))
}

pub fn nonce(store: &dyn ChainStore, who: &Address) -> anyhow::Result<u64> {
    Ok(store.account(who)?.map_or(0, |a| a.nonce))
}

/// The last record a user chain made (0: none yet).
pub fn last_seq(store: &dyn ChainStore) -> anyhow::Result<u64> {
    Ok(small(slot(store, user_slots::LAST_SEQ)?))
}

/// (credited seq, credited sum) of user chain `chain` on the merchant chain.
pub fn credited(store: &dyn ChainStore, chain: u64) -> anyhow::Result<(u64, U256)> {
    Ok((
        small(slot(store, merchant_slots::credited_seq(chain))?),
        slot(store, merchant_slots::credited(chain))?,
    ))
}

/// The proof of record `seq` of user chain `chain_id`, from the committed block that holds
/// it in `store`; `None` when the store does not hold the record (yet).
pub fn proof_of(
    store: &dyn ChainStore,
    chain_id: u64,
    seq: u64,
) -> anyhow::Result<Option<(SettlementProof, SettlementRecord)>> {
    if seq == 0 {
        return Ok(None);
    }
    let block = small(slot(store, user_slots::record_block(seq))?);
    if block == 0 {
        return Ok(None);
    }
    let Some(committed) = store.committed_block(block)? else {
        return Ok(None);
    };
    // The node's own lookup, as behind bcos_getSettlementProof.
    let found = SettlementProof::for_record(
        chain_id,
        committed.block.block.header.clone(),
        committed.certificate.clone(),
        &committed.receipts,
        seq,
    );
    match found {
        Some(found) => Ok(Some(found)),
        None => anyhow::bail!("block {block} holds no record {seq} though storage says so"),
    }
}

/// A signed `submitSettlement(proof)` on the merchant chain, encoded for the pool.
pub fn submission(
    key: &SecretKey,
    chain_id: u64,
    nonce: u64,
    base_fee: u64,
    proof: &[u8],
) -> Vec<u8> {
    let tx = bcos_node::settlement::relay::submission_tx(
        key,
        chain_id,
        nonce,
        u128::from(base_fee),
        proof,
    );
    Tx::from_envelope(tx).encoded()
}

/// The proof with its record's amount raised by `delta` (and its cumulative with it, so
/// the record stays consistent with what was credited): the receipt is no longer the one
/// under the receipts root (XS-R6).
pub fn forge_amount(mut p: SettlementProof, delta: U256) -> SettlementProof {
    let at = p.log_index as usize;
    if let Some(rec) = p.receipt.logs.get(at).and_then(SettlementRecord::from_log) {
        let forged = SettlementRecord {
            amount: rec.amount.saturating_add(delta),
            cumulative: rec.cumulative.saturating_add(delta),
            ..rec
        };
        p.receipt.logs[at] = forged.to_log();
    }
    p
}

/// A record the chain never made: the next sequence number with `amount`, in a made-up
/// block one above `template`'s, whose receipts root does hold it, under `template`'s real
/// certificate (XS-R5 refuses it: the certificate is of another header).
pub fn forge_record(
    template: &SettlementProof,
    chain_id: u64,
    seq: u64,
    credited: U256,
    amount: U256,
) -> Option<SettlementProof> {
    let mut header = template.header.clone();
    header.number = header.number.checked_add(1)?;
    let record = SettlementRecord {
        chain_id,
        seq,
        amount,
        cumulative: credited.checked_add(amount)?,
        block: header.number,
    };
    let receipt = Receipt {
        tx_type: 2,
        success: true,
        cumulative_gas_used: 51_064,
        logs: vec![record.to_log()],
    };
    header.receipts_root = bcos_types::block::receipts_root(std::slice::from_ref(&receipt));
    SettlementProof::build(
        chain_id,
        header,
        template.certificate.clone(),
        &[receipt],
        0,
        0,
    )
}
