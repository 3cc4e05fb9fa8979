//! The settlement proof a relayer carries (spec/settlement.md §2.2): the user-chain header,
//! its commit certificate, the receipt that holds the record and its Merkle path to the
//! header's receipts root.

use crate::record::SettlementRecord;
use alloy_primitives::Bytes;
use alloy_rlp::{RlpDecodable, RlpEncodable};
use bcos_types::codec::decode_exact;
use bcos_types::merkle::{self, MerkleProof};
use bcos_types::{Header, Receipt};

/// Largest encoded proof the verifier reads (a header with its extra data, a 1024-validator
/// certificate, a receipt with a few logs and a 64-level path fit in a few KiB).
pub const PROOF_BYTES_MAX: usize = 64 * 1024;

/// Everything the merchant chain needs to believe one record, and nothing it must trust.
#[derive(Debug, Clone, PartialEq, Eq, Hash, RlpEncodable, RlpDecodable)]
pub struct SettlementProof {
    /// The user chain the record claims to come from; checked against the record and used to
    /// pick the validator set the certificate must verify against.
    pub chain_id: u64,
    pub header: Header,
    /// The block certificate as the user chain stores it (view ‖ BLS commit certificate).
    pub certificate: Bytes,
    pub receipt: Receipt,
    pub receipt_path: MerkleProof,
    /// Which of the receipt's logs is the settlement record.
    pub log_index: u64,
}

/// Why proof bytes or their inclusion claim were refused (before any signature check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("proof of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// XS-R6.
    #[error("the receipt is not in the header's receipts root")]
    NotInReceipts,
    /// XS-R6: a reverted settle() made no record.
    #[error("the receipt is of a failed transaction")]
    ReceiptFailed,
    /// XS-R7.
    #[error("log {0} of the receipt is not a settlement record of the settlement contract")]
    NoRecord(u64),
}

