//! The user-chain side (spec/settlement.md §3, XS-R1..R3): turning what the merchant's proxy
//! account holds into the next settlement record.
//!
//! The node's settlement contract on a user chain calls [`ProducerState::settle`] when a
//! `settle()` transaction executes; the state lives in that contract's storage, so it is part
//! of the chain's state and every replica computes the same record.

use crate::record::SettlementRecord;
use alloy_primitives::U256;

/// Why no record was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleRefusal {
    /// XS-R1: a record is made only when the proxy holds something.
    #[error("the proxy account holds nothing to settle")]
    NothingToSettle,
    /// XS-R1: at most one record per block, so a record's block names it.
    #[error("block {block} already holds settlement record {seq}")]
    AlreadySettledInBlock { block: u64, seq: u64 },
    #[error("cumulative settled amount would overflow 2^256")]
    Overflow,
    #[error("sequence numbers exhausted")]
    SeqExhausted,
}

/// What a user chain has settled so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProducerState {
    /// Sequence number of the last record; 0 before the first.
    pub last_seq: u64,
    /// Sum of all records' amounts.
    pub cumulative: U256,
    /// Block of the last record; 0 before the first (block 0 is genesis, which holds none).
    pub last_block: u64,
}

impl ProducerState {
    /// XS-R2: the next record takes the proxy's whole balance, numbered `last_seq + 1`.
    /// The caller moves `proxy_balance` out of the proxy in the same state transition
    /// (XS-R3), so what is recorded and what leaves circulation are one amount.
    pub fn settle(
        &self,
        chain_id: u64,
        proxy_balance: U256,
        block: u64,
    ) -> Result<(SettlementRecord, ProducerState), SettleRefusal> {
        if proxy_balance.is_zero() {
            return Err(SettleRefusal::NothingToSettle);
        }
        if self.last_seq > 0 && block <= self.last_block {
            return Err(SettleRefusal::AlreadySettledInBlock {
                block,
                seq: self.last_seq,
            });
        }
        let seq = self
            .last_seq
            .checked_add(1)
            .ok_or(SettleRefusal::SeqExhausted)?;
        let cumulative = self
            .cumulative
            .checked_add(proxy_balance)
            .ok_or(SettleRefusal::Overflow)?;
        let record = SettlementRecord {
            chain_id,
            seq,
            amount: proxy_balance,
            cumulative,
            block,
        };
        let next = ProducerState {
            last_seq: seq,
            cumulative,
            last_block: block,
        };
        Ok((record, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_numbered_from_one_and_accumulate() {
        let s0 = ProducerState::default();
        let (r1, s1) = s0.settle(9, U256::from(5u64), 3).unwrap();
        assert_eq!(
            (r1.seq, r1.amount, r1.cumulative, r1.block),
            (1, U256::from(5u64), U256::from(5u64), 3)
        );
        let (r2, s2) = s1.settle(9, U256::from(7u64), 4).unwrap();
        assert_eq!((r2.seq, r2.cumulative), (2, U256::from(12u64)));
        assert_eq!(s2.last_seq, 2);
        assert_eq!(r2.chain_id, 9);
    }

    #[test]
    fn nothing_held_or_a_second_record_in_a_block_is_refused() {
        let s0 = ProducerState::default();
        assert_eq!(
            s0.settle(9, U256::ZERO, 3),
            Err(SettleRefusal::NothingToSettle)
        );
        let (_, s1) = s0.settle(9, U256::from(1u64), 3).unwrap();
        assert_eq!(
            s1.settle(9, U256::from(1u64), 3),
            Err(SettleRefusal::AlreadySettledInBlock { block: 3, seq: 1 })
        );
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        let s = ProducerState {
            last_seq: 1,
            cumulative: U256::MAX,
            last_block: 1,
        };
        assert_eq!(
            s.settle(9, U256::from(1u64), 2),
            Err(SettleRefusal::Overflow)
        );
    }
}
