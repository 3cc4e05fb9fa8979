//! Block and header format (spec/execution.md §1).

use crate::codec::{decode_exact, CodecError};
use crate::merkle;
use crate::receipt::Receipt;
use crate::tx::Tx;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader, RlpDecodable, RlpEncodable};
use std::sync::Arc;

/// A block header. Its hash, `keccak256(rlp(header))`, is the block hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct Header {
    pub parent_hash: B256,
    pub number: u64,
    /// Seconds since the Unix epoch, as in Ethereum.
    pub timestamp: u64,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub base_fee_per_gas: u64,
    /// The sealer's address; receives priority fees.
    pub beneficiary: Address,
    /// Merkle root over the transaction hashes (§2.1).
    pub tx_root: B256,
    /// Merkle root over the encoded receipts (§2.2).
    pub receipts_root: B256,
    /// Chained state-diff commitment (§2.3).
    pub state_root: B256,
    pub logs_bloom: Bloom,
    /// Consensus data (e.g. the proposer and view), opaque to execution.
    pub extra_data: Bytes,
}

impl Header {
    pub fn hash(&self) -> B256 {
        keccak256(alloy_rlp::encode(self))
    }
    pub fn decode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_exact(bytes)
    }
}

/// A header and its transactions, in execution order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    pub header: Header,
    pub txs: Vec<Arc<Tx>>,
}

impl Block {
    /// Encoding: `rlp([header, [tx_0, tx_1, ...]])` where each `tx_i` is an RLP byte string
    /// holding the transaction's EIP-2718 encoding.
    pub fn encode_bytes(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    pub fn decode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_exact(bytes)
    }

    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    pub fn seal(self) -> SealedBlock {
        SealedBlock::new(self)
    }

    fn txs_payload_len(&self) -> usize {
        self.txs.iter().map(|tx| tx_string_len(tx)).sum()
    }
}

fn tx_string_len(tx: &Tx) -> usize {
    let len = tx.encoded_len();
    RlpHeader {
        list: false,
        payload_length: len,
    }
    .length()
        + len
}

impl Encodable for Block {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        let txs_len = self.txs_payload_len();
        let txs_header = RlpHeader {
            list: true,
            payload_length: txs_len,
        };
        let payload = self.header.length() + txs_header.length() + txs_len;
        RlpHeader {
            list: true,
            payload_length: payload,
        }
        .encode(out);
        self.header.encode(out);
        txs_header.encode(out);
        for tx in &self.txs {
            tx.encoded().as_slice().encode(out);
        }
    }

    fn length(&self) -> usize {
        let txs_len = self.txs_payload_len();
        let txs_header = RlpHeader {
            list: true,
            payload_length: txs_len,
        };
        let payload = self.header.length() + txs_header.length() + txs_len;
        RlpHeader {
            list: true,
            payload_length: payload,
        }
        .length()
            + payload
    }
}

impl Decodable for Block {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let outer = RlpHeader::decode(buf)?;
        if !outer.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut body, rest) = split(buf, outer.payload_length)?;
        let header = Header::decode(&mut body)?;
        let txs_header = RlpHeader::decode(&mut body)?;
        if !txs_header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut txs_body, after_txs) = split(body, txs_header.payload_length)?;
        if !after_txs.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: outer.payload_length,
                got: outer.payload_length - after_txs.len(),
            });
        }
        let mut txs = Vec::new();
        while !txs_body.is_empty() {
            let raw = alloy_rlp::Header::decode_bytes(&mut txs_body, false)?;
            let tx = Tx::decode(raw).map_err(|_| alloy_rlp::Error::Custom("bad transaction"))?;
            txs.push(Arc::new(tx));
        }
        *buf = rest;
        Ok(Block { header, txs })
    }
}

fn split(buf: &[u8], len: usize) -> alloy_rlp::Result<(&[u8], &[u8])> {
    if buf.len() < len {
        return Err(alloy_rlp::Error::InputTooShort);
    }
    Ok(buf.split_at(len))
}

/// A block with its hash computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    pub block: Arc<Block>,
    pub hash: B256,
}

impl SealedBlock {
    pub fn new(block: Block) -> Self {
        let hash = block.hash();
        SealedBlock {
            block: Arc::new(block),
            hash,
        }
    }
    pub fn header(&self) -> &Header {
        &self.block.header
    }
    pub fn number(&self) -> u64 {
        self.block.header.number
    }
}

/// §2.1: Merkle root over the transaction hashes, in block order.
pub fn tx_root(txs: &[Arc<Tx>]) -> B256 {
    merkle::root(txs.iter().map(|tx| tx.hash()))
}

/// §2.2: Merkle root over the receipts' consensus encodings, in block order.
pub fn receipts_root(receipts: &[Receipt]) -> B256 {
    merkle::root(receipts.iter().map(|r| r.encode_bytes()))
}

/// The union of the receipts' blooms.
pub fn logs_bloom(receipts: &[Receipt]) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for r in receipts {
        bloom.accrue_bloom(&r.bloom());
    }
    bloom
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::test_txs::*;
    use proptest::prelude::*;

    fn block(n_txs: usize, number: u64) -> Block {
        let txs = (0..n_txs)
            .map(|i| {
                Arc::new(Tx::from_envelope(of_type(
                    i as u8,
                    i as u64,
                    5,
                    vec![i as u8; i],
                    &key(3),
                )))
            })
            .collect::<Vec<_>>();
        let header = Header {
            number,
            timestamp: 1_700_000_000 + number,
            gas_limit: 30_000_000,
            tx_root: tx_root(&txs),
            extra_data: Bytes::from(vec![1, 2, 3]),
            ..Default::default()
        };
        Block { header, txs }
    }

    proptest! {
        #[test]
        fn block_round_trips_and_rejects_damage(
            n in 0usize..6, number in any::<u64>(), cut in any::<prop::sample::Index>(), extra in any::<u8>()
        ) {
            let b = block(n, number);
            let bytes = b.encode_bytes();
            prop_assert_eq!(bytes.len(), b.length());
            let back = Block::decode_bytes(&bytes).unwrap();
            prop_assert_eq!(&back, &b);
            prop_assert_eq!(back.hash(), b.hash());
            prop_assert!(Block::decode_bytes(&bytes[..cut.index(bytes.len())]).is_err());
            let mut trailing = bytes.clone();
            trailing.push(extra);
            prop_assert!(Block::decode_bytes(&trailing).is_err());
        }

        #[test]
        fn header_round_trips(number in any::<u64>(), gas in any::<u64>(), ts in any::<u64>()) {
            let h = Header { number, gas_used: gas, timestamp: ts, ..Default::default() };
            let bytes = alloy_rlp::encode(&h);
            prop_assert_eq!(Header::decode_bytes(&bytes).unwrap(), h);
            prop_assert!(Header::decode_bytes(&bytes[..bytes.len() - 1]).is_err());
        }
    }

    #[test]
    fn hash_covers_every_header_field() {
        let b = block(2, 9);
        let mut h = b.header.clone();
        h.state_root = B256::repeat_byte(1);
        assert_ne!(h.hash(), b.header.hash());
    }
}