impl SettlementProof {
    pub fn encode(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    /// Parses at most [`PROOF_BYTES_MAX`] bytes holding exactly one proof.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() > PROOF_BYTES_MAX {
            return Err(ProofError::TooLarge {
                len: bytes.len(),
                max: PROOF_BYTES_MAX,
            });
        }
        decode_exact(bytes).map_err(|e| ProofError::Malformed(e.to_string()))
    }

    /// XS-R6, XS-R7: the record this proof shows to be in the header's receipts, if it does.
    /// Says nothing about who committed the header: that is the certificate's job (XS-R5).
    pub fn included_record(&self) -> Result<SettlementRecord, ProofError> {
        let leaf = self.receipt.encode_bytes();
        if !merkle::verify(&self.header.receipts_root, &leaf, &self.receipt_path) {
            return Err(ProofError::NotInReceipts);
        }
        self.claimed_record()
    }

    /// The record the receipt claims, without checking that the receipt is in the block.
    pub fn claimed_record(&self) -> Result<SettlementRecord, ProofError> {
        if !self.receipt.success {
            return Err(ProofError::ReceiptFailed);
        }
        usize::try_from(self.log_index)
            .ok()
            .and_then(|i| self.receipt.logs.get(i))
            .and_then(SettlementRecord::from_log)
            .ok_or(ProofError::NoRecord(self.log_index))
    }

    /// The proof of record `seq` from the committed block whose receipts hold it, with the
    /// record; `None` if no successful receipt of the block carries record `seq`.
    pub fn for_record(
        chain_id: u64,
        header: Header,
        certificate: Bytes,
        receipts: &[Receipt],
        seq: u64,
    ) -> Option<(Self, SettlementRecord)> {
        let (index, log_index, record) = receipts
            .iter()
            .enumerate()
            .filter(|(_, r)| r.success)
            .find_map(|(i, r)| {
                r.logs.iter().enumerate().find_map(|(j, log)| {
                    SettlementRecord::from_log(log)
                        .filter(|rec| rec.seq == seq)
                        .map(|rec| (i, j, rec))
                })
            })?;
        let proof = Self::build(chain_id, header, certificate, receipts, index, log_index)?;
        Some((proof, record))
    }

    /// Builds the proof for log `log_index` of receipt `index` of a committed block.
    pub fn build(
        chain_id: u64,
        header: Header,
        certificate: Bytes,
        receipts: &[Receipt],
        index: usize,
        log_index: usize,
    ) -> Option<Self> {
        let leaves: Vec<_> = receipts
            .iter()
            .map(|r| merkle::leaf_hash(&r.encode_bytes()))
            .collect();
        Some(SettlementProof {
            chain_id,
            header,
            certificate,
            receipt: receipts.get(index)?.clone(),
            receipt_path: merkle::prove(&leaves, index)?,
            log_index: log_index as u64,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::U256;
    use bcos_types::block::receipts_root;

    /// A header at `block` whose receipts hold `record` at receipt 1 of 3, and its proof.
    pub(crate) fn proof_of(record: SettlementRecord) -> SettlementProof {
        let filler = Receipt {
            tx_type: 2,
            success: true,
            cumulative_gas_used: 21_000,
            logs: vec![],
        };
        let settle = Receipt {
            tx_type: 2,
            success: true,
            cumulative_gas_used: 42_000,
            logs: vec![record.to_log()],
        };
        let receipts = vec![filler.clone(), settle, filler];
        let header = Header {
            number: record.block,
            receipts_root: receipts_root(&receipts),
            ..Header::default()
        };
        SettlementProof::build(
            record.chain_id,
            header,
            Bytes::from_static(b"cert"),
            &receipts,
            1,
            0,
        )
        .unwrap()
    }

    pub(crate) fn record(seq: u64, amount: u64, cumulative: u64) -> SettlementRecord {
        SettlementRecord {
            chain_id: 20_201,
            seq,
            amount: U256::from(amount),
            cumulative: U256::from(cumulative),
            block: 10 + seq,
        }
    }

    #[test]
    fn a_built_proof_round_trips_and_shows_its_record() {
        let r = record(1, 5, 5);
        let p = proof_of(r);
        let back = SettlementProof::decode(&p.encode()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.included_record(), Ok(r));
    }

    #[test]
    fn the_proof_of_a_record_is_found_by_its_sequence_number() {
        let r = record(2, 5, 9);
        let p = proof_of(r);
        let receipts = vec![p.receipt.clone()];
        let header = Header {
            number: r.block,
            receipts_root: bcos_types::block::receipts_root(&receipts),
            ..Header::default()
        };
        let (found, rec) = SettlementProof::for_record(
            r.chain_id,
            header.clone(),
            p.certificate.clone(),
            &receipts,
            2,
        )
        .unwrap();
        assert_eq!(rec, r);
        assert_eq!(found.included_record(), Ok(r));
        assert!(
            SettlementProof::for_record(r.chain_id, header, p.certificate, &receipts, 3).is_none()
        );
    }

    #[test]
    fn a_forged_receipt_is_not_in_the_root() {
        let mut p = proof_of(record(1, 5, 5));
        p.receipt.logs[0] = record(1, 500, 500).to_log();
        assert_eq!(p.included_record(), Err(ProofError::NotInReceipts));
    }

    #[test]
    fn oversized_truncated_and_padded_bytes_are_refused() {
        let bytes = proof_of(record(1, 5, 5)).encode();
        assert!(matches!(
            SettlementProof::decode(&vec![0u8; PROOF_BYTES_MAX + 1]),
            Err(ProofError::TooLarge { .. })
        ));
        assert!(SettlementProof::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(SettlementProof::decode(&padded).is_err());
    }

    #[test]
    fn a_wrong_log_index_names_no_record() {
        let mut p = proof_of(record(1, 5, 5));
        p.log_index = 1;
        assert_eq!(p.included_record(), Err(ProofError::NoRecord(1)));
        p.log_index = u64::MAX;
        assert_eq!(p.included_record(), Err(ProofError::NoRecord(u64::MAX)));
    }
}
