//! Raft configuration, its limits and the seeded bugs (spec/raft.md §1, RAFT-R3, RAFT-R16).

use std::collections::BTreeSet;

use bcos_types::Term;

use crate::protocol::NodeIndex;

/// A deliberate protocol bug for the model checker to find; `None` in every real config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeededBug {
    /// A node grants a vote to every candidate with an up-to-date log, even after it voted
    /// for another one in the same term (breaks RAFT-R4, so RAFT-S1).
    VoteTwice,
    /// The leader commits an entry of an earlier term as soon as a majority stores it
    /// (breaks RAFT-R9, the Figure 8 rule, so RAFT-S4/S5).
    CommitOldTerm,
}

/// Static parameters of one Raft node. Ticks are driver ticks (1 tick = 1 ms in the node).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RaftConfig {
    /// Nodes that may ever take part (indices `0..n` of the node list).
    pub n: u32,
    /// This node's index.
    pub me: NodeIndex,
    /// The voting members at the committed head the core starts from, when no durable
    /// state says otherwise (RAFT-R15).
    pub members: BTreeSet<NodeIndex>,
    /// Least election timeout in ticks (default 300).
    pub election_timeout_ticks: u64,
    /// Election timeouts spread over `[base, base + spread)` by node and term, so that two
    /// nodes rarely time out together; deterministic, no RNG in the core (default 150).
    pub election_spread_ticks: u64,
    /// Leader heartbeat period in ticks; must be below `election_timeout_ticks` (default 50).
    pub heartbeat_ticks: u64,
    /// Entries carried by one AppendEntries at most (default 16).
    pub entries_per_append_max: usize,
    /// Uncommitted entries a leader lets pile up before it stops proposing, and a follower
    /// keeps at most (default 64).
    pub uncommitted_entries_max: usize,
    /// Committed entries kept in memory (and in the durable log) to catch up slow followers;
    /// a follower further behind uses block sync (default 256).
    pub committed_entries_kept: usize,
    /// Test-only seeded bug; `None` leaves the protocol correct.
    pub bug: Option<SeededBug>,
}

/// A configuration or restore that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaftError {
    #[error("node index {me} is not below n = {n}")]
    IndexOutOfRange { me: NodeIndex, n: u32 },
    #[error("member {member} is not below n = {n}")]
    MemberOutOfRange { member: NodeIndex, n: u32 },
    #[error("the membership is empty")]
    NoMembers,
    #[error("heartbeat of {heartbeat} ticks is not below the election timeout of {election}")]
    HeartbeatTooSlow { heartbeat: u64, election: u64 },
    #[error("a limit is zero: {0}")]
    ZeroLimit(&'static str),
    #[error("only the leader changes the membership")]
    NotLeader,
    #[error("a membership change is still uncommitted or pending")]
    ChangeInProgress,
    #[error("the leader has not committed an entry of its term {0} yet")]
    TermNotCommitted(Term),
    #[error("the change would not alter the membership")]
    NoOpChange,
}

impl RaftConfig {
    /// All `n` nodes are members; documented defaults elsewhere.
    pub fn new(n: u32, me: NodeIndex) -> Self {
        RaftConfig {
            n,
            me,
            members: (0..n).collect(),
            election_timeout_ticks: 300,
            election_spread_ticks: 150,
            heartbeat_ticks: 50,
            entries_per_append_max: 16,
            uncommitted_entries_max: 64,
            committed_entries_kept: 256,
            bug: None,
        }
    }

    pub fn validate(&self) -> Result<(), RaftError> {
        if self.me >= self.n {
            return Err(RaftError::IndexOutOfRange {
                me: self.me,
                n: self.n,
            });
        }
        if let Some(&m) = self.members.iter().find(|m| **m >= self.n) {
            return Err(RaftError::MemberOutOfRange {
                member: m,
                n: self.n,
            });
        }
        if self.members.is_empty() {
            return Err(RaftError::NoMembers);
        }
        if self.heartbeat_ticks >= self.election_timeout_ticks {
            return Err(RaftError::HeartbeatTooSlow {
                heartbeat: self.heartbeat_ticks,
                election: self.election_timeout_ticks,
            });
        }
        for (v, name) in [
            (self.entries_per_append_max, "entries_per_append_max"),
            (self.uncommitted_entries_max, "uncommitted_entries_max"),
            (self.committed_entries_kept, "committed_entries_kept"),
        ] {
            if v == 0 {
                return Err(RaftError::ZeroLimit(name));
            }
        }
        Ok(())
    }

    /// RAFT-R3: this node's election timeout in `term`: the base plus a slot that depends on
    /// the node and the term, so the node that times out first changes from term to term.
    pub fn election_timeout(&self, term: Term) -> u64 {
        let n = u64::from(self.n.max(1));
        let slot = (u64::from(self.me) + term) % n;
        self.election_timeout_ticks + slot * self.election_spread_ticks / n
    }
}
