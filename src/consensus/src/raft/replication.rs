//! Log replication and commitment (spec/raft.md RAFT-R6 … R12).

use bcos_types::Height;

use super::messages::{Append, AppendReply, Entry, LogPos, RaftMsg};
use super::state::Role;
use super::{Out, Raft, SeededBug};
use crate::protocol::{NodeIndex, Proposal, Protocol};

impl Raft {
    /// The members the leader replicates to.
    pub(crate) fn peers(&self) -> Vec<NodeIndex> {
        let me = self.cfg.me;
        self.st
            .log
            .members()
            .into_iter()
            .filter(|p| *p != me)
            .collect()
    }

    /// RAFT-R6: the leader appends the sealer's block at `last + 1` (never rewriting its own
    /// log), with any pending membership change riding on it, then replicates it.
    pub(crate) fn on_propose(&mut self, p: Proposal, fx: &mut Vec<Out>) {
        if !self.may_propose() || p.height != self.st.log.last().index + 1 {
            return;
        }
        let e = Entry {
            term: self.st.term,
            index: p.height,
            block_hash: p.block_hash,
            change: self.st.pending_change.take(),
        };
        self.st.log.entries.push(e);
        self.on_members_changed();
        self.maybe_advance_commit();
        self.replicate_all(fx);
    }

    /// RAFT-R12: the heartbeat doubles as retransmission of whatever a peer still lacks.
    pub(crate) fn on_heartbeat(&mut self, fx: &mut Vec<Out>) {
        if self.st.role == Role::Leader {
            self.st.timer_reset = true;
            self.replicate_all(fx);
        }
    }

    pub(crate) fn replicate_all(&mut self, fx: &mut Vec<Out>) {
        for p in self.peers() {
            self.replicate(p, fx);
        }
    }

    /// RAFT-R7: the AppendEntries for `peer`: entries from its next index, at most
    /// `entries_per_append_max`, after the entry just before them. A peer whose next index is
    /// at or below the log's base gets the base as `prev`; if it cannot match that, it needs
    /// block sync (RAFT-R14).
    pub(crate) fn replicate(&mut self, peer: NodeIndex, fx: &mut Vec<Out>) {
        let log = &self.st.log;
        let last = log.last().index;
        let next = self
            .st
            .next_index
            .get(&peer)
            .copied()
            .unwrap_or(last + 1)
            .clamp(log.base.index + 1, last + 1);
        let prev_index = next - 1;
        let prev = LogPos {
            index: prev_index,
            term: log.term_at(prev_index).unwrap_or(0),
        };
        let entries: Vec<Entry> = (next..=last)
            .take(self.cfg.entries_per_append_max)
            .filter_map(|i| log.get(i).copied())
            .collect();
        // Optimistic next index (pipelining): what is in flight is not sent again on every
        // reply; a lost append shows up as a failed heartbeat and rewinds it (RAFT-R7).
        if let Some(e) = entries.last() {
            self.st.next_index.insert(peer, e.index + 1);
        }
        let m = Append {
            term: self.st.term,
            prev,
            entries,
            commit: self.st.commit_index,
        };
        self.send(fx, peer, RaftMsg::Append(m));
    }

