//! The P2P payloads of a cluster (inside bcos-net's size-limited frames): consensus
//! messages with the signatures the core leaves to its driver (spec/pbft.md §5), block
//! sync, status and transaction forwarding. Encoded with postcard; anything that does not
//! decode, or decodes with trailing bytes, is dropped by the receiver.

use bcos_consensus::pbft::{Commit, NewView, PrePrepare, Prepare, ViewChange};
use bcos_types::{Bytes, Height, B256};
use serde::{Deserialize, Serialize};

pub const WIRE_VERSION: u8 = 1;

/// A BLS aggregate over the prepare votes of a prepared certificate: `signers` is the
/// bitmap of `bcos_crypto::bls::CommitCertificate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedProof {
    pub signers: Vec<u8>,
    pub aggregate: Bytes,
}

/// A view change signed by its sender's node key (secp256k1 over keccak of the postcard
/// encoding of `(group, signer, vc, proof)`), so a new leader can forward it in its new
/// view and nobody can invent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedViewChange {
    pub signer: u32,
    pub vc: ViewChange,
    pub proof: Option<PreparedProof>,
    /// 64-byte compact signature and its parity.
    pub sig: Bytes,
    pub parity: u8,
}

/// One block with what proves it decided (sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedBlock {
    pub block: Bytes,
    pub certificate: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    /// The leader's proposal and the block it names.
    PrePrepare {
        msg: PrePrepare,
        block: Bytes,
    },
    /// A prepare vote with its BLS signature (phase Prepare, zero roots).
    Prepare {
        msg: Prepare,
        sig: Bytes,
    },
    /// A commit vote with its BLS signature (phase Commit, the voter's roots).
    Commit {
        msg: Commit,
        sig: Bytes,
    },
    ViewChange(SignedViewChange),
    /// The new leader's new view: the signed view changes and, for a re-proposal, the block.
    NewView {
        height: Height,
        view: u64,
        view_changes: Vec<SignedViewChange>,
        reproposal: Option<B256>,
        block: Option<Bytes>,
    },
    /// A Raft message (postcard-encoded by the Raft driver) and, for an append, the blocks
    /// of its entries.
    Raft {
        msg: Bytes,
        blocks: Vec<Bytes>,
    },
    /// Raw transactions submitted to the sender, forwarded so the leader holds them.
    Txs(Vec<Bytes>),
    /// "My committed head is `height`."
    Status {
        height: Height,
        hash: B256,
    },
    SyncRequest {
        from: Height,
        count: u64,
    },
    SyncBlocks(Vec<CertifiedBlock>),
    /// An AMOP message (`crate::amop::wire`, postcard inside): never for the driver.
    Amop(Bytes),
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("empty frame")]
    Empty,
    #[error("wire version {0}, this node speaks {WIRE_VERSION}")]
    Version(u8),
    #[error("undecodable payload: {0}")]
    Decode(postcard::Error),
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

impl Wire {
    /// A frame payload for bcos-net.
    pub fn encode(&self) -> alloy_primitives::bytes::Bytes {
        let mut out = vec![WIRE_VERSION];
        // Serialising plain data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        alloy_primitives::bytes::Bytes::from(out)
    }

    pub fn decode(frame: &[u8]) -> Result<Wire, WireError> {
        let (&v, body) = frame.split_first().ok_or(WireError::Empty)?;
        if v != WIRE_VERSION {
            return Err(WireError::Version(v));
        }
        let (w, rest) = postcard::take_from_bytes::<Wire>(body).map_err(WireError::Decode)?;
        if !rest.is_empty() {
            return Err(WireError::Trailing(rest.len()));
        }
        Ok(w)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Wire::PrePrepare { .. } => "pre-prepare",
            Wire::Prepare { .. } => "prepare",
            Wire::Commit { .. } => "commit",
            Wire::ViewChange(_) => "view-change",
            Wire::NewView { .. } => "new-view",
            Wire::Raft { .. } => "raft",
            Wire::Txs(_) => "txs",
            Wire::Status { .. } => "status",
            Wire::SyncRequest { .. } => "sync-request",
            Wire::SyncBlocks(_) => "sync-blocks",
            Wire::Amop(_) => "amop",
        }
    }
}

/// The core-form new view a [`Wire::NewView`] carries.
pub fn core_new_view(
    height: Height,
    view: u64,
    view_changes: &[SignedViewChange],
    reproposal: Option<B256>,
) -> NewView {
    NewView {
        height,
        view,
        view_changes: view_changes
            .iter()
            .map(|s| (s.signer, s.vc.clone()))
            .collect(),
        reproposal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let w = Wire::Commit {
            msg: Commit {
                height: 3,
                view: 1,
                body: bcos_consensus::pbft::CommitBody {
                    block_hash: B256::repeat_byte(1),
                    state_root: B256::repeat_byte(2),
                    receipts_root: B256::repeat_byte(3),
                },
            },
            sig: Bytes::from(vec![7u8; 96]),
        };
        let bytes = w.encode();
        assert_eq!(Wire::decode(&bytes).unwrap(), w);
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(Wire::decode(&long), Err(WireError::Trailing(1))));
        let mut v = bytes.to_vec();
        v[0] = 9;
        assert!(matches!(Wire::decode(&v), Err(WireError::Version(9))));
        assert!(Wire::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(matches!(Wire::decode(&[]), Err(WireError::Empty)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Wire::decode(&bytes);
        }

        #[test]
        fn txs_round_trip(txs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let w = Wire::Txs(txs.into_iter().map(Bytes::from).collect());
            prop_assert_eq!(Wire::decode(&w.encode()).unwrap(), w);
        }
    }
}
