//! View changes and new views (spec/pbft.md PBFT-R9, R10, R12 … R15).

use bcos_types::View;

use super::messages::{NewView, PbftMsg, PbftTimer, PreparedCert, ViewChange};
use super::state::highest_prepared;
use super::{Out, Pbft, SeededBug};
use crate::protocol::{NodeIndex, Output};

impl Pbft {
    /// PBFT-R10: the view timer fired. An entered view is abandoned for the next one; a
    /// view change that a quorum already joined (its leader failed to deliver) escalates;
    /// otherwise this node re-sends its view change and keeps waiting, so one node with a
    /// stray timer cannot drive the views up alone.
    pub(crate) fn on_timeout(&mut self, t: PbftTimer, fx: &mut Vec<Out>) {
        let PbftTimer::View { height, view } = t;
        if (height, view) != (self.st.height, self.st.view) || self.st.timer != Some(t) {
            return;
        }
        self.st.timer = None;
        if self.st.view_active || self.st.view_change_senders(view).len() >= self.cfg.quorum() {
            self.start_view_change(view + 1, fx);
        } else if let Some(vc) = self.st.my_view_change.clone() {
            self.broadcast(fx, PbftMsg::ViewChange(vc));
        }
    }

    /// PBFT-R10: leave for `view`, carrying the lock forward (the seeded NoLock bug drops it).
    fn start_view_change(&mut self, view: View, fx: &mut Vec<Out>) {
        if self.cfg.bug == Some(SeededBug::NoLock) {
            self.st.lock = None;
        }
        let vc = ViewChange {
            height: self.st.height,
            view,
            prepared: self.st.lock.clone(),
        };
        self.st.view = view;
        self.st.view_active = false;
        self.st.view_changes.insert((view, self.cfg.me), vc.clone());
        self.st.my_view_change = Some(vc.clone());
        self.broadcast(fx, PbftMsg::ViewChange(vc));
    }

    /// A prepared certificate is well formed: this height, an earlier view than `before`,
    /// a quorum of distinct known voters in ascending order. (Its signatures were checked
    /// by the driver.)
    fn cert_ok(&self, pc: &PreparedCert, before: View) -> bool {
        pc.height == self.st.height
            && pc.view < before
            && pc.voters.len() >= self.cfg.quorum()
            && pc.voters.windows(2).all(|w| w[0] < w[1])
            && pc.voters.iter().all(|v| self.cfg.is_validator(*v))
    }

    /// PBFT-R12 (record) and PBFT-R15 (answer a laggard with the new-view it missed).
    pub(crate) fn on_view_change(&mut self, from: NodeIndex, vc: ViewChange, fx: &mut Vec<Out>) {
        if from == self.cfg.me || vc.view == 0 {
            return;
        }
        if vc
            .prepared
            .as_ref()
            .is_some_and(|pc| !self.cert_ok(pc, vc.view))
        {
            return;
        }
        if vc.view <= self.st.view && self.st.view_active {
            if let Some(nv) = self
                .st
                .sent_new_view
                .clone()
                .filter(|nv| nv.view == self.st.view)
            {
                self.send(fx, from, PbftMsg::NewView(nv));
            }
            return;
        }
        if vc.view >= self.st.view {
            self.st.view_changes.entry((vc.view, from)).or_insert(vc);
        }
    }

    /// PBFT-R12: f + 1 nodes asking for views above ours include an honest one, so join
    /// the highest view that f + 1 of them ask for at least.
    pub(crate) fn maybe_join_view_change(&mut self, fx: &mut Vec<Out>) {
        let mut highest: Vec<(NodeIndex, View)> = Vec::new();
        for ((view, who), _) in self.st.view_changes.range((self.st.view + 1, 0)..) {
            if *who == self.cfg.me {
                continue;
            }
            match highest.iter_mut().find(|(w, _)| w == who) {
                Some(entry) => entry.1 = entry.1.max(*view),
                None => highest.push((*who, *view)),
            }
        }
        let need = self.cfg.f as usize + 1;
        if highest.len() < need {
            return;
        }
        let mut views: Vec<View> = highest.into_iter().map(|(_, v)| v).collect();
        views.sort_unstable_by(|a, b| b.cmp(a));
        self.start_view_change(views[need - 1], fx);
    }

    /// PBFT-R13: the leader of the view being changed to, holding a quorum of view changes
    /// for it, enters the view and announces it with the highest prepared block.
    pub(crate) fn maybe_send_new_view(&mut self, fx: &mut Vec<Out>) {
        let view = self.st.view;
        if self.st.view_active || self.cfg.leader(self.st.height, view) != self.cfg.me {
            return;
        }
        let view_changes: Vec<(NodeIndex, ViewChange)> = self
            .st
            .view_changes
            .range((view, 0)..=(view, NodeIndex::MAX))
            .map(|((_, who), vc)| (*who, vc.clone()))
            .collect();
        if view_changes.len() < self.cfg.quorum() {
            return;
        }
        let reproposal = highest_prepared(
            view_changes
                .iter()
                .filter_map(|(_, vc)| vc.prepared.as_ref()),
        )
        .map(|pc| pc.block_hash);
        let nv = NewView {
            height: self.st.height,
            view,
            view_changes,
            reproposal,
        };
        self.enter_view(view, reproposal);
        self.st.sent_new_view = Some(nv.clone());
        self.broadcast(fx, PbftMsg::NewView(nv));
    }

