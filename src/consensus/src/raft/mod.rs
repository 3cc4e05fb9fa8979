//! Raft (whitepaper §3.3.2, after Ongaro and Ousterhout), a sans-IO core behind
//! [`Protocol`]. spec/raft.md is the specification; every handler cites its rule (`RAFT-R*`).
//!
//! Log entries are blocks: entry index == block height, identified by (height, block hash);
//! the log starts after the committed head given at construction. Raft tolerates crashes,
//! not Byzantine nodes. Phases live in sibling modules: [`election`], [`replication`],
//! [`membership`].

pub mod adopt;
pub mod config;
pub mod election;
pub mod membership;
pub mod messages;
pub mod replication;
pub mod state;

use std::collections::BTreeSet;

use bcos_types::{Height, Term};

use crate::protocol::{Decision, Input, NodeIndex, Output, Protocol};
pub use config::{RaftConfig, RaftError, SeededBug};
pub use messages::{
    certificate, decode_certificate, Append, AppendReply, Entry, LogPos, MemberChange, RaftMsg,
    RaftTimer, RequestVote, Vote,
};
pub use state::{RaftDurable, RaftLog, RaftState, Role};

pub(crate) type Out = Output<RaftMsg, RaftTimer, RaftDurable>;

/// One Raft node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Raft {
    cfg: RaftConfig,
    st: RaftState,
    /// Commits decided during the current input; emitted after its `Persist` (RAFT-R11).
    decided: Vec<Decision>,
}

impl Raft {
    /// A fresh node whose block store ends at `committed_head` (the genesis or the head when
    /// the chain switched to Raft; every member starts from the same head). The head's term
    /// is unknown (0); see [`Raft::restore`] for a node with history.
    pub fn new(cfg: RaftConfig, committed_head: Height) -> Result<Self, RaftError> {
        cfg.validate()?;
        let log = RaftLog::new(
            LogPos {
                index: committed_head,
                term: 0,
            },
            cfg.members.clone(),
        );
        Ok(Raft {
            st: RaftState::new(log, committed_head),
            cfg,
            decided: Vec::new(),
        })
    }

    /// A restarted node (RAFT-R13): `durable` is the last `Output::Persist` it made durable
    /// (if any), `committed_head` the head of its block store. Entries at or below the head
    /// count as committed. Call [`Raft::resume`] next.
    pub fn restore(
        cfg: RaftConfig,
        committed_head: Height,
        durable: Option<RaftDurable>,
    ) -> Result<Self, RaftError> {
        let Some(d) = durable else {
            return Raft::new(cfg, committed_head);
        };
        cfg.validate()?;
        // A log compacted past the store's head (the node lagged in storing what it had
        // committed, then crashed) is kept: everything at or below its base is committed,
        // and the driver fetches those blocks by sync (RAFT-R14, R16).
        let committed_head = committed_head.max(d.log.base.index);
        let mut log = d.log.clone();
        if log.last().index < committed_head {
            // Block sync ran past the log: nothing of it can be checked against the head.
            log = RaftLog::new(
                LogPos {
                    index: committed_head,
                    term: 0,
                },
                log.members(),
            );
        }
        let mut st = RaftState::new(log, committed_head);
        st.term = d.term;
        st.voted_for = d.voted_for;
        st.persisted = d;
        let mut r = Raft {
            cfg,
            st,
            decided: Vec::new(),
        };
        r.trim();
        Ok(r)
    }

    /// After a restore: a restarted node is a follower of its durable term and arms its
    /// election timer (RAFT-R13).
    pub fn resume(&mut self) -> Vec<Out> {
        let mut fx = Vec::new();
        self.st.timer_reset = true;
        self.finish(&mut fx);
        fx
    }

    /// Block sync (RAFT-R14) stored certified blocks up to `next_height - 1`; `head_term` is
    /// the term in that block's certificate ([`decode_certificate`]). The log keeps its
    /// suffix only if its entry at the synced head has that term (log matching); otherwise no
    /// entry above can ever commit and the suffix goes.
    pub fn advance_to(&mut self, next_height: Height, head_term: Term) -> Vec<Out> {
        let mut fx = Vec::new();
        let head = next_height.saturating_sub(1);
        if head > self.st.commit_index {
            let keep = self.st.log.term_at(head) == Some(head_term) && head_term != 0;
            if !keep {
                self.st.log.truncate_from(self.st.commit_index + 1);
                let members = self.st.log.members();
                self.st.log = RaftLog::new(
                    LogPos {
                        index: head,
                        term: head_term,
                    },
                    members,
                );
            }
            self.st.commit_index = head;
            self.trim();
        }
        self.finish(&mut fx);
        fx
    }

    pub fn config(&self) -> &RaftConfig {
        &self.cfg
    }

