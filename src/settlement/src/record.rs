//! The settlement record (spec/settlement.md §2) and the log that carries it.
//!
//! A record is emitted on the user chain as a log of [`SETTLEMENT_ADDRESS`] with topic
//! [`settlement_topic`] and data the ABI encoding of five words, so ordinary Ethereum
//! tooling decodes it as `Settlement(uint64,uint64,uint256,uint256,uint64)`.

use alloy_primitives::{address, keccak256, Address, Log, B256, U256};

/// The settlement system contract, beside FISCO BCOS 2.x's system contracts (0x…1003 node
/// manager, 0x…1004 CNS, ...). On a user chain it holds what was settled (out of
/// circulation there); on the merchant chain it verifies submissions.
pub const SETTLEMENT_ADDRESS: Address = address!("0x0000000000000000000000000000000000001010");

/// The event signature the topic hashes.
pub const SETTLEMENT_EVENT: &str = "Settlement(uint64,uint64,uint256,uint256,uint64)";

/// Bytes of a record's log data: five 32-byte words.
pub const RECORD_LEN: usize = 5 * 32;

/// One settlement of a user chain's proxy balance (XS-R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SettlementRecord {
    /// The user chain's chain id: a record can only be credited as that chain's.
    pub chain_id: u64,
    /// 1, 2, 3, ... per user chain, without gaps.
    pub seq: u64,
    /// What the proxy held when the record was made (never zero).
    pub amount: U256,
    /// The sum of `amount` over records 1..=seq of this chain.
    pub cumulative: U256,
    /// The user-chain block that holds the record.
    pub block: u64,
}

impl SettlementRecord {
    /// The ABI encoding: `chain_id ‖ seq ‖ amount ‖ cumulative ‖ block`, one word each.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[24..32].copy_from_slice(&self.chain_id.to_be_bytes());
        out[56..64].copy_from_slice(&self.seq.to_be_bytes());
        out[64..96].copy_from_slice(&self.amount.to_be_bytes::<32>());
        out[96..128].copy_from_slice(&self.cumulative.to_be_bytes::<32>());
        out[152..160].copy_from_slice(&self.block.to_be_bytes());
        out
    }

    /// Parses exactly [`RECORD_LEN`] bytes; a uint64 word with high bytes set is refused.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != RECORD_LEN {
            return None;
        }
        let word = |i: usize| &bytes[i * 32..(i + 1) * 32];
        let small = |i: usize| -> Option<u64> {
            let w = word(i);
            if w[..24].iter().any(|b| *b != 0) {
                return None;
            }
            let mut v = [0u8; 8];
            v.copy_from_slice(&w[24..]);
            Some(u64::from_be_bytes(v))
        };
        Some(SettlementRecord {
            chain_id: small(0)?,
            seq: small(1)?,
            amount: U256::from_be_slice(word(2)),
            cumulative: U256::from_be_slice(word(3)),
            block: small(4)?,
        })
    }

    /// The log the user chain's settlement contract emits for this record.
    pub fn to_log(&self) -> Log {
        Log::new_unchecked(
            SETTLEMENT_ADDRESS,
            vec![settlement_topic()],
            self.encode().to_vec().into(),
        )
    }

    /// The record a log carries, if it is a settlement log of [`SETTLEMENT_ADDRESS`].
    pub fn from_log(log: &Log) -> Option<Self> {
        if log.address != SETTLEMENT_ADDRESS || log.data.topics() != [settlement_topic()] {
            return None;
        }
        Self::decode(&log.data.data)
    }
}

/// keccak256 of [`SETTLEMENT_EVENT`]: topic 0 of every settlement log (hashed once; every
/// log of a scanned block is compared with it).
pub fn settlement_topic() -> B256 {
    static TOPIC: std::sync::LazyLock<B256> =
        std::sync::LazyLock::new(|| keccak256(SETTLEMENT_EVENT.as_bytes()));
    *TOPIC
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SettlementRecord {
        SettlementRecord {
            chain_id: 20_201,
            seq: 7,
            amount: U256::from(5u64),
            cumulative: U256::MAX - U256::from(1u64),
            block: u64::MAX,
        }
    }

    #[test]
    fn record_round_trips_through_its_log() {
        let r = sample();
        assert_eq!(SettlementRecord::decode(&r.encode()), Some(r));
        assert_eq!(SettlementRecord::from_log(&r.to_log()), Some(r));
    }

    #[test]
    fn damaged_or_foreign_logs_are_not_records() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(SettlementRecord::decode(&bytes[..RECORD_LEN - 1]), None);
        let mut high = bytes;
        high[0] = 1; // chain id word with a high byte set
        assert_eq!(SettlementRecord::decode(&high), None);
        let mut log = r.to_log();
        log.address = Address::repeat_byte(1);
        assert_eq!(SettlementRecord::from_log(&log), None);
        let mut log = r.to_log();
        log.data = alloy_primitives::LogData::new_unchecked(vec![B256::ZERO], log.data.data);
        assert_eq!(SettlementRecord::from_log(&log), None);
    }
}
