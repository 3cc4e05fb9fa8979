//! PBFT messages, timers and certificates (spec/pbft.md §2).
//!
//! Messages carry no sender and no signature: the driver verifies the signature (and every
//! certificate embedded in a message) before the message enters the core, and passes the
//! authenticated sender as `Input::Message::from`. The signing domain binds the group id.

use bcos_types::{Height, View, B256};
use serde::{Deserialize, Serialize};

use crate::protocol::NodeIndex;

/// The leader's proposal for one (height, view): only the digest; the block itself travels
/// beside the message and is checked by the driver (PBFT-R3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PrePrepare {
    pub height: Height,
    pub view: View,
    pub block_hash: B256,
}

/// A prepare vote: sent on the pre-prepare, before execution finishes (PBFT-R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Prepare {
    pub height: Height,
    pub view: View,
    pub block_hash: B256,
}

/// What a commit vote binds besides (height, view): the block and the roots this voter got
/// by executing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommitBody {
    pub block_hash: B256,
    pub state_root: B256,
    pub receipts_root: B256,
}

/// A commit vote on (height, view, block hash, state root, receipts root) (PBFT-R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Commit {
    pub height: Height,
    pub view: View,
    pub body: CommitBody,
}

/// Proof that a quorum prepared `block_hash` in `view`: the sorted voter indices of the
/// prepare votes (the driver carries the matching aggregate signature).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PreparedCert {
    pub height: Height,
    pub view: View,
    pub block_hash: B256,
    pub voters: Vec<NodeIndex>,
}

/// "I leave the views below `view` at `height`", carrying the sender's highest prepared
/// certificate forward (PBFT-R10).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ViewChange {
    pub height: Height,
    pub view: View,
    pub prepared: Option<PreparedCert>,
}

/// The new leader's proof that a quorum left the earlier views, and the block it must
/// re-propose: the highest prepared certificate's block, or `None` when no view change
/// carried one (then the leader pre-prepares a fresh block) (PBFT-R13).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NewView {
    pub height: Height,
    pub view: View,
    pub view_changes: Vec<(NodeIndex, ViewChange)>,
    pub reproposal: Option<B256>,
}

/// Every message the PBFT core sends or accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PbftMsg {
    PrePrepare(PrePrepare),
    Prepare(Prepare),
    Commit(Commit),
    ViewChange(ViewChange),
    NewView(NewView),
}

impl PbftMsg {
    /// The height the message is about.
    pub fn height(&self) -> Height {
        match self {
            PbftMsg::PrePrepare(m) => m.height,
            PbftMsg::Prepare(m) => m.height,
            PbftMsg::Commit(m) => m.height,
            PbftMsg::ViewChange(m) => m.height,
            PbftMsg::NewView(m) => m.height,
        }
    }

    /// The view the message is about.
    pub fn view(&self) -> View {
        match self {
            PbftMsg::PrePrepare(m) => m.view,
            PbftMsg::Prepare(m) => m.view,
            PbftMsg::Commit(m) => m.view,
            PbftMsg::ViewChange(m) => m.view,
            PbftMsg::NewView(m) => m.view,
        }
    }
}

/// The one logical timer: how long (height, view) may take before this node asks for a
/// view change (PBFT-R9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PbftTimer {
    View { height: Height, view: View },
}

/// The decision's proof in core form: the commit-vote digest and the sorted voters (the
/// driver replaces it by one BLS aggregate plus signer bitmap). Encoded into
/// `Decision::certificate` as spec/pbft.md §5 fixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommitCert {
    pub height: Height,
    pub view: View,
    pub body: CommitBody,
    pub voters: Vec<NodeIndex>,
}

/// A certificate that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certificate is {0} bytes, expected {1}")]
    Length(usize, usize),
    #[error("unknown certificate version {0}")]
    Version(u8),
    #[error("voters are not strictly ascending")]
    Unsorted,
}

const CERT_VERSION: u8 = 1;
const CERT_FIXED_BYTES: usize = 1 + 8 + 8 + 32 * 3 + 4;

impl CommitCert {
    /// `version(1) ‖ height u64 BE ‖ view u64 BE ‖ block ‖ state root ‖ receipts root ‖
    /// count u32 BE ‖ voters u32 BE each`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CERT_FIXED_BYTES + 4 * self.voters.len());
        out.push(CERT_VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.view.to_be_bytes());
        out.extend_from_slice(self.body.block_hash.as_slice());
        out.extend_from_slice(self.body.state_root.as_slice());
        out.extend_from_slice(self.body.receipts_root.as_slice());
        out.extend_from_slice(&(self.voters.len() as u32).to_be_bytes());
        for v in &self.voters {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<CommitCert, CertError> {
        if bytes.len() < CERT_FIXED_BYTES {
            return Err(CertError::Length(bytes.len(), CERT_FIXED_BYTES));
        }
        if bytes[0] != CERT_VERSION {
            return Err(CertError::Version(bytes[0]));
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_be_bytes(b)
        };
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[i..i + 4]);
            u32::from_be_bytes(b)
        };
        let count = u32_at(CERT_FIXED_BYTES - 4) as usize;
        let expected = CERT_FIXED_BYTES.saturating_add(count.saturating_mul(4));
        if bytes.len() != expected {
            return Err(CertError::Length(bytes.len(), expected));
        }
        let voters: Vec<NodeIndex> = (0..count)
            .map(|k| u32_at(CERT_FIXED_BYTES + 4 * k))
            .collect();
        if voters.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CertError::Unsorted);
        }
        Ok(CommitCert {
            height: u64_at(1),
            view: u64_at(9),
            body: CommitBody {
                block_hash: B256::from_slice(&bytes[17..49]),
                state_root: B256::from_slice(&bytes[49..81]),
                receipts_root: B256::from_slice(&bytes[81..113]),
            },
            voters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(voters: Vec<NodeIndex>) -> CommitCert {
        CommitCert {
            height: 7,
            view: 3,
            body: CommitBody {
                block_hash: B256::repeat_byte(1),
                state_root: B256::repeat_byte(2),
                receipts_root: B256::repeat_byte(3),
            },
            voters,
        }
    }

    #[test]
    fn certificate_round_trips() {
        for voters in [vec![], vec![0, 2, 3], vec![1, 5, 9, 100]] {
            let c = cert(voters);
            assert_eq!(CommitCert::decode(&c.encode()), Ok(c));
        }
    }

    #[test]
    fn damaged_certificates_are_refused() {
        let bytes = cert(vec![0, 1, 2]).encode();
        for cut in 0..bytes.len() {
            assert!(
                CommitCert::decode(&bytes[..cut]).is_err(),
                "prefix {cut} accepted"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(CommitCert::decode(&long).is_err());
        let mut version = bytes.clone();
        version[0] = 9;
        assert_eq!(CommitCert::decode(&version), Err(CertError::Version(9)));
        assert_eq!(
            CommitCert::decode(&cert(vec![2, 1, 3]).encode()),
            Err(CertError::Unsorted)
        );
    }
}