    /// A governed timeout (spec/governance.md GOV-R7): the least election timeout from the
    /// next timer this core arms. Refused (false) unless above the heartbeat period, which a
    /// follower must hear within it.
    pub fn set_election_timeout_ticks(&mut self, ticks: u64) -> bool {
        if ticks <= self.cfg.heartbeat_ticks {
            return false;
        }
        self.cfg.election_timeout_ticks = ticks;
        true
    }

    pub fn state(&self) -> &RaftState {
        &self.st
    }

    pub fn term(&self) -> Term {
        self.st.term
    }

    pub fn role(&self) -> Role {
        self.st.role
    }

    /// The leader of the current term, if known.
    pub fn leader(&self) -> Option<NodeIndex> {
        self.st.leader
    }

    pub fn commit_index(&self) -> Height {
        self.st.commit_index
    }

    /// The current voting members (the latest configuration in the log, RAFT-R15).
    pub fn members(&self) -> BTreeSet<NodeIndex> {
        self.st.log.members()
    }

    pub(crate) fn is_member(&self, who: NodeIndex) -> bool {
        self.st.log.members().contains(&who)
    }

    /// Votes or matches needed: a majority of the current members.
    pub(crate) fn majority(&self) -> usize {
        self.st.log.members().len() / 2 + 1
    }

    pub(crate) fn broadcast(&mut self, fx: &mut Vec<Out>, msg: RaftMsg) {
        self.flush_persist(fx);
        fx.push(Output::Broadcast(msg));
    }

    /// Appends a send, first persisting whatever durable state changed (RAFT-R2).
    pub(crate) fn send(&mut self, fx: &mut Vec<Out>, to: NodeIndex, msg: RaftMsg) {
        self.flush_persist(fx);
        fx.push(Output::Send { to, msg });
    }

    fn flush_persist(&mut self, fx: &mut Vec<Out>) {
        let d = self.st.durable();
        if d != self.st.persisted {
            self.st.persisted = d.clone();
            fx.push(Output::Persist(d));
        }
    }

    /// RAFT-R1: a higher term makes any node a follower of that term with no vote.
    pub(crate) fn observe_term(&mut self, term: Term) {
        if term > self.st.term {
            self.st.term = term;
            self.st.voted_for = None;
            self.become_follower(None);
        }
    }

    pub(crate) fn become_follower(&mut self, leader: Option<NodeIndex>) {
        self.st.role = Role::Follower;
        self.st.leader = leader;
        self.st.votes.clear();
        self.st.next_index.clear();
        self.st.match_index.clear();
        self.st.pending_change = None;
    }

    /// RAFT-R11: commits every entry up to `index` in height order, once each.
    pub(crate) fn commit_to(&mut self, index: Height) {
        while self.st.commit_index < index {
            let Some(e) = self.st.log.get(self.st.commit_index + 1).copied() else {
                return;
            };
            self.st.commit_index = e.index;
            self.decided.push(Decision {
                height: e.index,
                block_hash: e.block_hash,
                certificate: certificate(e.pos()),
            });
        }
    }

    /// RAFT-R16: keep at most `committed_entries_kept` committed entries, and never one whose
    /// `Commit` output has not left yet (the driver may not have stored its block).
    fn trim(&mut self) {
        let kept = self.cfg.committed_entries_kept as u64;
        let pending = self.decided.first().map_or(Height::MAX, |d| d.height - 1);
        let to = self.st.commit_index.saturating_sub(kept).min(pending);
        if to > self.st.log.base.index {
            self.st.log.compact_to(to);
        }
    }

    /// RAFT-R3, R12: a leader runs the heartbeat timer, a member the election timer, a
    /// non-member none.
    fn sync_timer(&mut self, fx: &mut Vec<Out>) {
        let want = match self.st.role {
            Role::Leader => Some(RaftTimer::Heartbeat),
            _ if self.is_member(self.cfg.me) => Some(RaftTimer::Election),
            _ => None,
        };
        let reset = std::mem::take(&mut self.st.timer_reset);
        if want == self.st.timer && !reset {
            return;
        }
        if let Some(old) = self.st.timer.take() {
            if want != Some(old) {
                fx.push(Output::CancelTimer(old));
            }
        }
        self.st.timer = want;
        if let Some(timer) = want {
            let ticks = match timer {
                RaftTimer::Heartbeat => self.cfg.heartbeat_ticks,
                RaftTimer::Election => self.cfg.election_timeout(self.st.term),
            };
            fx.push(Output::SetTimer { timer, ticks });
        }
    }

    /// End of every input: durable state first, then the commits it covers (RAFT-R2, R11),
    /// then the timer.
    fn finish(&mut self, fx: &mut Vec<Out>) {
        self.flush_persist(fx);
        fx.extend(
            std::mem::take(&mut self.decided)
                .into_iter()
                .map(Output::Commit),
        );
        self.trim();
        self.sync_timer(fx);
    }