    /// RAFT-R7, R8, R10: a follower accepts entries that follow a matching `prev`, drops a
    /// conflicting suffix (never a committed entry), and commits up to the leader's commit
    /// index as far as its log is known to match. The reply leaves after the log is persisted.
    pub(crate) fn on_append(&mut self, from: NodeIndex, m: Append, fx: &mut Vec<Out>) {
        self.observe_term(m.term);
        if m.term < self.st.term {
            let r = AppendReply {
                term: self.st.term,
                success: false,
                match_index: 0,
            };
            self.send(fx, from, RaftMsg::AppendReply(r));
            return;
        }
        // m.term == term: `from` is the one leader of this term (RAFT-S1).
        if self.st.role != Role::Follower || self.st.leader != Some(from) {
            self.become_follower(Some(from));
        }
        self.st.timer_reset = true;
        let last = self.st.log.last().index;
        let matches = m.prev.index <= self.st.commit_index
            || (m.prev.index <= last && self.st.log.term_at(m.prev.index) == Some(m.prev.term));
        if !matches {
            let hint = if m.prev.index > last {
                last
            } else {
                m.prev.index - 1
            };
            let r = AppendReply {
                term: self.st.term,
                success: false,
                match_index: hint.max(self.st.commit_index),
            };
            self.send(fx, from, RaftMsg::AppendReply(r));
            return;
        }
        let mut matched = m.prev.index;
        for e in &m.entries {
            if e.index != matched + 1 {
                break;
            }
            if e.index > self.st.commit_index {
                match self.st.log.term_at(e.index) {
                    Some(t) if t == e.term => {}
                    Some(_) => {
                        // RAFT-R8: a conflict; the suffix came from a stale leader.
                        self.st.log.truncate_from(e.index);
                        self.st.log.entries.push(*e);
                    }
                    None => {
                        let uncommitted = self.st.log.last().index - self.st.commit_index;
                        if uncommitted >= self.cfg.uncommitted_entries_max as u64 {
                            break;
                        }
                        self.st.log.entries.push(*e);
                    }
                }
            }
            matched = e.index;
        }
        self.on_members_changed();
        self.commit_to(m.commit.min(matched));
        let r = AppendReply {
            term: self.st.term,
            success: true,
            match_index: matched,
        };
        self.send(fx, from, RaftMsg::AppendReply(r));
    }

    /// RAFT-R9, R12: the leader records what a follower matched, commits what a majority
    /// stores (and then tells every member at once), and sends more (or earlier entries,
    /// after a refusal).
    pub(crate) fn on_append_reply(&mut self, from: NodeIndex, m: AppendReply, fx: &mut Vec<Out>) {
        self.observe_term(m.term);
        if self.st.role != Role::Leader || m.term != self.st.term {
            return;
        }
        let Some(next) = self.st.next_index.get(&from).copied() else {
            return;
        };
        let matched = self.st.match_index.get(&from).copied().unwrap_or(0);
        let last = self.st.log.last().index;
        if m.success {
            let matched = matched.max(m.match_index.min(last));
            self.st.match_index.insert(from, matched);
            let next = next.max(matched + 1);
            self.st.next_index.insert(from, next);
            let committed = self.st.commit_index;
            self.maybe_advance_commit();
            if self.st.commit_index > committed && self.st.role == Role::Leader {
                // Tell the followers now rather than at the next heartbeat: they apply the
                // block one heartbeat sooner.
                self.replicate_all(fx);
            } else if next <= last {
                // Entries not sent yet (an append carries at most entries_per_append_max).
                self.replicate(from, fx);
            }
        } else {
            // A refusal below the recorded match means the follower no longer holds what it
            // acknowledged (block sync replaced a diverged suffix, RAFT-R14): without lowering
            // the match the leader would never send from low enough and the follower would
            // refuse forever (bcos-sim raft seed 267). Lowering it only delays commits; a stale
            // refusal costs one resend of entries the follower already has.
            let matched = if m.match_index < matched {
                self.st.match_index.insert(from, m.match_index);
                m.match_index
            } else {
                matched
            };
            let back = (m.match_index + 1)
                .min(next.saturating_sub(1))
                .max(matched + 1);
            if back < next {
                self.st.next_index.insert(from, back);
                // Below the log's base no append can match: the follower needs block sync
                // (RAFT-R14) and heartbeats keep probing. Resending on every refusal there is
                // a storm that duplicated frames multiply (bcos-sim raft seed 629).
                if m.match_index >= self.st.log.base.index {
                    self.replicate(from, fx);
                }
            }
        }
    }

