//! Execution results, commit votes and the decision (spec/pbft.md PBFT-R7, R8, R11, R16,
//! R19).

use super::messages::{Commit, CommitBody, CommitCert, PbftMsg};
use super::{Out, Pbft};
use crate::protocol::{Decision, ExecutedRoots, NodeIndex, Output};

impl Pbft {
    /// PBFT-R19: remember the roots the driver computed for a block of this height; the
    /// block need not be pre-prepared yet (execution runs beside the vote).
    pub(crate) fn on_executed(&mut self, r: ExecutedRoots) {
        if r.height != self.st.height {
            return;
        }
        let body = CommitBody {
            block_hash: r.block_hash,
            state_root: r.state_root,
            receipts_root: r.receipts_root,
        };
        if self.st.executed.contains_key(&r.block_hash)
            || self.st.executed.len() < self.cfg.executed_max
        {
            self.st.executed.insert(r.block_hash, body);
        }
    }

    /// PBFT-R7: once the current view's block is prepared and executed, lock it (R6, made
    /// durable first) and cast the one commit vote of this view.
    pub(crate) fn maybe_commit_vote(&mut self, fx: &mut Vec<Out>) {
        let view = self.st.view;
        if !self.st.view_active || self.st.commits.contains_key(&(view, self.cfg.me)) {
            return;
        }
        let Some(&block_hash) = self.st.proposals.get(&view) else {
            return;
        };
        if !self.prepared_in_view(block_hash) {
            return;
        }
        let Some(&body) = self.st.executed.get(&block_hash) else {
            return;
        };
        let vote = Commit {
            height: self.st.height,
            view,
            body,
        };
        self.st.commits.insert((view, self.cfg.me), body);
        self.st.my_commit = Some(vote);
        self.broadcast(fx, PbftMsg::Commit(vote));
    }

    /// PBFT-R11: one commit vote per (view, sender).
    pub(crate) fn on_commit(&mut self, from: NodeIndex, m: Commit, fx: &mut Vec<Out>) {
        if from == self.cfg.me {
            return;
        }
        match self.st.commits.get(&(m.view, from)) {
            Some(b) if *b == m.body => {}
            Some(b) => fx.push(Output::Evidence {
                culprit: from,
                reason: format!(
                    "two commits at height {} view {}: {:?} and {:?}",
                    m.height, m.view, b, m.body
                ),
            }),
            None => {
                self.st.commits.insert((m.view, from), m.body);
            }
        }
    }

    /// PBFT-R8: 2f + 1 identical commit votes of any view decide the height; the
    /// certificate lists every voter of that digest.
    pub(crate) fn maybe_decide(&mut self, fx: &mut Vec<Out>) {
        let q = self.cfg.decide_quorum();
        let Some(((view, body), voters)) = self
            .st
            .commit_tallies()
            .into_iter()
            .find(|(_, voters)| voters.len() >= q)
        else {
            return;
        };
        let height = self.st.height;
        let cert = CommitCert {
            height,
            view,
            body,
            voters,
        };
        fx.push(Output::Commit(Decision {
            height,
            block_hash: body.block_hash,
            certificate: cert.encode(),
        }));
        self.advance(height + 1, fx);
        self.progress(fx);
    }

