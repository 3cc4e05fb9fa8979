//! Leader election (spec/raft.md RAFT-R3 … R5).

use super::messages::{RaftMsg, RequestVote, Vote};
use super::state::Role;
use super::{Out, Raft, SeededBug};
use crate::protocol::NodeIndex;

impl Raft {
    /// RAFT-R3: a member follower or candidate whose election timer fires starts a new term,
    /// votes for itself and asks every node for a vote. Term and vote are persisted before
    /// the request leaves (RAFT-R2).
    pub(crate) fn on_election_timeout(&mut self, fx: &mut Vec<Out>) {
        if self.st.role == Role::Leader || !self.is_member(self.cfg.me) {
            return;
        }
        // The top of the term range cannot be passed (a wrap to 0 would undo RAFT-S1); a
        // node there stays a follower. Only members can raise terms (RAFT-R1), so reaching
        // it takes 2^64 elections.
        let Some(term) = self.st.term.checked_add(1) else {
            return;
        };
        self.st.term = term;
        self.st.voted_for = Some(self.cfg.me);
        self.become_follower(None);
        self.st.role = Role::Candidate;
        self.st.votes.insert(self.cfg.me);
        self.st.timer_reset = true;
        if self.st.votes.len() >= self.majority() {
            self.become_leader(fx);
            return;
        }
        let req = RequestVote {
            term: self.st.term,
            last: self.st.log.last(),
        };
        self.broadcast(fx, RaftMsg::RequestVote(req));
    }

    /// RAFT-R4: at most one vote per term, and only for a candidate whose log is at least as
    /// up to date as ours (last term, then last index).
    pub(crate) fn on_request_vote(&mut self, from: NodeIndex, m: RequestVote, fx: &mut Vec<Out>) {
        // A removed (or not yet added) node must not disrupt the members with ever higher
        // terms (Ongaro's dissertation §4.2.3): its requests are ignored outright.
        if !self.is_member(from) {
            return;
        }
        self.observe_term(m.term);
        let free = match self.st.voted_for {
            None => true,
            Some(v) => v == from || self.cfg.bug == Some(SeededBug::VoteTwice),
        };
        let mine = self.st.log.last();
        let up_to_date = (m.last.term, m.last.index) >= (mine.term, mine.index);
        let granted = m.term == self.st.term && free && up_to_date;
        if granted {
            self.st.voted_for = Some(from);
            self.st.timer_reset = true;
        }
        let vote = Vote {
            term: self.st.term,
            granted,
        };
        self.send(fx, from, RaftMsg::Vote(vote));
    }

    /// RAFT-R5: a candidate with votes from a majority of the current members leads its term.
    pub(crate) fn on_vote(&mut self, from: NodeIndex, m: Vote, fx: &mut Vec<Out>) {
        self.observe_term(m.term);
        if self.st.role != Role::Candidate || m.term != self.st.term || !m.granted {
            return;
        }
        if !self.is_member(from) {
            return;
        }
        self.st.votes.insert(from);
        if self.st.votes.len() >= self.majority() {
            self.become_leader(fx);
        }
    }

    /// RAFT-R5, R12: a new leader starts every peer at its last index + 1 and announces
    /// itself at once with an AppendEntries.
    pub(crate) fn become_leader(&mut self, fx: &mut Vec<Out>) {
        self.st.role = Role::Leader;
        self.st.leader = Some(self.cfg.me);
        self.st.votes.clear();
        let next = self.st.log.last().index + 1;
        for p in self.peers() {
            self.st.next_index.insert(p, next);
            self.st.match_index.insert(p, 0);
        }
        self.replicate_all(fx);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Input, Output, Protocol};

    #[test]
    fn vote_requests_from_non_members_are_ignored_entirely() {
        let mut cfg = RaftConfig::new(4, 0);
        cfg.members = [0, 1, 2].into();
        let mut n = Raft::new(cfg, 0).unwrap();
        let rv = RaftMsg::RequestVote(RequestVote {
            term: 9,
            last: LogPos::default(),
        });
        let out = msg(&mut n, 3, rv.clone());
        assert!(
            out.iter()
                .all(|o| matches!(o, Output::SetTimer { .. } | Output::CancelTimer(_))),
            "no answer, no persist: {out:?}"
        );
        assert_eq!(n.term(), 0, "the removed node's term is not observed");
        assert_eq!(votes(&msg(&mut n, 1, rv)), vec![(1, true)]);
    }

