//! Transaction receipts (spec/execution.md §2.2).
//!
//! Only consensus data is stored: a receipt's own gas use, its effective gas price and the
//! created contract's address are derived from the block and the transaction when served.

use crate::codec::{decode_exact, CodecError};
use alloy_primitives::{Bloom, Log};
use alloy_rlp::{RlpDecodable, RlpEncodable};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct Receipt {
    /// EIP-2718 type of the transaction.
    pub tx_type: u8,
    /// true: the transaction succeeded (status 1); false: it reverted or halted (status 0).
    pub success: bool,
    pub cumulative_gas_used: u64,
    pub logs: Vec<Log>,
}

impl Receipt {
    pub fn bloom(&self) -> Bloom {
        self.logs.iter().collect()
    }
    pub fn encode_bytes(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
    pub fn decode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_exact(bytes)
    }
}

/// A block's receipts as one value, the way storage keeps them.
pub fn encode_receipts(receipts: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(receipts, &mut out);
    out
}

pub fn decode_receipts(bytes: &[u8]) -> Result<Vec<Receipt>, CodecError> {
    decode_exact(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, Bytes, LogData, B256};
    use proptest::prelude::*;

    fn arb_receipt() -> impl Strategy<Value = Receipt> {
        (
            any::<bool>(),
            any::<u64>(),
            0u8..3,
            proptest::collection::vec(
                (
                    any::<u8>(),
                    0usize..4,
                    proptest::collection::vec(any::<u8>(), 0..40),
                ),
                0..4,
            ),
        )
            .prop_map(|(success, cumulative_gas_used, tx_type, logs)| Receipt {
                tx_type,
                success,
                cumulative_gas_used,
                logs: logs
                    .into_iter()
                    .map(|(a, topics, data)| Log {
                        address: Address::repeat_byte(a),
                        data: LogData::new_unchecked(
                            (0..topics).map(|t| B256::repeat_byte(t as u8)).collect(),
                            Bytes::from(data),
                        ),
                    })
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn receipts_round_trip_and_reject_damage(
            rs in proptest::collection::vec(arb_receipt(), 0..5),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = encode_receipts(&rs);
            prop_assert_eq!(decode_receipts(&bytes).unwrap(), rs.clone());
            prop_assert!(decode_receipts(&bytes[..cut.index(bytes.len())]).is_err());
            let mut trailing = bytes.clone();
            trailing.push(0x80);
            prop_assert!(decode_receipts(&trailing).is_err());
            for r in &rs {
                prop_assert_eq!(Receipt::decode_bytes(&r.encode_bytes()).unwrap(), r.clone());
            }
        }
    }
}
