//! Reading settlement state from the nodes: `bcos_getSettlementStatus` on a user chain and on
//! the merchant chain, the user chains' `Settlement` logs (record positions for the lag), and
//! payers' nonces and accounts' balances for the conservation ledger. Every field the checks
//! rely on is required: a status without it is an error naming the field, never a zero.

use super::lag::Record;
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::{address, keccak256, Address, B256, U256};
use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

/// The settlement system contract (`SETTLEMENT_ADDRESS` in bcos-settlement).
pub const SETTLEMENT_ADDRESS: Address = address!("0x0000000000000000000000000000000000001010");
/// The user chains' record event (spec/settlement.md §2.1).
pub const SETTLEMENT_EVENT: &str = "Settlement(uint64,uint64,uint256,uint256,uint64)";
/// Widest block range one `eth_getLogs` asks for (the node's default limit is 10,000).
const LOGS_RANGE_MAX: u64 = 5_000;
/// Accounts one JSON-RPC batch reads.
const READ_BATCH_MAX: usize = 5_000;

/// A user chain's `bcos_getSettlementStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserStatus {
    pub chain_id: u64,
    pub last_seq: u64,
    /// Cumulative amount moved out of the proxy into records.
    pub settled: U256,
    pub proxy: U256,
    pub head: u64,
}

/// One user chain as the merchant chain's status lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditedChain {
    pub chain_id: u64,
    pub group: u64,
    pub credited_seq: u64,
    pub credited: U256,
}

/// The merchant chain's `bcos_getSettlementStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct MerchantStatus {
    pub merchant: Address,
    pub balance: U256,
    pub chains: Vec<CreditedChain>,
}

impl MerchantStatus {
    pub fn chain(&self, chain_id: u64) -> Option<&CreditedChain> {
        self.chains.iter().find(|c| c.chain_id == chain_id)
    }
}

fn u64_field(v: &Value, f: &str) -> anyhow::Result<u64> {
    v.get(f)
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("settlement status without {f}: {v}"))
}

/// A `0x…` quantity (the node writes U256 values in hex).
pub fn u256_hex(s: &str) -> anyhow::Result<U256> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| anyhow!("not a 0x quantity: {s:?}"))?;
    U256::from_str_radix(digits, 16).map_err(|e| anyhow!("bad quantity {s:?}: {e}"))
}

fn u256_field(v: &Value, f: &str) -> anyhow::Result<U256> {
    let s = v
        .get(f)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("settlement status without {f}: {v}"))?;
    u256_hex(s).with_context(|| format!("settlement status field {f}"))
}

pub fn parse_user(v: &Value) -> anyhow::Result<UserStatus> {
    if v.get("role").and_then(Value::as_str) != Some("user") {
        bail!("not a user chain's settlement status: {v}");
    }
    Ok(UserStatus {
        chain_id: u64_field(v, "chainId")?,
        last_seq: u64_field(v, "lastSeq")?,
        settled: u256_field(v, "settled")?,
        proxy: u256_field(v, "proxyBalance")?,
        head: u64_field(v, "head")?,
    })
}

pub fn parse_merchant(v: &Value) -> anyhow::Result<MerchantStatus> {
    if v.get("role").and_then(Value::as_str) != Some("merchant") {
        bail!("not the merchant chain's settlement status: {v}");
    }
    let merchant = v
        .get("merchant")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Address>().ok())
        .ok_or_else(|| anyhow!("settlement status without merchant: {v}"))?;
    let chains = v
        .get("chains")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("settlement status without chains: {v}"))?
        .iter()
        .map(|c| {
            Ok(CreditedChain {
                chain_id: u64_field(c, "chainId")?,
                group: u64_field(c, "group")?,
                credited_seq: u64_field(c, "creditedSeq")?,
                credited: u256_field(c, "credited")?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(MerchantStatus {
        merchant,
        balance: u256_field(v, "merchantBalance")?,
        chains,
    })
}

pub fn user(c: &mut RpcClient) -> anyhow::Result<UserStatus> {
    parse_user(&c.must("bcos_getSettlementStatus", json!([]))?)
}

pub fn merchant(c: &mut RpcClient) -> anyhow::Result<MerchantStatus> {
    parse_merchant(&c.must("bcos_getSettlementStatus", json!([]))?)
}

pub fn settlement_topic() -> B256 {
    keccak256(SETTLEMENT_EVENT)
}

/// A record from one `eth_getLogs` entry: seq and block from the log's data (the record's own
/// fields), its position from `transactionIndex` (None when the node leaves it out).
pub fn parse_record_log(log: &Value) -> anyhow::Result<Record> {
    let data = log
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("log without data: {log}"))?;
    let bytes = decode_hex(data)?;
    if bytes.len() != 5 * 32 {
        bail!("a Settlement log of {} bytes (160 expected)", bytes.len());
    }
    let word = |i: usize| -> anyhow::Result<u64> {
        let w = &bytes[i * 32..(i + 1) * 32];
        if w[..24].iter().any(|b| *b != 0) {
            bail!("Settlement log word {i} is not a uint64");
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&w[24..]);
        Ok(u64::from_be_bytes(v))
    };
    let index = match log.get("transactionIndex") {
        Some(v) if !v.is_null() => Some(u32::try_from(hex_u64(v)?)?),
        _ => None,
    };
    Ok(Record {
        seq: word(1)?,
        block: word(4)?,
        index,
    })
}

fn decode_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        bail!("odd-length hex");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| anyhow!("bad hex: {e}")))
        .collect()
}