    /// RAFT-R1: admission of a message from an authenticated peer. Membership is checked
    /// before anything else: a node outside the current configuration can never raise this
    /// node's term (it could otherwise push it to `u64::MAX` and stop elections for good).
    fn on_message(&mut self, from: NodeIndex, msg: RaftMsg, fx: &mut Vec<Out>) {
        if from >= self.cfg.n || from == self.cfg.me {
            return;
        }
        if msg.term() > self.st.term && !self.is_member(from) {
            return;
        }
        match msg {
            RaftMsg::RequestVote(m) => self.on_request_vote(from, m, fx),
            RaftMsg::Vote(m) => self.on_vote(from, m, fx),
            RaftMsg::Append(m) => self.on_append(from, m, fx),
            RaftMsg::AppendReply(m) => self.on_append_reply(from, m, fx),
        }
    }
}

impl Protocol for Raft {
    type Message = RaftMsg;
    type Timer = RaftTimer;
    type Durable = RaftDurable;

    /// The leader: the height its next proposal takes (last log index + 1). Anyone else:
    /// the next height to commit.
    fn next_height(&self) -> Height {
        match self.st.role {
            Role::Leader => self.st.log.last().index + 1,
            _ => self.st.commit_index + 1,
        }
    }

    /// RAFT-R6: a member leader with no uncommitted entry of its own term and room in the
    /// uncommitted window.
    fn may_propose(&self) -> bool {
        let last = self.st.log.last();
        self.st.role == Role::Leader
            && self.is_member(self.cfg.me)
            && !(last.term == self.st.term && last.index > self.st.commit_index)
            && last.index - self.st.commit_index < self.cfg.uncommitted_entries_max as u64
    }

    fn handle(&mut self, input: Input<RaftMsg, RaftTimer>) -> Vec<Out> {
        let mut fx = Vec::new();
        match input {
            Input::Message { from, msg } => self.on_message(from, msg, &mut fx),
            Input::Timeout(RaftTimer::Election) => self.on_election_timeout(&mut fx),
            Input::Timeout(RaftTimer::Heartbeat) => self.on_heartbeat(&mut fx),
            Input::Propose(p) => self.on_propose(p, &mut fx),
            // Raft orders blocks only; execution results are not voted on.
            Input::Executed(_) => {}
        }
        self.finish(&mut fx);
        fx
    }
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn config_checks_and_timeouts_are_deterministic() {
        assert_eq!(
            Raft::new(RaftConfig::new(3, 3), 0),
            Err(RaftError::IndexOutOfRange { me: 3, n: 3 })
        );
        let mut c = RaftConfig::new(3, 0);
        c.heartbeat_ticks = 300;
        assert!(matches!(
            c.validate(),
            Err(RaftError::HeartbeatTooSlow { .. })
        ));
        let c = RaftConfig::new(3, 1);
        assert_eq!(c.election_timeout(0), 350);
        assert_eq!(c.election_timeout(1), 400);
        assert_eq!(c.election_timeout(2), 300);
    }

    #[test]
    fn restart_keeps_term_vote_and_log_and_rearms_the_election_timer() {
        let (mut c, _) = leader_of_three();
        c.handle(propose(1));
        let d = c.state().durable();
        let mut r = Raft::restore(RaftConfig::new(3, 0), 0, Some(d.clone())).unwrap();
        assert_eq!(
            (r.term(), r.role(), r.state().log.last().index),
            (1, Role::Follower, 1)
        );
        assert_eq!(r.state().voted_for, Some(0));
        let out = r.resume();
        assert!(out.iter().any(|o| matches!(
            o,
            Output::SetTimer {
                timer: RaftTimer::Election,
                ..
            }
        )));
        assert!(
            !out.iter().any(|o| matches!(o, Output::Persist(_))),
            "nothing changed"
        );
        // Issue 10 item 7: a log compacted past the stored head used to refuse every
        // restart; the node now restarts with those entries committed and syncs the blocks.
        let ahead = Raft::restore(
            RaftConfig::new(3, 0),
            0,
            Some(RaftDurable {
                log: RaftLog::new(LogPos { index: 5, term: 1 }, [0].into()),
                ..d
            }),
        )
        .expect("a node restarts from what it stored");
        assert_eq!(ahead.commit_index(), 5);
    }

    #[test]
    fn block_sync_keeps_a_matching_suffix_and_drops_a_diverged_one() {
        let mut f = node(1);
        msg(
            &mut f,
            0,
            append(1, LogPos::default(), vec![entry(1, 1), entry(2, 1)], 0),
        );
        let mut g = f.clone();
        f.advance_to(2, 1);
        assert_eq!((f.commit_index(), f.state().log.last().index), (1, 2));
        g.advance_to(2, 7);
        assert_eq!(
            (g.commit_index(), g.state().log.last()),
            (1, LogPos { index: 1, term: 7 })
        );
        assert!(g.advance_to(1, 1).is_empty(), "never backwards");
    }
}
