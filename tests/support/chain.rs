//! Chain queries the tests repeat: quantities, balances, nonces, the head, the pool size, and
//! awaiting receipts (polling with a bounded number of attempts: awaiting an event, not timing).

use crate::rpc::{Rpc, RpcErr};
use crate::tx::hex;
use alloy_primitives::{Address, U256};
use serde_json::{json, Value};
use std::time::Duration;

/// Receipt polls before a test gives up on a transaction (x `RECEIPT_POLL_MS` = 2 minutes).
pub const RECEIPT_POLL_ATTEMPTS: u32 = 2_400;
pub const RECEIPT_POLL_MS: u64 = 50;

/// A hex quantity (`"0x1a"`) as u64; a JSON number is accepted too.
pub fn as_u64(v: &Value) -> u64 {
    if let Some(n) = v.as_u64() {
        return n;
    }
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    let h = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("quantity without 0x: {s:?}"));
    u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("quantity {s:?}: {e}"))
}

pub fn as_u256(v: &Value) -> U256 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    s.parse::<U256>()
        .unwrap_or_else(|e| panic!("quantity {s:?}: {e}"))
}

pub fn quantity(n: u64) -> String {
    format!("{n:#x}")
}

pub fn addr_hex(a: &Address) -> String {
    hex(a.as_slice())
}

pub fn head(rpc: &Rpc) -> u64 {
    as_u64(&rpc.ok("eth_blockNumber", json!([])))
}

pub fn balance(rpc: &Rpc, a: &Address) -> U256 {
    as_u256(&rpc.ok("eth_getBalance", json!([addr_hex(a), "latest"])))
}

pub fn balances(rpc: &Rpc, addrs: &[Address]) -> Vec<U256> {
    let calls: Vec<(&str, Value)> = addrs
        .iter()
        .map(|a| ("eth_getBalance", json!([addr_hex(a), "latest"])))
        .collect();
    rpc.batch(&calls)
        .into_iter()
        .map(|r| as_u256(&r.unwrap_or_else(|e| panic!("eth_getBalance: {e}"))))
        .collect()
}

/// `tag`: "latest" or "pending".
pub fn nonce(rpc: &Rpc, a: &Address, tag: &str) -> u64 {
    as_u64(&rpc.ok("eth_getTransactionCount", json!([addr_hex(a), tag])))
}

/// Transactions waiting in the pool (`bcos_getPendingTxSize`).
pub fn pending_size(rpc: &Rpc) -> u64 {
    as_u64(&rpc.ok("bcos_getPendingTxSize", json!([])))
}

pub fn send_raw(rpc: &Rpc, raw: &[u8]) -> Result<String, RpcErr> {
    rpc.call("eth_sendRawTransaction", json!([hex(raw)]))
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("tx hash not a string: {v}"))
                .to_string()
        })
}

pub fn receipt(rpc: &Rpc, hash: &str) -> Option<Value> {
    let r = rpc.ok("eth_getTransactionReceipt", json!([hash]));
    (!r.is_null()).then_some(r)
}

/// Receipts of `hashes` in one batch; `None` for those not (yet) committed.
pub fn receipts(rpc: &Rpc, hashes: &[String]) -> Vec<Option<Value>> {
    let calls: Vec<(&str, Value)> = hashes
        .iter()
        .map(|h| ("eth_getTransactionReceipt", json!([h])))
        .collect();
    rpc.batch(&calls)
        .into_iter()
        .map(|r| {
            let v = r.unwrap_or_else(|e| panic!("eth_getTransactionReceipt: {e}"));
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// Awaits the receipt of `hash` (bounded polling).
pub fn wait_receipt(rpc: &Rpc, hash: &str) -> Value {
    wait_receipts(rpc, &[hash.to_string()])
        .pop()
        .expect("one receipt per hash")
}

/// Awaits the receipts of all `hashes`, polling the missing ones in batches.
pub fn wait_receipts(rpc: &Rpc, hashes: &[String]) -> Vec<Value> {
    let mut got: Vec<Option<Value>> = vec![None; hashes.len()];
    for _ in 0..RECEIPT_POLL_ATTEMPTS {
        let missing: Vec<usize> = (0..hashes.len()).filter(|&i| got[i].is_none()).collect();
        if missing.is_empty() {
            return got.into_iter().map(|r| r.expect("all present")).collect();
        }
        let ask: Vec<String> = missing.iter().map(|&i| hashes[i].clone()).collect();
        for (i, r) in missing.into_iter().zip(receipts(rpc, &ask)) {
            got[i] = r;
        }
        if got.iter().any(Option::is_none) {
            std::thread::sleep(Duration::from_millis(RECEIPT_POLL_MS));
        }
    }
    let missing: Vec<&String> = hashes
        .iter()
        .zip(&got)
        .filter(|(_, r)| r.is_none())
        .map(|(h, _)| h)
        .collect();
    panic!(
        "no receipt after {RECEIPT_POLL_ATTEMPTS} polls for {} tx(s), e.g. {:?}; pool size {}",
        missing.len(),
        missing.first(),
        pending_size(rpc)
    );
}

/// Awaits the receipts (all successful) at `rpc`; returns the highest block holding one.
pub fn committed_top(rpc: &Rpc, hashes: &[String]) -> u64 {
    wait_receipts(rpc, hashes)
        .iter()
        .map(|r| {
            assert!(status_ok(r), "{r}");
            as_u64(&r["blockNumber"])
        })
        .max()
        .unwrap_or(0)
}

/// Awaits an empty pool (bounded polling).
pub fn wait_pool_empty(rpc: &Rpc) {
    for _ in 0..RECEIPT_POLL_ATTEMPTS {
        if pending_size(rpc) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(RECEIPT_POLL_MS));
    }
    panic!(
        "pool not empty after {RECEIPT_POLL_ATTEMPTS} polls: {}",
        pending_size(rpc)
    );
}

/// `eth_getBlockByNumber(n, full)`; `None` past the head.
pub fn block(rpc: &Rpc, n: u64, full: bool) -> Option<Value> {
    let b = rpc.ok("eth_getBlockByNumber", json!([quantity(n), full]));
    (!b.is_null()).then_some(b)
}

/// What a receipt cost its sender: `gasUsed × effectiveGasPrice`.
pub fn fee_paid(receipt: &Value) -> U256 {
    U256::from(as_u64(&receipt["gasUsed"])) * as_u256(&receipt["effectiveGasPrice"])
}

pub fn status_ok(receipt: &Value) -> bool {
    as_u64(&receipt["status"]) == 1
}
