//! Proposing and pre-prepares (spec/pbft.md PBFT-R3, R4).

use super::messages::{PbftMsg, PrePrepare};
use super::{Out, Pbft};
use crate::protocol::{NodeIndex, Output, Proposal, Protocol};

impl Pbft {
    /// PBFT-R3: the leader of an entered view pre-prepares the sealer's block; anyone else
    /// (or a leader that already proposed) takes `Propose` as "work is pending" (PBFT-R9).
    pub(crate) fn on_propose(&mut self, p: Proposal, fx: &mut Vec<Out>) {
        if p.height != self.st.height {
            return;
        }
        if !self.may_propose() {
            self.st.work_pending = true;
            return;
        }
        let view = self.st.view;
        // The leader's own prepare is recorded (and so persisted) before its pre-prepare
        // leaves: a restarted leader must not pre-prepare a second block in this view.
        let vote = super::messages::Prepare {
            height: p.height,
            view,
            block_hash: p.block_hash,
        };
        self.st.proposals.insert(view, p.block_hash);
        self.st.prepares.insert((view, self.cfg.me), p.block_hash);
        self.st.my_prepare = Some(vote);
        self.broadcast(
            fx,
            PbftMsg::PrePrepare(PrePrepare {
                height: p.height,
                view,
                block_hash: p.block_hash,
            }),
        );
        self.broadcast(fx, PbftMsg::Prepare(vote));
    }

    /// PBFT-R4: the first pre-prepare of view `w >= view` from its leader fixes the view's
    /// block; one that contradicts it (or the new-view's re-proposal) is evidence (PBFT-R11).
    pub(crate) fn on_pre_prepare(&mut self, from: NodeIndex, m: PrePrepare, fx: &mut Vec<Out>) {
        if m.view < self.st.view || from != self.cfg.leader(m.height, m.view) || from == self.cfg.me
        {
            return;
        }
        let fixed = match self.st.new_views.get(&m.view) {
            Some(Some(b)) => Some(*b),
            _ => self.st.proposals.get(&m.view).copied(),
        };
        match fixed {
            Some(b) if b == m.block_hash => {}
            Some(b) => fx.push(Output::Evidence {
                culprit: from,
                reason: format!(
                    "two pre-prepares at height {} view {}: {} and {}",
                    m.height, m.view, b, m.block_hash
                ),
            }),
            None => {
                self.st.proposals.insert(m.view, m.block_hash);
            }
        }
    }

    /// PBFT-R5: in an entered view with a proposal, prepare it once.
    pub(crate) fn maybe_prepare(&mut self, fx: &mut Vec<Out>) {
        let view = self.st.view;
        if !self.st.view_active || self.st.prepares.contains_key(&(view, self.cfg.me)) {
            return;
        }
        let Some(&block_hash) = self.st.proposals.get(&view) else {
            return;
        };
        let vote = super::messages::Prepare {
            height: self.st.height,
            view,
            block_hash,
        };
        self.st.prepares.insert((view, self.cfg.me), block_hash);
        self.st.my_prepare = Some(vote);
        self.broadcast(fx, PbftMsg::Prepare(vote));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Input, Output, Proposal, Protocol};

    #[test]
    fn leader_pre_prepares_then_prepares_after_persisting() {
        let mut p = node(1); // leader of (1, 0)
        assert!(p.may_propose());
        let out = p.handle(Input::Propose(Proposal {
            height: 1,
            block_hash: hash(7),
        }));
        assert_eq!(
            broadcasts(&out),
            vec![
                PbftMsg::PrePrepare(PrePrepare {
                    height: 1,
                    view: 0,
                    block_hash: hash(7)
                }),
                PbftMsg::Prepare(Prepare {
                    height: 1,
                    view: 0,
                    block_hash: hash(7)
                }),
            ]
        );
        assert!(persist_precedes_sends(&out));
        assert!(
            out.iter().any(|o| matches!(o, Output::SetTimer { .. })),
            "outstanding proposal arms the timer"
        );
        assert!(!p.may_propose(), "one proposal per view");
    }

    #[test]
    fn non_leader_propose_only_signals_work() {
        let mut p = node(0);
        assert!(!p.may_propose());
        let out = p.handle(Input::Propose(Proposal {
            height: 1,
            block_hash: hash(7),
        }));
        assert!(broadcasts(&out).is_empty());
        assert_eq!(
            out,
            vec![Output::SetTimer {
                timer: PbftTimer::View { height: 1, view: 0 },
                ticks: 1000
            }]
        );
        // A proposal for another height is not work for this one.
        let mut q = node(0);
        assert!(q
            .handle(Input::Propose(Proposal {
                height: 2,
                block_hash: hash(7)
            }))
            .is_empty());
    }

    #[test]
    fn replica_prepares_the_leaders_pre_prepare_once() {
        let mut p = node(0);
        let pp = PbftMsg::PrePrepare(PrePrepare {
            height: 1,
            view: 0,
            block_hash: hash(7),
        });
        let out = msg(&mut p, 1, pp.clone());
        assert_eq!(
            broadcasts(&out),
            vec![PbftMsg::Prepare(Prepare {
                height: 1,
                view: 0,
                block_hash: hash(7)
            })]
        );
        assert!(persist_precedes_sends(&out));
        assert!(
            broadcasts(&msg(&mut p, 1, pp)).is_empty(),
            "duplicate ignored"
        );
    }

    #[test]
    fn pre_prepare_from_non_leader_or_old_view_is_ignored() {
        let mut p = node(0);
        let out = msg(
            &mut p,
            2,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        assert!(out.is_empty());
        assert!(p.state().proposals.is_empty());
    }

    #[test]
    fn conflicting_pre_prepare_is_evidence_and_first_stays() {
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
        let out = msg(
            &mut p,
            1,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(8),
            }),
        );
        assert_eq!(evidence(&out), vec![1]);
        assert!(broadcasts(&out).is_empty());
        assert_eq!(p.state().proposals.get(&0), Some(&hash(7)));
    }

    #[test]
    fn pre_prepare_for_a_view_not_yet_entered_waits() {
        let mut p = node(0);
        // Leader of (1, 1) is node 2; node 0 is still active in view 0.
        let out = msg(
            &mut p,
            2,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 1,
                block_hash: hash(7),
            }),
        );
        assert!(broadcasts(&out).is_empty());
        assert_eq!(p.state().proposals.get(&1), Some(&hash(7)));
    }
}