    /// PBFT-R16: a peer still changing views at the height this node just decided missed
    /// the commit votes; send it this node's own.
    pub(crate) fn on_stale(&mut self, from: NodeIndex, msg: &PbftMsg, fx: &mut Vec<Out>) {
        if let (PbftMsg::ViewChange(vc), Some(c)) = (msg, self.st.last_commit) {
            if vc.height == c.height && from != self.cfg.me {
                self.send(fx, from, PbftMsg::Commit(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{ExecutedRoots, Input, Protocol};

    fn executed(b: u8) -> Input<PbftMsg, PbftTimer> {
        let body = body(b);
        Input::Executed(ExecutedRoots {
            height: 1,
            block_hash: body.block_hash,
            state_root: body.state_root,
            receipts_root: body.receipts_root,
        })
    }

    fn prepared_replica() -> Pbft {
        let mut p = node(0);
        msg(
            &mut p,
            1,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        for from in [1, 2] {
            msg(
                &mut p,
                from,
                PbftMsg::Prepare(Prepare {
                    height: 1,
                    view: 0,
                    block_hash: hash(7),
                }),
            );
        }
        p
    }

    fn commit(b: u8) -> PbftMsg {
        PbftMsg::Commit(Commit {
            height: 1,
            view: 0,
            body: body(b),
        })
    }

    #[test]
    fn commit_vote_waits_for_execution_and_carries_the_roots() {
        let mut p = prepared_replica();
        assert!(p.state().my_commit.is_none(), "prepared but not executed");
        let out = p.handle(executed(7));
        assert_eq!(broadcasts(&out), vec![commit(7)]);
        assert!(persist_precedes_sends(&out));
    }

    #[test]
    fn execution_before_prepare_quorum_waits_for_the_quorum() {
        let mut p = node(0);
        msg(
            &mut p,
            1,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        assert!(broadcasts(&p.handle(executed(7))).is_empty());
        msg(
            &mut p,
            1,
            PbftMsg::Prepare(Prepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        let out = msg(
            &mut p,
            2,
            PbftMsg::Prepare(Prepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        assert_eq!(broadcasts(&out), vec![commit(7)]);
    }

    #[test]
    fn executed_roots_for_another_block_do_not_vote() {
        let mut p = prepared_replica();
        assert!(broadcasts(&p.handle(executed(8))).is_empty());
    }

    #[test]
    fn quorum_of_matching_commits_decides_with_sorted_certificate() {
        let mut p = prepared_replica();
        p.handle(executed(7));
        msg(&mut p, 3, commit(7));
        let out = msg(&mut p, 1, commit(7));
        let d = commits(&out);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].height, d[0].block_hash), (1, hash(7)));
        let cert = CommitCert::decode(&d[0].certificate).unwrap();
        assert_eq!(
            (cert.view, cert.body, cert.voters),
            (0, body(7), vec![0, 1, 3])
        );
        // PBFT-R18: the next height starts clean.
        assert_eq!(p.next_height(), 2);
        assert!(
            p.state().prepares.is_empty()
                && p.state().commits.is_empty()
                && p.state().lock.is_none()
        );
        assert!(
            out.iter().any(|o| matches!(o, Output::CancelTimer(_))),
            "idle after the decision"
        );
    }

    #[test]
    fn commits_with_different_roots_do_not_form_a_quorum() {
        let mut p = node(0);
        let mut other = body(7);
        other.state_root = hash(0xee);
        msg(&mut p, 1, commit(7));
        msg(&mut p, 2, commit(7));
        let out = msg(
            &mut p,
            3,
            PbftMsg::Commit(Commit {
                height: 1,
                view: 0,
                body: other,
            }),
        );
        assert!(commits(&out).is_empty());
        assert_eq!(p.next_height(), 1);
    }

    #[test]
    fn seeded_commit_bug_decides_on_two_votes() {
        let mut correct = node(0);
        msg(&mut correct, 1, commit(7));
        assert!(
            commits(&msg(&mut correct, 2, commit(7))).is_empty(),
            "two of three"
        );
        let mut cfg = PbftConfig::new(4, 0);
        cfg.bug = Some(SeededBug::CommitTwoF);
        assert_eq!(
            (cfg.quorum(), cfg.decide_quorum()),
            (3, 2),
            "only the decision"
        );
        let mut bugged = Pbft::new(cfg, 1).unwrap();
        msg(&mut bugged, 1, commit(7));
        assert_eq!(commits(&msg(&mut bugged, 2, commit(7))).len(), 1);
    }

    #[test]
    fn double_commit_vote_is_evidence() {
        let mut p = node(0);
        msg(&mut p, 2, commit(7));
        assert_eq!(evidence(&msg(&mut p, 2, commit(8))), vec![2]);
    }

    #[test]
    fn decides_without_own_execution_and_helps_a_laggard() {
        let mut p = node(0);
        for from in [1, 2, 3] {
            msg(&mut p, from, commit(7));
        }
        assert_eq!(p.next_height(), 2);
        // Not having voted, node 0 has nothing to offer a laggard.
        let vc = PbftMsg::ViewChange(ViewChange {
            height: 1,
            view: 1,
            prepared: None,
        });
        assert!(msg(&mut p, 3, vc.clone()).is_empty());
        // A voter re-sends its commit vote to a node still at the decided height.
        let mut q = prepared_replica();
        q.handle(executed(7));
        for from in [1, 2] {
            msg(&mut q, from, commit(7));
        }
        assert_eq!(q.next_height(), 2);
        let out = msg(&mut q, 3, vc);
        assert_eq!(
            out,
            vec![Output::Send {
                to: 3,
                msg: commit(7)
            }]
        );
    }

    #[test]
    fn executed_results_are_bounded() {
        let mut p = node(0);
        for b in 0..20u8 {
            p.handle(executed(b));
        }
        assert_eq!(p.state().executed.len(), p.config().executed_max);
    }
}