    /// Issue 10 item 8: a non-member's append or reply with a huge term used to raise the
    /// term (observe_term ran before any membership check); at u64::MAX the next election's
    /// `term += 1` wrapped to 0 in release builds.
    #[test]
    fn non_members_cannot_raise_the_term_and_the_top_term_is_never_passed() {
        let mut cfg = RaftConfig::new(4, 0);
        cfg.members = [0, 1, 2].into();
        let mut n = Raft::new(cfg.clone(), 0).unwrap();
        let huge = Term::MAX;
        let from_outsider = [
            RaftMsg::Append(Append {
                term: huge,
                prev: LogPos::default(),
                entries: Vec::new(),
                commit: 0,
            }),
            RaftMsg::AppendReply(AppendReply {
                term: huge,
                success: false,
                match_index: 0,
            }),
            RaftMsg::Vote(Vote {
                term: huge,
                granted: true,
            }),
        ];
        for m in from_outsider {
            msg(&mut n, 3, m);
            assert_eq!(n.term(), 0, "a non-member raised the term");
        }
        // A member at the top of the range: the election timer does not wrap the term.
        let mut top = Raft::new(cfg, 0).unwrap();
        msg(
            &mut top,
            1,
            RaftMsg::Append(Append {
                term: huge,
                prev: LogPos::default(),
                entries: Vec::new(),
                commit: 0,
            }),
        );
        assert_eq!(top.term(), huge);
        let out = top.handle(Input::Timeout(RaftTimer::Election));
        assert_eq!(top.term(), huge, "{out:?}");
        assert_eq!(top.role(), Role::Follower);
    }

    #[test]
    fn timeout_persists_term_and_self_vote_before_requesting_votes() {
        let mut n = node(0);
        let out = n.handle(Input::Timeout(RaftTimer::Election));
        assert!(persist_precedes_sends(&out), "{out:?}");
        let Some(Output::Persist(d)) = out.first() else {
            panic!("{out:?}")
        };
        assert_eq!((d.term, d.voted_for), (1, Some(0)));
        assert_eq!(
            broadcasts(&out),
            vec![RaftMsg::RequestVote(RequestVote {
                term: 1,
                last: LogPos::default()
            })]
        );
        assert_eq!(n.role(), Role::Candidate);
    }

    #[test]
    fn one_vote_per_term_and_only_for_an_up_to_date_log() {
        let mut n = node(2);
        let rv = |term, idx, t| {
            RaftMsg::RequestVote(RequestVote {
                term,
                last: LogPos {
                    index: idx,
                    term: t,
                },
            })
        };
        assert_eq!(votes(&msg(&mut n, 0, rv(1, 0, 0))), vec![(0, true)]);
        assert_eq!(
            votes(&msg(&mut n, 1, rv(1, 0, 0))),
            vec![(1, false)],
            "second candidate in term 1"
        );
        assert_eq!(
            votes(&msg(&mut n, 0, rv(1, 0, 0))),
            vec![(0, true)],
            "repeat to the same one"
        );
        msg(
            &mut n,
            0,
            append(1, LogPos::default(), vec![entry(1, 1)], 0),
        );
        assert_eq!(
            votes(&msg(&mut n, 1, rv(2, 0, 0))),
            vec![(1, false)],
            "shorter log"
        );
        assert_eq!(votes(&msg(&mut n, 1, rv(2, 1, 1))), vec![(1, true)]);
        assert_eq!(n.state().voted_for, Some(1));
    }

    #[test]
    fn seeded_vote_twice_grants_a_second_candidate() {
        let mut c = RaftConfig::new(3, 2);
        c.bug = Some(SeededBug::VoteTwice);
        let mut n = Raft::new(c, 0).unwrap();
        let rv = RaftMsg::RequestVote(RequestVote {
            term: 1,
            last: LogPos::default(),
        });
        msg(&mut n, 0, rv.clone());
        assert_eq!(votes(&msg(&mut n, 1, rv)), vec![(1, true)]);
    }

    #[test]
    fn majority_of_members_makes_a_leader_that_heartbeats() {
        let (n, out) = leader_of_three();
        assert_eq!((n.role(), n.leader()), (Role::Leader, Some(0)));
        assert_eq!(sends(&out).len(), 2, "an AppendEntries to each peer");
        assert!(out.iter().any(|o| matches!(
            o,
            Output::SetTimer {
                timer: RaftTimer::Heartbeat,
                ..
            }
        )));
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::CancelTimer(RaftTimer::Election))));
        assert!(n.may_propose());
        assert_eq!(n.next_height(), 1);
    }

    #[test]
    fn higher_term_demotes_a_leader() {
        let (mut n, _) = leader_of_three();
        msg(
            &mut n,
            1,
            RaftMsg::Vote(Vote {
                term: 5,
                granted: false,
            }),
        );
        assert_eq!(
            (n.role(), n.term(), n.state().voted_for),
            (Role::Follower, 5, None)
        );
        assert!(!n.may_propose());
    }
}