    fn enter_view(&mut self, view: View, reproposal: Option<bcos_types::B256>) {
        self.st.view = view;
        self.st.view_active = true;
        self.st.new_views.insert(view, reproposal);
        if let Some(b) = reproposal {
            self.st.proposals.insert(view, b);
        }
    }

    /// PBFT-R14: a replica checks the new-view itself (a quorum of distinct view changes
    /// for this view, and the re-proposal is the highest prepared block among them) and
    /// enters the view; the re-proposal then stands as the view's pre-prepare.
    pub(crate) fn on_new_view(&mut self, from: NodeIndex, nv: NewView, fx: &mut Vec<Out>) {
        let view = nv.view;
        let fresh = view > self.st.view || (view == self.st.view && !self.st.view_active);
        if view == 0 || !fresh || from == self.cfg.me || from != self.cfg.leader(nv.height, view) {
            return;
        }
        let vcs = &nv.view_changes;
        let well_formed = vcs.len() >= self.cfg.quorum()
            && vcs.windows(2).all(|w| w[0].0 < w[1].0)
            && vcs.iter().all(|(who, vc)| {
                self.cfg.is_validator(*who)
                    && vc.height == nv.height
                    && vc.view == view
                    && vc.prepared.as_ref().is_none_or(|pc| self.cert_ok(pc, view))
            });
        if !well_formed {
            return;
        }
        let expected = highest_prepared(vcs.iter().filter_map(|(_, vc)| vc.prepared.as_ref()))
            .map(|pc| pc.block_hash);
        if expected != nv.reproposal {
            return;
        }
        if let (Some(b), Some(earlier)) = (nv.reproposal, self.st.proposals.get(&view)) {
            if *earlier != b {
                fx.push(Output::Evidence {
                    culprit: from,
                    reason: format!(
                        "pre-prepare {earlier} contradicts new-view re-proposal {b} in view {view}"
                    ),
                });
            }
        }
        self.enter_view(view, nv.reproposal);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;
    use crate::protocol::{Input, Output, Protocol};

    fn timeout(p: &mut Pbft) -> Vec<Out> {
        let t = p.state().timer.expect("timer armed");
        p.handle(Input::Timeout(t))
    }

    fn vc(view: u64, prepared: Option<PreparedCert>) -> ViewChange {
        ViewChange {
            height: 1,
            view,
            prepared,
        }
    }

    fn pc(view: u64, b: u8) -> PreparedCert {
        PreparedCert {
            height: 1,
            view,
            block_hash: hash(b),
            voters: vec![0, 1, 2],
        }
    }

    #[test]
    fn idle_replica_arms_no_timer() {
        let mut p = node(0);
        assert!(p.state().timer.is_none());
        let out = p.handle(Input::Timeout(PbftTimer::View { height: 1, view: 0 }));
        assert!(out.is_empty(), "a timer that was never set does nothing");
        assert_eq!(p.view(), 0);
    }

    #[test]
    fn timeout_with_work_starts_a_view_change_carrying_the_lock() {
        let mut p = node(0);
        for from in 1..=3 {
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
        let lock = p.state().lock.clone();
        assert!(lock.is_some());
        let out = timeout(&mut p);
        assert_eq!(broadcasts(&out), vec![PbftMsg::ViewChange(vc(1, lock))]);
        assert!(persist_precedes_sends(&out));
        assert!(out.iter().any(|o| matches!(
            o,
            Output::SetTimer {
                timer: PbftTimer::View { view: 1, .. },
                ticks: 2000
            }
        )));
        assert_eq!((p.view(), p.state().view_active), (1, false));
    }

    #[test]
    fn seeded_no_lock_bug_drops_the_certificate() {
        let mut cfg = PbftConfig::new(4, 0);
        cfg.bug = Some(SeededBug::NoLock);
        let mut p = Pbft::new(cfg, 1).unwrap();
        for from in 1..=3 {
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
        assert_eq!(
            broadcasts(&timeout(&mut p)),
            vec![PbftMsg::ViewChange(vc(1, None))]
        );
    }

    #[test]
    fn a_lone_view_change_retransmits_instead_of_escalating() {
        let mut p = node(0);
        p.handle(Input::Propose(crate::protocol::Proposal {
            height: 1,
            block_hash: hash(7),
        }));
        timeout(&mut p);
        let out = timeout(&mut p);
        assert_eq!(broadcasts(&out), vec![PbftMsg::ViewChange(vc(1, None))]);
        assert_eq!(p.view(), 1);
        // With a quorum in view change but no new-view, the next timeout escalates.
        msg(&mut p, 1, PbftMsg::ViewChange(vc(1, None)));
        msg(&mut p, 3, PbftMsg::ViewChange(vc(1, None)));
        let out = timeout(&mut p);
        assert_eq!(broadcasts(&out), vec![PbftMsg::ViewChange(vc(2, None))]);
    }

    #[test]
    fn f_plus_one_view_changes_pull_a_replica_along() {
        let mut p = node(0);
        assert!(broadcasts(&msg(&mut p, 1, PbftMsg::ViewChange(vc(3, None)))).is_empty());
        let out = msg(&mut p, 3, PbftMsg::ViewChange(vc(2, None)));
        assert_eq!(broadcasts(&out), vec![PbftMsg::ViewChange(vc(2, None))]);
    }

    #[test]
    fn new_leader_re_proposes_the_highest_prepared_block() {
        let mut p = node(2); // leader of (1, 1)
        msg(&mut p, 0, PbftMsg::ViewChange(vc(1, Some(pc(0, 7)))));
        let out = msg(&mut p, 3, PbftMsg::ViewChange(vc(1, None)));
        // Two view changes are f + 1: node 2 joins, has a quorum and leads at once.
        let b = broadcasts(&out);
        assert_eq!(b[0], PbftMsg::ViewChange(vc(1, None)));
        let PbftMsg::NewView(nv) = &b[1] else {
            panic!("expected new-view, got {b:?}")
        };
        assert_eq!(
            (nv.view, nv.reproposal, nv.view_changes.len()),
            (1, Some(hash(7)), 3)
        );
        assert_eq!(
            b[2],
            PbftMsg::Prepare(Prepare {
                height: 1,
                view: 1,
                block_hash: hash(7)
            })
        );
        assert!(!p.may_propose(), "the re-proposal is the view's block");
    }

    #[test]
    fn new_leader_without_certificates_waits_for_a_fresh_block() {
        let mut p = node(2);
        msg(&mut p, 0, PbftMsg::ViewChange(vc(1, None)));
        let out = msg(&mut p, 3, PbftMsg::ViewChange(vc(1, None)));
        assert!(matches!(
            broadcasts(&out)[1],
            PbftMsg::NewView(NewView {
                reproposal: None,
                ..
            })
        ));
        assert!(p.may_propose());
    }

    fn new_view(reproposal: Option<u8>, prepared: Option<PreparedCert>) -> PbftMsg {
        PbftMsg::NewView(NewView {
            height: 1,
            view: 1,
            view_changes: vec![(0, vc(1, prepared)), (1, vc(1, None)), (3, vc(1, None))],
            reproposal: reproposal.map(hash),
        })
    }

    #[test]
    fn replica_accepts_a_valid_new_view_and_prepares_the_re_proposal() {
        let mut p = node(1);
        let out = msg(&mut p, 2, new_view(Some(7), Some(pc(0, 7))));
        assert_eq!((p.view(), p.state().view_active), (1, true));
        assert_eq!(
            broadcasts(&out),
            vec![PbftMsg::Prepare(Prepare {
                height: 1,
                view: 1,
                block_hash: hash(7)
            })]
        );
    }

    #[test]
    fn replica_rejects_new_views_that_hide_a_certificate_or_lack_a_quorum() {
        let mut p = node(1);
        assert!(
            msg(&mut p, 2, new_view(None, Some(pc(0, 7)))).is_empty(),
            "hides the lock"
        );
        assert!(
            msg(&mut p, 2, new_view(Some(8), Some(pc(0, 7)))).is_empty(),
            "wrong block"
        );
        assert!(
            msg(&mut p, 3, new_view(Some(7), Some(pc(0, 7)))).is_empty(),
            "not the leader"
        );
        let short = PbftMsg::NewView(NewView {
            height: 1,
            view: 1,
            view_changes: vec![(0, vc(1, None)), (3, vc(1, None))],
            reproposal: None,
        });
        assert!(msg(&mut p, 2, short).is_empty(), "no quorum");
        let forged = PreparedCert {
            voters: vec![0, 0, 1],
            ..pc(0, 7)
        };
        assert!(
            msg(&mut p, 2, new_view(Some(7), Some(forged))).is_empty(),
            "repeated voter"
        );
        assert_eq!(p.view(), 0);
    }

    #[test]
    fn leader_answers_a_laggard_with_its_new_view() {
        let mut p = node(2);
        msg(&mut p, 0, PbftMsg::ViewChange(vc(1, None)));
        msg(&mut p, 3, PbftMsg::ViewChange(vc(1, None)));
        let out = msg(&mut p, 1, PbftMsg::ViewChange(vc(1, None)));
        assert!(matches!(
            &out[..],
            [Output::Send {
                to: 1,
                msg: PbftMsg::NewView(_)
            }]
        ));
    }
}
