//! Raft messages, log entries, timers and the commit certificate (spec/raft.md §2).
//!
//! Messages carry no sender and no signature: the driver authenticates the channel and
//! passes the sender as `Input::Message::from`. Blocks travel beside `Append` keyed by hash,
//! as with PBFT's pre-prepare; the core sees only (height, hash).

use bcos_types::{Height, Term, B256};
use serde::{Deserialize, Serialize};

use crate::protocol::NodeIndex;

/// A position in the log: the entry at `index` (= block height) written in `term`.
/// Term 0 means "unknown": no entry has it, so it never matches one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct LogPos {
    pub index: Height,
    pub term: Term,
}

/// A single-server membership change riding on a log entry (RAFT-R15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MemberChange {
    Add(NodeIndex),
    Remove(NodeIndex),
}

/// One log entry: a block, optionally carrying a membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    /// The block height; entry index == block height.
    pub index: Height,
    pub block_hash: B256,
    pub change: Option<MemberChange>,
}

impl Entry {
    pub fn pos(&self) -> LogPos {
        LogPos {
            index: self.index,
            term: self.term,
        }
    }
}

/// A candidate asks for a vote in `term`; `last` is its last log entry (RAFT-R3, R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestVote {
    pub term: Term,
    pub last: LogPos,
}

/// The answer to a `RequestVote` (RAFT-R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Vote {
    pub term: Term,
    pub granted: bool,
}

/// AppendEntries (RAFT-R7): entries following `prev`, and the leader's commit index.
/// With no entries it is a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Append {
    pub term: Term,
    pub prev: LogPos,
    pub entries: Vec<Entry>,
    pub commit: Height,
}

/// The answer to an `Append`: on success the highest index known to match the leader's
/// log; on failure a hint, the highest index the follower might match (RAFT-R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppendReply {
    pub term: Term,
    pub success: bool,
    pub match_index: Height,
}

/// Every message the Raft core sends or accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftMsg {
    RequestVote(RequestVote),
    Vote(Vote),
    Append(Append),
    AppendReply(AppendReply),
}

impl RaftMsg {
    pub fn term(&self) -> Term {
        match self {
            RaftMsg::RequestVote(m) => m.term,
            RaftMsg::Vote(m) => m.term,
            RaftMsg::Append(m) => m.term,
            RaftMsg::AppendReply(m) => m.term,
        }
    }
}

/// The core's timers: a follower or candidate runs `Election`, a leader `Heartbeat`.
/// A `SetTimer` for an armed timer restarts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RaftTimer {
    Election,
    Heartbeat,
}

/// The certificate of a Raft `Decision` (RAFT-R11): 16 bytes, the entry's term then its
/// index, both big-endian u64. Raft trusts its members (crash faults only), so this is a
/// position, not a proof; block sync uses it to learn the term of a synced head (RAFT-R14).
pub fn certificate(pos: LogPos) -> Vec<u8> {
    let mut c = Vec::with_capacity(16);
    c.extend_from_slice(&pos.term.to_be_bytes());
    c.extend_from_slice(&pos.index.to_be_bytes());
    c
}

/// Inverse of [`certificate`]; `None` unless exactly 16 bytes.
pub fn decode_certificate(c: &[u8]) -> Option<LogPos> {
    if c.len() != 16 {
        return None;
    }
    let mut t = [0u8; 8];
    let mut i = [0u8; 8];
    t.copy_from_slice(&c[..8]);
    i.copy_from_slice(&c[8..]);
    Some(LogPos {
        index: u64::from_be_bytes(i),
        term: u64::from_be_bytes(t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_round_trips_and_rejects_bad_lengths() {
        let p = LogPos { index: 7, term: 3 };
        assert_eq!(decode_certificate(&certificate(p)), Some(p));
        assert_eq!(decode_certificate(&[0u8; 15]), None);
        assert_eq!(decode_certificate(&[0u8; 17]), None);
    }
}