/// The records a user chain made in blocks `from..=to`, in order.
pub fn records(c: &mut RpcClient, from: u64, to: u64) -> anyhow::Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = to.min(start + LOGS_RANGE_MAX - 1);
        let logs = c.must(
            "eth_getLogs",
            json!([{
                "fromBlock": format!("0x{start:x}"),
                "toBlock": format!("0x{end:x}"),
                "address": SETTLEMENT_ADDRESS,
                "topics": [settlement_topic()],
            }]),
        )?;
        for log in logs
            .as_array()
            .ok_or_else(|| anyhow!("eth_getLogs returned no array: {logs}"))?
        {
            out.push(parse_record_log(log)?);
        }
        start = end + 1;
    }
    out.sort_by_key(|r| r.seq);
    Ok(out)
}

/// Σ of `who`'s nonces at `tag` ("latest" or "pending").
pub fn nonce_sum(c: &mut RpcClient, who: &[Address], tag: &str) -> anyhow::Result<u64> {
    let mut sum = 0u64;
    for chunk in who.chunks(READ_BATCH_MAX) {
        let calls: Vec<(&str, Value)> = chunk
            .iter()
            .map(|a| ("eth_getTransactionCount", json!([a, tag])))
            .collect();
        for r in c.batch(&calls)? {
            let v = r.map_err(|e| anyhow!("eth_getTransactionCount: {e}"))?;
            sum += hex_u64(&v)?;
        }
    }
    Ok(sum)
}

/// Σ of `who`'s balances at the head.
pub fn balance_sum(c: &mut RpcClient, who: &[Address]) -> anyhow::Result<U256> {
    let mut sum = U256::ZERO;
    for chunk in who.chunks(READ_BATCH_MAX) {
        let calls: Vec<(&str, Value)> = chunk
            .iter()
            .map(|a| ("eth_getBalance", json!([a, "latest"])))
            .collect();
        for r in c.batch(&calls)? {
            let v = r.map_err(|e| anyhow!("eth_getBalance: {e}"))?;
            let s = v
                .as_str()
                .ok_or_else(|| anyhow!("eth_getBalance returned {v}"))?;
            sum += u256_hex(s)?;
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_as_the_node_writes_them() {
        // As a 4-node cluster with 2 user chains (`bcos init --hf-merchant`) answered.
        let m = json!({"chainId":20200,"chains":[
            {"chainId":20201,"created":"0x0","createdSeq":0,"credited":"0x10","creditedSeq":2,"group":1,"lagBlocks":0,"lagMs":0,"lagRecords":0},
            {"chainId":20202,"created":"0x0","createdSeq":0,"credited":"0x0","creditedSeq":0,"group":2,"lagBlocks":0,"lagMs":0,"lagRecords":0}],
            "merchant":"0x00000000000000000000000000000000000000aa","merchantBalance":"0x10","role":"merchant"});
        let s = parse_merchant(&m).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.merchant, Address::with_last_byte(0xaa));
        assert_eq!(s.balance, U256::from(16));
        assert_eq!(s.chains.len(), 2);
        let c = s.chain(20201).cloned();
        assert_eq!(
            c.map(|c| (c.group, c.credited_seq, c.credited)),
            Some((1, 2, U256::from(16)))
        );
        let u = json!({"blocksSinceLastRecord":0,"chainId":20201,"head":7,"lastBlock":5,"lastSeq":3,
            "merchant":"0x00000000000000000000000000000000000000aa","msSinceLastRecord":0,
            "proxyBalance":"0x2","role":"user","settled":"0xff"});
        let u = parse_user(&u).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!((u.chain_id, u.last_seq, u.head), (20201, 3, 7));
        assert_eq!((u.settled, u.proxy), (U256::from(255), U256::from(2)));
        // The wrong side, or a field missing, is an error naming it.
        assert!(parse_user(&m).is_err());
        let err = parse_merchant(&json!({"role":"merchant",
            "merchant":"0x00000000000000000000000000000000000000aa","chains":[]}))
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
        assert!(err.contains("merchantBalance"), "{err}");
    }

    #[test]
    fn record_logs_decode_the_five_words() {
        let mut data = String::from("0x");
        for w in [20201u64, 4, 9, 30, 77] {
            data.push_str(&format!("{w:064x}"));
        }
        let log = json!({"data": data, "transactionIndex": "0x3", "blockNumber": "0x4d"});
        let r = parse_record_log(&log).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            r,
            Record {
                seq: 4,
                block: 77,
                index: Some(3)
            }
        );
        let no_index = json!({ "data": data });
        assert_eq!(parse_record_log(&no_index).ok().and_then(|r| r.index), None);
        assert!(parse_record_log(&json!({"data": "0x00"})).is_err());
    }

    #[test]
    fn quantities_are_hex() {
        assert_eq!(u256_hex("0x0").ok(), Some(U256::ZERO));
        assert_eq!(
            u256_hex("0xde0b6b3a7640000").ok(),
            Some(U256::from(10u64.pow(18)))
        );
        assert!(u256_hex("12").is_err());
        assert!(u256_hex("0xzz").is_err());
    }
}
