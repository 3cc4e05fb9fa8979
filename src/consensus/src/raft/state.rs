//! Raft state (spec/raft.md §3): the log window, the durable snapshot and the volatile
//! per-role state. Plain data with ordered maps only, so a model checker can hash it.

use std::collections::{BTreeMap, BTreeSet};

use bcos_types::{Height, Term};
use serde::{Deserialize, Serialize};

use super::messages::{Entry, LogPos, MemberChange, RaftTimer};
use crate::protocol::NodeIndex;

/// The log above `base`: `entries[k]` has index `base.index + 1 + k`. Everything at or below
/// `base` is committed (and in the block store).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RaftLog {
    pub base: LogPos,
    /// Voting members as of `base` (the changes in `entries` apply on top, RAFT-R15).
    pub base_members: BTreeSet<NodeIndex>,
    pub entries: Vec<Entry>,
}

impl RaftLog {
    pub fn new(base: LogPos, base_members: BTreeSet<NodeIndex>) -> Self {
        RaftLog {
            base,
            base_members,
            entries: Vec::new(),
        }
    }

    pub fn last(&self) -> LogPos {
        self.entries.last().map_or(self.base, Entry::pos)
    }

    pub fn get(&self, index: Height) -> Option<&Entry> {
        let k = index.checked_sub(self.base.index + 1)?;
        self.entries.get(usize::try_from(k).ok()?)
    }

    /// The term at `index` if the window knows it (the base's term may be 0, "unknown").
    pub fn term_at(&self, index: Height) -> Option<Term> {
        if index == self.base.index {
            Some(self.base.term)
        } else {
            self.get(index).map(|e| e.term)
        }
    }

    /// Drops the entries from `index` on (a conflicting suffix, RAFT-R8).
    pub fn truncate_from(&mut self, index: Height) {
        let keep = index.saturating_sub(self.base.index + 1);
        self.entries
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
    }

    /// The voting members after every change in the log (a change counts once appended).
    pub fn members(&self) -> BTreeSet<NodeIndex> {
        let mut m = self.base_members.clone();
        for c in self.entries.iter().filter_map(|e| e.change) {
            apply_change(&mut m, c);
        }
        m
    }

    /// Moves the base up to `index` (which must be committed), forgetting older entries.
    pub fn compact_to(&mut self, index: Height) {
        while let Some(first) = self.entries.first().copied() {
            if first.index > index {
                break;
            }
            if let Some(c) = first.change {
                apply_change(&mut self.base_members, c);
            }
            self.base = first.pos();
            self.entries.remove(0);
        }
    }
}

pub fn apply_change(m: &mut BTreeSet<NodeIndex>, c: MemberChange) {
    match c {
        MemberChange::Add(x) => {
            m.insert(x);
        }
        MemberChange::Remove(x) => {
            m.remove(&x);
        }
    }
}

/// What a node makes durable before any message that depends on it leaves (RAFT-R2):
/// current term, vote, and the log window (its uncommitted suffix plus the committed entries
/// still kept for catch-up) with the membership at its base. A full snapshot; each `Persist`
/// replaces the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RaftDurable {
    pub term: Term,
    pub voted_for: Option<NodeIndex>,
    pub log: RaftLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// One node's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RaftState {
    pub term: Term,
    pub voted_for: Option<NodeIndex>,
    pub log: RaftLog,
    pub role: Role,
    /// The leader of `term`, once known.
    pub leader: Option<NodeIndex>,
    /// Highest index known committed; `Commit` outputs went out up to here (RAFT-R11).
    pub commit_index: Height,
    /// Candidate: members that granted their vote in `term`.
    pub votes: BTreeSet<NodeIndex>,
    /// Leader: next index to send and highest index known replicated, per peer.
    pub next_index: BTreeMap<NodeIndex, Height>,
    pub match_index: BTreeMap<NodeIndex, Height>,
    /// Leader: a membership change to ride on the next proposed entry (RAFT-R15).
    pub pending_change: Option<MemberChange>,
    pub timer: Option<RaftTimer>,
    /// The armed timer must restart at the end of this input (valid leader contact, a vote
    /// granted, a new candidacy, a heartbeat sent).
    pub timer_reset: bool,
    /// The durable snapshot last handed out in `Output::Persist`.
    pub persisted: RaftDurable,
}

impl RaftState {
    pub fn new(log: RaftLog, commit_index: Height) -> Self {
        let persisted = RaftDurable {
            term: 0,
            voted_for: None,
            log: log.clone(),
        };
        RaftState {
            term: 0,
            voted_for: None,
            log,
            role: Role::Follower,
            leader: None,
            commit_index,
            votes: BTreeSet::new(),
            next_index: BTreeMap::new(),
            match_index: BTreeMap::new(),
            pending_change: None,
            timer: None,
            timer_reset: false,
            persisted,
        }
    }

    pub fn durable(&self) -> RaftDurable {
        RaftDurable {
            term: self.term,
            voted_for: self.voted_for,
            log: self.log.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_types::B256;

    fn e(index: Height, term: Term, change: Option<MemberChange>) -> Entry {
        Entry {
            term,
            index,
            block_hash: B256::repeat_byte(index as u8),
            change,
        }
    }

    #[test]
    fn log_window_indexes_truncates_and_compacts() {
        let mut l = RaftLog::new(LogPos { index: 4, term: 1 }, [0, 1, 2].into());
        l.entries = vec![
            e(5, 1, None),
            e(6, 2, Some(MemberChange::Add(3))),
            e(7, 2, Some(MemberChange::Remove(0))),
        ];
        assert_eq!(l.last(), LogPos { index: 7, term: 2 });
        assert_eq!(
            (l.term_at(4), l.term_at(6), l.term_at(8)),
            (Some(1), Some(2), None)
        );
        assert_eq!(l.get(3), None);
        assert_eq!(l.members(), [1, 2, 3].into());
        l.truncate_from(7);
        assert_eq!(l.members(), [0, 1, 2, 3].into());
        l.compact_to(6);
        assert_eq!(l.base, LogPos { index: 6, term: 2 });
        assert_eq!(l.base_members, [0, 1, 2, 3].into());
        assert!(l.entries.is_empty());
        l.truncate_from(3);
        assert_eq!(l.last().index, 6, "never below the base");
    }
}