    /// RAFT-R9: commit the highest index a majority of members stores, if its entry is of the
    /// current term (Figure 8: an older-term entry commits only beneath one of this term).
    pub(crate) fn maybe_advance_commit(&mut self) {
        let members = self.st.log.members();
        let mut matches: Vec<Height> = members
            .iter()
            .map(|p| {
                if *p == self.cfg.me {
                    self.st.log.last().index
                } else {
                    self.st.match_index.get(p).copied().unwrap_or(0)
                }
            })
            .collect();
        if matches.is_empty() {
            return;
        }
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let n = matches[members.len() / 2];
        if n <= self.st.commit_index {
            return;
        }
        let current = self.st.log.term_at(n) == Some(self.st.term);
        if current || self.cfg.bug == Some(SeededBug::CommitOldTerm) {
            self.commit_to(n);
            self.after_commit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Output, Protocol};

    #[test]
    fn leader_appends_persists_then_replicates_and_commits_on_a_majority() {
        let (mut l, _) = leader_of_three();
        let out = l.handle(propose(1));
        assert!(persist_precedes_sends(&out));
        assert_eq!(sends(&out).len(), 2);
        assert!(!l.may_propose(), "one own-term entry in flight");
        assert!(
            l.handle(propose(1)).is_empty(),
            "refused while one is in flight"
        );
        let ok = RaftMsg::AppendReply(AppendReply {
            term: 1,
            success: true,
            match_index: 1,
        });
        let out = msg(&mut l, 1, ok);
        assert_eq!(commits(&out), vec![1]);
        let Some(Output::Commit(d)) = out.iter().find(|o| matches!(o, Output::Commit(_))) else {
            panic!()
        };
        assert_eq!(
            decode_certificate(&d.certificate),
            Some(LogPos { index: 1, term: 1 })
        );
        assert!(l.may_propose());
        assert_eq!(l.next_height(), 2);
    }

    #[test]
    fn follower_checks_prev_truncates_conflicts_and_commits_what_matches() {
        let mut f = node(1);
        let out = msg(
            &mut f,
            0,
            append(1, LogPos { index: 1, term: 1 }, vec![entry(2, 1)], 0),
        );
        assert_eq!(
            replies(&out),
            vec![AppendReply {
                term: 1,
                success: false,
                match_index: 0
            }]
        );
        let out = msg(
            &mut f,
            0,
            append(1, LogPos::default(), vec![entry(1, 1), entry(2, 1)], 1),
        );
        assert!(persist_precedes_sends(&out));
        assert_eq!(
            replies(&out),
            vec![AppendReply {
                term: 1,
                success: true,
                match_index: 2
            }]
        );
        assert_eq!(commits(&out), vec![1]);
        // A new leader of term 2 overwrites the uncommitted entry 2, never entry 1.
        let out = msg(
            &mut f,
            2,
            append(2, LogPos { index: 1, term: 1 }, vec![entry(2, 2)], 2),
        );
        assert_eq!(commits(&out), vec![2]);
        assert_eq!(f.state().log.last(), LogPos { index: 2, term: 2 });
        let out = msg(&mut f, 0, append(1, LogPos::default(), vec![], 2));
        assert_eq!(
            replies(&out),
            vec![AppendReply {
                term: 2,
                success: false,
                match_index: 0
            }],
            "stale leader"
        );
    }

    #[test]
    fn a_stale_success_reply_does_not_resend_appends_in_flight() {
        // Regression: every success reply used to resend all entries past its match index,
        // so with appends in flight each reply bred another append (a storm that capped a
        // 3-node cluster at ~2 k tx/s).
        let (mut l, _) = leader_of_three();
        let out = l.handle(propose(1));
        let to1 = sends(&out)
            .into_iter()
            .filter(|(to, m)| *to == 1 && matches!(m, RaftMsg::Append(a) if !a.entries.is_empty()))
            .count();
        assert_eq!(to1, 1, "{out:?}");
        let stale = msg(
            &mut l,
            1,
            RaftMsg::AppendReply(AppendReply {
                term: 1,
                success: true,
                match_index: 0,
            }),
        );
        assert!(
            sends(&stale).is_empty(),
            "resent while in flight: {stale:?}"
        );
        let ack = msg(
            &mut l,
            1,
            RaftMsg::AppendReply(AppendReply {
                term: 1,
                success: true,
                match_index: 1,
            }),
        );
        assert_eq!(commits(&ack), vec![1]);
    }

    #[test]
    fn refused_append_backs_off_and_resends_earlier_entries() {
        let mut l = node(0);
        msg(
            &mut l,
            1,
            append(1, LogPos::default(), vec![entry(1, 1), entry(2, 1)], 0),
        );
        l.handle(crate::protocol::Input::Timeout(RaftTimer::Election));
        msg(
            &mut l,
            1,
            RaftMsg::Vote(Vote {
                term: 2,
                granted: true,
            }),
        );
        assert_eq!(l.role(), Role::Leader);
        let out = msg(
            &mut l,
            2,
            RaftMsg::AppendReply(AppendReply {
                term: 2,
                success: false,
                match_index: 0,
            }),
        );
        let s = sends(&out);
        let (to, RaftMsg::Append(a)) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!((*to, a.prev.index, a.entries.len()), (2, 0, 2));
    }

    #[test]
    fn a_refusal_below_the_recorded_match_lowers_it_and_resends_from_there() {
        let mut l = node(0);
        msg(
            &mut l,
            1,
            append(1, LogPos::default(), vec![entry(1, 1), entry(2, 1)], 0),
        );
        l.handle(crate::protocol::Input::Timeout(RaftTimer::Election));
        msg(
            &mut l,
            1,
            RaftMsg::Vote(Vote {
                term: 2,
                granted: true,
            }),
        );
        assert_eq!(l.role(), Role::Leader);
        let ok = |i| {
            RaftMsg::AppendReply(AppendReply {
                term: 2,
                success: true,
                match_index: i,
            })
        };
        msg(&mut l, 2, ok(2));
        assert_eq!(l.state().match_index.get(&2), Some(&2));
        // Node 2's log shrank to one entry (block sync dropped a diverged suffix).
        let refused = RaftMsg::AppendReply(AppendReply {
            term: 2,
            success: false,
            match_index: 1,
        });
        let out = msg(&mut l, 2, refused.clone());
        assert_eq!(l.state().match_index.get(&2), Some(&1));
        let s = sends(&out);
        let (to, RaftMsg::Append(a)) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!((*to, a.prev.index, a.entries.len()), (2, 1, 1));
    }

    #[test]
    fn a_follower_below_the_log_base_is_left_to_block_sync_not_resent_to() {
        let mut l = node(0);
        msg(
            &mut l,
            1,
            append(
                1,
                LogPos::default(),
                vec![entry(1, 1), entry(2, 1), entry(3, 1)],
                0,
            ),
        );
        l.handle(crate::protocol::Input::Timeout(RaftTimer::Election));
        msg(
            &mut l,
            1,
            RaftMsg::Vote(Vote {
                term: 2,
                granted: true,
            }),
        );
        assert_eq!(l.role(), Role::Leader);
        l.st.log.compact_to(2);
        let refusal = |i| {
            RaftMsg::AppendReply(AppendReply {
                term: 2,
                success: false,
                match_index: i,
            })
        };
        assert!(sends(&msg(&mut l, 2, refusal(1))).is_empty(), "needs sync");
        let s = sends(&msg(&mut l, 2, refusal(2)));
        let (to, RaftMsg::Append(a)) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!(
            (*to, a.prev.index),
            (2, 2),
            "at the base an append can match"
        );
    }

    #[test]
    fn old_term_entries_commit_only_under_a_current_term_entry() {
        // Node 0 holds entry 1 of term 1 and leads term 3; a majority storing entry 1 is
        // not enough (Figure 8) until entry 2 of term 3 is stored too.
        for bug in [None, Some(SeededBug::CommitOldTerm)] {
            let mut c = RaftConfig::new(3, 0);
            c.bug = bug;
            let mut l = Raft::new(c, 0).unwrap();
            msg(
                &mut l,
                1,
                append(1, LogPos::default(), vec![entry(1, 1)], 0),
            );
            msg(
                &mut l,
                1,
                RaftMsg::Vote(Vote {
                    term: 2,
                    granted: false,
                }),
            );
            l.handle(crate::protocol::Input::Timeout(RaftTimer::Election));
            msg(
                &mut l,
                2,
                RaftMsg::Vote(Vote {
                    term: 3,
                    granted: true,
                }),
            );
            assert_eq!(l.role(), Role::Leader);
            let out = msg(
                &mut l,
                2,
                RaftMsg::AppendReply(AppendReply {
                    term: 3,
                    success: true,
                    match_index: 1,
                }),
            );
            assert_eq!(commits(&out), if bug.is_some() { vec![1] } else { vec![] });
            l.handle(propose(2));
            let out = msg(
                &mut l,
                2,
                RaftMsg::AppendReply(AppendReply {
                    term: 3,
                    success: true,
                    match_index: 2,
                }),
            );
            assert_eq!(
                commits(&out),
                if bug.is_some() { vec![2] } else { vec![1, 2] }
            );
        }
    }
}
