//! Single-server membership changes (spec/raft.md RAFT-R15).
//!
//! A change rides on a block entry and takes effect on every node as soon as the entry is in
//! its log (committed or not); at most one change is uncommitted at a time, and a leader
//! changes the membership only after it committed an entry of its own term (Ongaro's fix to
//! the single-server algorithm). The node drives it from the consensus system contract: when
//! the leader's sealer seals a block whose transactions add or remove a sealer, it calls
//! [`Raft::change_membership`] before `Input::Propose` of that block.

use super::messages::MemberChange;
use super::state::Role;
use super::{Raft, RaftError};

impl Raft {
    /// Queues `change` for the next block this leader proposes.
    pub fn change_membership(&mut self, change: MemberChange) -> Result<(), RaftError> {
        if self.st.role != Role::Leader {
            return Err(RaftError::NotLeader);
        }
        let uncommitted = self
            .st
            .log
            .entries
            .iter()
            .any(|e| e.index > self.st.commit_index && e.change.is_some());
        if uncommitted || self.st.pending_change.is_some() {
            return Err(RaftError::ChangeInProgress);
        }
        if self.st.log.term_at(self.st.commit_index) != Some(self.st.term) {
            return Err(RaftError::TermNotCommitted(self.st.term));
        }
        let members = self.st.log.members();
        let (who, no_op) = match change {
            MemberChange::Add(x) => (x, members.contains(&x)),
            MemberChange::Remove(x) => (x, !members.contains(&x) || members.len() == 1),
        };
        if who >= self.cfg.n {
            return Err(RaftError::MemberOutOfRange {
                member: who,
                n: self.cfg.n,
            });
        }
        if no_op {
            return Err(RaftError::NoOpChange);
        }
        self.st.pending_change = Some(change);
        Ok(())
    }

    /// The log's membership may have changed: a leader tracks exactly the current members.
    pub(crate) fn on_members_changed(&mut self) {
        if self.st.role != Role::Leader {
            return;
        }
        let peers = self.peers();
        let next = self.st.log.last().index + 1;
        self.st.next_index.retain(|p, _| peers.contains(p));
        self.st.match_index.retain(|p, _| peers.contains(p));
        for p in peers {
            self.st.next_index.entry(p).or_insert(next);
            self.st.match_index.entry(p).or_insert(0);
        }
    }

    /// A leader that removed itself steps down once the change committed.
    pub(crate) fn after_commit(&mut self) {
        let me = self.cfg.me;
        if self.st.role == Role::Leader && !self.is_member(me) {
            let settled = self
                .st
                .log
                .entries
                .iter()
                .all(|e| e.index <= self.st.commit_index || e.change.is_none());
            if settled {
                self.become_follower(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Output, Protocol};

    fn ack(l: &mut Raft, from: NodeIndex, term: Term, idx: Height) -> Vec<Out> {
        msg(
            l,
            from,
            RaftMsg::AppendReply(AppendReply {
                term,
                success: true,
                match_index: idx,
            }),
        )
    }

    #[test]
    fn change_waits_for_an_own_term_commit_and_goes_one_at_a_time() {
        let (mut l, _) = leader_of_three();
        assert_eq!(
            l.change_membership(MemberChange::Remove(2)),
            Err(RaftError::TermNotCommitted(1))
        );
        l.handle(propose(1));
        ack(&mut l, 1, 1, 1);
        assert_eq!(
            l.change_membership(MemberChange::Add(1)),
            Err(RaftError::NoOpChange)
        );
        assert_eq!(
            l.change_membership(MemberChange::Add(9)),
            Err(RaftError::MemberOutOfRange { member: 9, n: 3 })
        );
        l.change_membership(MemberChange::Remove(2)).unwrap();
        assert_eq!(
            l.change_membership(MemberChange::Remove(1)),
            Err(RaftError::ChangeInProgress)
        );
        let out = l.handle(propose(2));
        assert_eq!(sends(&out).len(), 1, "only node 1 is still a member");
        assert_eq!(l.members(), [0, 1].into());
        assert_eq!(
            l.change_membership(MemberChange::Add(2)),
            Err(RaftError::ChangeInProgress)
        );
        assert_eq!(
            commits(&ack(&mut l, 1, 1, 2)),
            vec![2],
            "majority of {{0, 1}}"
        );
        let mut f = node(2);
        assert_eq!(
            f.change_membership(MemberChange::Add(2)),
            Err(RaftError::NotLeader)
        );
    }

    #[test]
    fn a_removed_leader_steps_down_after_the_commit_and_stays_quiet() {
        let (mut l, _) = leader_of_three();
        l.handle(propose(1));
        ack(&mut l, 1, 1, 1);
        l.change_membership(MemberChange::Remove(0)).unwrap();
        l.handle(propose(2));
        assert_eq!(l.role(), Role::Leader);
        ack(&mut l, 1, 1, 2);
        assert_eq!(
            l.role(),
            Role::Leader,
            "the new members 1 and 2 both must store it"
        );
        let out = ack(&mut l, 2, 1, 2);
        assert_eq!(l.role(), Role::Follower, "{out:?}");
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::CancelTimer(RaftTimer::Heartbeat))));
        assert!(
            !out.iter().any(|o| matches!(o, Output::SetTimer { .. })),
            "a non-member runs no election timer"
        );
    }
}
