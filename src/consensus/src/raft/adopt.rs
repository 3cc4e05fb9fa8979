//! RAFT-R17 (adopting an earlier term's tail; spec/raft.md): the way out of a stall that the
//! simulator found (`bcos-sim`, seed 1 of `--protocol raft`).
//!
//! A new leader whose log ends in uncommitted entries of earlier terms may commit them only
//! beneath an entry of its own term (R9). Standard Raft appends one at `last + 1`, but a
//! block at `last + 1` must be built and executed on the block at `last`, and the node
//! executes only on its stored head: a follower acknowledges an entry only once it executed
//! its block on its head (spec/raft.md §5.1), so it cannot acknowledge `last + 1` before
//! `last` commits. Nothing could ever commit again.
//!
//! Instead the leader re-issues that tail in its own term: same indices, same blocks, same
//! membership changes, only the term changes. This is the leader truncating its own
//! uncommitted suffix and appending entries with identical content, so no index ever gets a
//! second block: whatever an earlier leader may already have committed there is exactly
//! what the new entries carry (S5). Followers replace the old-term entries by R8 (a term
//! conflict above their commit index) and acknowledge them as usual.

use bcos_types::Height;

use super::state::Role;
use super::{Out, Raft};

impl Raft {
    /// RAFT-R17: a leader whose log ends in uncommitted entries of earlier terms re-issues
    /// them in its own term and replicates them. Nothing happens for anyone else, or when the
    /// tail is already of the current term.
    pub fn adopt_tail(&mut self) -> Vec<Out> {
        let mut fx = Vec::new();
        if self.st.role == Role::Leader && self.is_member(self.cfg.me) {
            let (commit, term) = (self.st.commit_index, self.st.term);
            let mut first: Option<Height> = None;
            for e in self.st.log.entries.iter_mut() {
                if e.index > commit && e.term < term {
                    e.term = term;
                    first.get_or_insert(e.index);
                }
            }
            if let Some(first) = first {
                // What peers matched from `first` on was the old-term entries.
                for m in self.st.match_index.values_mut() {
                    *m = (*m).min(first - 1);
                }
                for n in self.st.next_index.values_mut() {
                    *n = (*n).min(first);
                }
                self.maybe_advance_commit();
                self.replicate_all(&mut fx);
            }
        }
        self.finish(&mut fx);
        fx
    }

    /// Whether [`Raft::adopt_tail`] would change anything.
    pub fn tail_of_earlier_term(&self) -> bool {
        let last = self.st.log.last();
        self.st.role == Role::Leader
            && last.index > self.st.commit_index
            && last.term < self.st.term
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Input, Output, Protocol};

    /// Node 0 of three holds entry 1 of term 1 (uncommitted), then wins term 2.
    fn leader_with_old_tail() -> Raft {
        let mut n = node(0);
        msg(
            &mut n,
            1,
            append(1, LogPos::default(), vec![entry(1, 1)], 0),
        );
        n.handle(Input::Timeout(RaftTimer::Election));
        msg(
            &mut n,
            2,
            RaftMsg::Vote(Vote {
                term: 2,
                granted: true,
            }),
        );
        assert_eq!(n.role(), Role::Leader);
        assert_eq!(n.term(), 2);
        n
    }

    #[test]
    fn an_old_term_tail_is_reissued_in_the_leaders_term_and_then_commits() {
        let mut l = leader_with_old_tail();
        assert!(l.tail_of_earlier_term());
        // R9: a majority holding the term-1 entry does not commit it.
        let ok = |m| {
            RaftMsg::AppendReply(AppendReply {
                term: 2,
                success: true,
                match_index: m,
            })
        };
        assert!(commits(&msg(&mut l, 1, ok(1))).is_empty());
        let out = l.adopt_tail();
        assert!(persist_precedes_sends(&out));
        assert_eq!(
            l.state().log.get(1).map(|e| (e.term, e.block_hash)),
            Some((2, hash(1)))
        );
        assert!(!l.tail_of_earlier_term());
        let appends: Vec<_> = sends(&out)
            .into_iter()
            .filter_map(|(_, m)| match m {
                RaftMsg::Append(a) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(appends.len(), 2, "both peers get the re-issued entry");
        assert!(appends.iter().all(|a| a.entries
            == vec![Entry {
                term: 2,
                ..entry(1, 1)
            }]));
        // The match recorded for the term-1 entry no longer counts: a fresh ack does.
        let out = msg(&mut l, 1, ok(1));
        assert_eq!(commits(&out), vec![1]);
        let Some(Output::Commit(d)) = out.iter().find(|o| matches!(o, Output::Commit(_))) else {
            panic!("no commit")
        };
        assert_eq!(d.block_hash, hash(1));
        assert_eq!(
            decode_certificate(&d.certificate),
            Some(LogPos { index: 1, term: 2 })
        );
    }

    #[test]
    fn a_follower_replaces_the_old_entry_with_the_reissued_one() {
        let mut f = node(1);
        msg(
            &mut f,
            0,
            append(1, LogPos::default(), vec![entry(1, 1)], 0),
        );
        let out = msg(
            &mut f,
            2,
            append(
                2,
                LogPos::default(),
                vec![Entry {
                    term: 2,
                    ..entry(1, 1)
                }],
                0,
            ),
        );
        assert_eq!(
            replies(&out),
            vec![AppendReply {
                term: 2,
                success: true,
                match_index: 1
            }]
        );
        assert_eq!(f.state().log.term_at(1), Some(2));
        assert_eq!(f.state().log.get(1).map(|e| e.block_hash), Some(hash(1)));
    }

    #[test]
    fn nothing_changes_for_followers_or_current_term_tails() {
        let mut f = node(1);
        msg(
            &mut f,
            0,
            append(1, LogPos::default(), vec![entry(1, 1)], 0),
        );
        let before = f.clone();
        assert!(!f.tail_of_earlier_term());
        f.adopt_tail();
        assert_eq!(f, before);
        let (mut l, _) = leader_of_three();
        l.handle(propose(1));
        let before = l.clone();
        assert!(l.adopt_tail().is_empty());
        assert_eq!(l, before);
    }
}
