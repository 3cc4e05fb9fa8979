//! Parallel PBFT (whitepaper §3.3.1), a sans-IO core behind [`Protocol`]. spec/pbft.md is the
//! specification; every handler cites its rule (`PBFT-R*`).
//!
//! One height at a time: the core decides `height` (committed head + 1), view by view, with
//! leader `(height + view) mod n`. Replicas prepare a proposal as soon as its pre-prepare
//! arrives, execute it meanwhile, and cast their commit vote on (height, view, block hash,
//! state root, receipts root) once the block is prepared *and* executed. Phases live in
//! sibling modules: [`preprepare`], [`prepare`], [`commit`], [`view_change`].

pub mod commit;
pub mod config;
pub mod messages;
pub mod prepare;
pub mod preprepare;
pub mod state;
pub mod view_change;

use bcos_types::{Height, View};

use crate::protocol::{Input, NodeIndex, Output, Protocol};
pub use config::{PbftConfig, PbftError, SeededBug};
pub use messages::{
    CertError, Commit, CommitBody, CommitCert, NewView, PbftMsg, PbftTimer, PrePrepare, Prepare,
    PreparedCert, ViewChange,
};
pub use state::{PbftDurable, PbftState};

pub(crate) type Out = Output<PbftMsg, PbftTimer, PbftDurable>;

/// One PBFT replica.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pbft {
    cfg: PbftConfig,
    st: PbftState,
}

impl Pbft {
    /// A fresh replica deciding `next_height` (committed head + 1).
    pub fn new(cfg: PbftConfig, next_height: Height) -> Result<Self, PbftError> {
        cfg.validate()?;
        Ok(Pbft {
            cfg,
            st: PbftState::new(next_height),
        })
    }

    /// A restarted replica (PBFT-R2): `durable` is the last `Output::Persist` it made
    /// durable (if any), `committed_head` the head of its block store. A snapshot for a
    /// height already committed is obsolete. A snapshot *ahead* of the store (the core moved
    /// to h + 1 and persisted a vote there before the driver stored block h, then the node
    /// crashed) is kept: its votes are promises the node must not break, and the blocks up
    /// to it come by sync (PBFT-R17; a quorum decided them). Call [`Pbft::resume`] next.
    pub fn restore(
        cfg: PbftConfig,
        committed_head: Height,
        durable: Option<PbftDurable>,
    ) -> Result<Self, PbftError> {
        cfg.validate()?;
        let next = committed_head.saturating_add(1);
        let st = match durable {
            Some(mut d) if d.height >= next => {
                if cfg.bug == Some(SeededBug::LockNotDurable) {
                    d.lock = None;
                }
                PbftState::from_durable(cfg.me, d)
            }
            _ => PbftState::new(next),
        };
        Ok(Pbft { cfg, st })
    }

    /// After a restore: re-sends this node's latest votes (they may have been lost with the
    /// crash) and re-arms the view timer if work is outstanding (PBFT-R2).
    pub fn resume(&mut self) -> Vec<Out> {
        let mut fx = Vec::new();
        let mine: Vec<PbftMsg> = [
            self.st.my_prepare.map(PbftMsg::Prepare),
            self.st.my_commit.map(PbftMsg::Commit),
            self.st
                .my_view_change
                .clone()
                .filter(|vc| !self.st.view_active && vc.view == self.st.view)
                .map(PbftMsg::ViewChange),
        ]
        .into_iter()
        .flatten()
        .collect();
        for m in mine {
            self.broadcast(&mut fx, m);
        }
        self.finish(&mut fx);
        fx
    }

    /// Block sync applied certified blocks up to `next_height - 1` outside consensus: jump
    /// there (PBFT-R17).
    pub fn advance_to(&mut self, next_height: Height) -> Vec<Out> {
        let mut fx = Vec::new();
        if next_height > self.st.height {
            self.advance(next_height, &mut fx);
            self.progress(&mut fx);
        }
        self.finish(&mut fx);
        fx
    }

    pub fn config(&self) -> &PbftConfig {
        &self.cfg
    }

    /// A governed timeout (spec/governance.md GOV-R7): the view timeout of view 0 from the
    /// next timer this core arms. Timeouts bear on liveness only (PBFT-R9).
    pub fn set_view_timeout_ticks(&mut self, ticks: u64) {
        self.cfg.view_timeout_ticks = ticks.max(1);
    }

    pub fn state(&self) -> &PbftState {
        &self.st
    }

    pub fn view(&self) -> View {
        self.st.view
    }

    /// The leader of the current (height, view).
    pub fn leader(&self) -> NodeIndex {
        self.cfg.leader(self.st.height, self.st.view)
    }

    /// Appends a send, first persisting whatever durable state changed (PBFT-R2).
    pub(crate) fn broadcast(&mut self, fx: &mut Vec<Out>, msg: PbftMsg) {
        self.flush_persist(fx);
        fx.push(Output::Broadcast(msg));
    }

    pub(crate) fn send(&mut self, fx: &mut Vec<Out>, to: NodeIndex, msg: PbftMsg) {
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

    /// Runs every rule whose precondition may now hold, in phase order.
    pub(crate) fn progress(&mut self, fx: &mut Vec<Out>) {
        self.maybe_join_view_change(fx);
        self.maybe_send_new_view(fx);
        self.maybe_prepare(fx);
        self.update_lock();
        self.maybe_commit_vote(fx);
        self.maybe_decide(fx);
    }

    /// PBFT-R9: the view timer runs exactly while progress is expected at this height.
    fn needs_timer(&self) -> bool {
        !self.st.view_active
            || self.st.work_pending
            || self.st.proposals.contains_key(&self.st.view)
            || self.st.peers_active(self.cfg.me)
    }

    fn sync_timer(&mut self, fx: &mut Vec<Out>) {
        let key = PbftTimer::View {
            height: self.st.height,
            view: self.st.view,
        };
        if self.needs_timer() {
            if self.st.timer != Some(key) {
                if let Some(old) = self.st.timer.take() {
                    fx.push(Output::CancelTimer(old));
                }
                self.st.timer = Some(key);
                fx.push(Output::SetTimer {
                    timer: key,
                    ticks: self.cfg.view_timeout(self.st.view),
                });
            }
        } else if let Some(old) = self.st.timer.take() {
            fx.push(Output::CancelTimer(old));
        }
    }

    /// End of every input: timer, then any durable change no send forced out yet.
    fn finish(&mut self, fx: &mut Vec<Out>) {
        self.sync_timer(fx);
        if self.st.durable() != PbftDurable::fresh(self.st.height) {
            self.flush_persist(fx);
        }
    }

    /// PBFT-R1: admission of a verified message.
    fn on_message(&mut self, from: NodeIndex, msg: PbftMsg, fx: &mut Vec<Out>) {
        if !self.cfg.is_validator(from) {
            return;
        }
        let h = msg.height();
        if h < self.st.height {
            self.on_stale(from, &msg, fx);
            return;
        }
        if h > self.st.height {
            self.buffer_future(from, msg);
            return;
        }
        if msg.view() > self.st.view.saturating_add(self.cfg.views_ahead_max) {
            return;
        }
        match msg {
            PbftMsg::PrePrepare(m) => self.on_pre_prepare(from, m, fx),
            PbftMsg::Prepare(m) => self.on_prepare(from, m, fx),
            PbftMsg::Commit(m) => self.on_commit(from, m, fx),
            PbftMsg::ViewChange(m) => self.on_view_change(from, m, fx),
            PbftMsg::NewView(m) => self.on_new_view(from, m, fx),
        }
    }

    /// PBFT-R17: keep a bounded window of messages for later heights, each sender within
    /// its own share of the buffer so that one flooding peer cannot crowd out the others.
    fn buffer_future(&mut self, from: NodeIndex, msg: PbftMsg) {
        let h = msg.height();
        if h - self.st.height > self.cfg.future_heights_max
            || self.st.future.len() >= self.cfg.future_msgs_max
        {
            return;
        }
        let share = (self.cfg.future_msgs_max / self.cfg.n.max(1) as usize).max(1);
        let held = self.st.future.iter().filter(|(_, f, _)| *f == from).count();
        if held < share {
            self.st.future.insert((h, from, msg));
        }
    }

    /// PBFT-R18: a new height starts from scratch; everything about older heights goes.
    pub(crate) fn advance(&mut self, next_height: Height, fx: &mut Vec<Out>) {
        let future = std::mem::take(&mut self.st.future);
        let last_commit = self.st.my_commit.filter(|c| c.height + 1 == next_height);
        let timer = self.st.timer;
        self.st = PbftState::new(next_height);
        self.st.last_commit = last_commit;
        self.st.timer = timer;
        let mut replay = Vec::new();
        for (h, from, msg) in future {
            if h == next_height {
                replay.push((from, msg));
            } else if h > next_height {
                self.st.future.insert((h, from, msg));
            }
        }
        for (from, msg) in replay {
            self.on_message(from, msg, fx);
        }
    }
}

impl Protocol for Pbft {
    type Message = PbftMsg;
    type Timer = PbftTimer;
    type Durable = PbftDurable;

    fn next_height(&self) -> Height {
        self.st.height
    }

    /// PBFT-R3: the leader of an entered view with no proposal yet.
    fn may_propose(&self) -> bool {
        self.leader() == self.cfg.me
            && self.st.view_active
            && !self.st.proposals.contains_key(&self.st.view)
    }

    fn handle(&mut self, input: Input<PbftMsg, PbftTimer>) -> Vec<Out> {
        let mut fx = Vec::new();
        match input {
            Input::Message { from, msg } => self.on_message(from, msg, &mut fx),
            Input::Propose(p) => self.on_propose(p, &mut fx),
            Input::Executed(r) => self.on_executed(r),
            Input::Timeout(t) => self.on_timeout(t, &mut fx),
        }
        self.progress(&mut fx);
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
    use bcos_types::B256;

    /// `bcos_crypto::bls::quorum_for` (the certificate's quorum), restated: this crate may
    /// not depend on bcos-crypto's BLS.
    fn bcos_crypto_quorum(n: u32) -> usize {
        (n - n.saturating_sub(1) / 3) as usize
    }

    #[test]
    fn config_checks_and_leader_rotation() {
        let mut unsorted = PbftConfig::with_validators(vec![0, 2, 1], 0);
        assert_eq!(
            unsorted.validate(),
            Err(PbftError::BadValidatorSet { n: 3 })
        );
        unsorted.validators = vec![];
        unsorted.n = 0;
        assert!(unsorted.validate().is_err());
        let mut c = PbftConfig::new(4, 0);
        c.f = 2;
        assert_eq!(c.validate(), Err(PbftError::TooFewNodes { n: 4, f: 2 }));
        let c = PbftConfig::new(4, 0);
        assert_eq!((c.f, c.quorum()), (1, 3));
        assert_eq!(
            [
                c.leader(1, 0),
                c.leader(1, 1),
                c.leader(2, 0),
                c.leader(3, 2)
            ],
            [1, 2, 2, 1]
        );
        let bugged = PbftConfig {
            bug: Some(SeededBug::QuorumTwoF),
            ..c.clone()
        };
        assert_eq!(bugged.quorum(), 2);
        // n - f for every n: any two quorums share an honest node (at least f + 1 nodes)
        for n in 1..=20u32 {
            let c = PbftConfig::new(n, 0);
            let (q, f) = (c.quorum() as u32, c.f);
            assert!(
                2 * q >= n + f + 1,
                "n={n}: quorums of {q} may share only faulty nodes"
            );
            assert!(
                q <= n - f,
                "n={n}: the honest nodes cannot form a quorum of {q}"
            );
            assert_eq!(
                q as usize,
                bcos_crypto_quorum(n),
                "n={n}: core and certificates differ"
            );
        }
        assert_eq!(c.view_timeout(0), 1000);
        assert_eq!(c.view_timeout(2), 4000);
        // PBFT-R20: a set of some members rotates over them alone, with its own quorum.
        let sub = PbftConfig::with_validators(vec![0, 2, 3, 5], 1);
        assert_eq!(sub.validate(), Ok(()));
        assert!(!sub.votes() && sub.is_validator(5) && !sub.is_validator(4));
        assert_eq!((sub.f, sub.quorum()), (1, 3));
        assert_eq!(
            (0..4).map(|v| sub.leader(1, v)).collect::<Vec<_>>(),
            [2, 3, 5, 0]
        );
        assert_eq!(c.view_timeout(99), 16_000);
    }

    #[test]
    fn messages_from_unknown_nodes_and_far_views_are_ignored() {
        let mut p = node(0);
        let pp = PbftMsg::PrePrepare(PrePrepare {
            height: 1,
            view: 0,
            block_hash: hash(1),
        });
        assert!(msg(&mut p, 4, pp.clone()).is_empty());
        let far = PbftMsg::Prepare(Prepare {
            height: 1,
            view: 17,
            block_hash: hash(1),
        });
        assert!(msg(&mut p, 2, far).is_empty());
        assert!(p.state().prepares.is_empty());
    }

    /// Issue 10 item 4: one peer flooding future-height messages used to fill the whole
    /// shared buffer (1,024), so an honest peer's early pre-prepare was dropped.
    #[test]
    fn one_peer_cannot_fill_the_future_buffer() {
        let mut p = node(0);
        for i in 0..5_000u32 {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&i.to_be_bytes());
            let junk = PbftMsg::Prepare(Prepare {
                height: 2,
                view: u64::from(i % 16),
                block_hash: B256::from(h),
            });
            msg(&mut p, 3, junk);
        }
        let share = p.config().future_msgs_max / 4;
        assert_eq!(p.state().future.len(), share);
        let honest = PbftMsg::PrePrepare(PrePrepare {
            height: 2,
            view: 0,
            block_hash: hash(2),
        });
        msg(&mut p, 2, honest.clone());
        assert!(p.state().future.contains(&(2, 2, honest)));
    }

    #[test]
    fn future_heights_are_buffered_within_the_window() {
        let mut p = node(0);
        for h in [2, 3, 4] {
            msg(
                &mut p,
                2,
                PbftMsg::Prepare(Prepare {
                    height: h,
                    view: 0,
                    block_hash: hash(1),
                }),
            );
        }
        let heights: Vec<Height> = p.state().future.iter().map(|(h, _, _)| *h).collect();
        assert_eq!(heights, vec![2, 3]);
    }

    #[test]
    fn restarted_replica_keeps_its_vote_and_resends_it() {
        use crate::protocol::{Input, Protocol};
        let mut p = node(0);
        let out = msg(
            &mut p,
            1,
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(7),
            }),
        );
        let Some(Output::Persist(d)) = out.first().cloned() else {
            panic!("persist first: {out:?}")
        };
        let mut q = Pbft::restore(PbftConfig::new(4, 0), 0, Some(d)).unwrap();
        let resumed = q.resume();
        let prepare = PbftMsg::Prepare(Prepare {
            height: 1,
            view: 0,
            block_hash: hash(7),
        });
        assert_eq!(broadcasts(&resumed), vec![prepare]);
        assert!(resumed.iter().any(|o| matches!(o, Output::SetTimer { .. })));
        // The leader now equivocates: the restarted replica still prepares only block 7.
        let out = q.handle(Input::Message {
            from: 1,
            msg: PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(8),
            }),
        });
        assert_eq!(evidence(&out), vec![1]);
        assert!(broadcasts(&out).is_empty());
    }

    #[test]
    fn sync_jumps_heights_and_replays_buffered_messages() {
        let mut p = node(0);
        let pp = PbftMsg::PrePrepare(PrePrepare {
            height: 2,
            view: 0,
            block_hash: hash(9),
        });
        assert!(msg(&mut p, 2, pp).is_empty());
        let out = p.advance_to(2);
        assert_eq!(
            broadcasts(&out),
            vec![PbftMsg::Prepare(Prepare {
                height: 2,
                view: 0,
                block_hash: hash(9)
            })]
        );
        assert!(p.advance_to(1).is_empty(), "never backwards");
    }

    #[test]
    fn seeded_lock_bug_forgets_the_lock_on_restore() {
        let mut d = PbftDurable::fresh(1);
        d.lock = Some(PreparedCert {
            height: 1,
            view: 0,
            block_hash: hash(7),
            voters: vec![0, 1, 2],
        });
        let c = PbftConfig::new(4, 0);
        let kept = Pbft::restore(c.clone(), 0, Some(d.clone())).unwrap();
        assert_eq!(kept.state().lock, d.lock);
        let bugged = PbftConfig {
            bug: Some(SeededBug::LockNotDurable),
            ..c
        };
        assert_eq!(
            Pbft::restore(bugged, 0, Some(d)).unwrap().state().lock,
            None
        );
    }

    #[test]
    fn restore_discards_obsolete_and_keeps_ahead_snapshots() {
        let c = PbftConfig::new(4, 0);
        let mut d = PbftDurable::fresh(5);
        d.view = 3;
        assert_eq!(
            Pbft::restore(c.clone(), 4, Some(d.clone())).unwrap().view(),
            3
        );
        assert_eq!(
            Pbft::restore(c.clone(), 5, Some(d.clone())).unwrap().view(),
            0
        );
        // Issue 10 item 7: durable state ahead of the store (crash between the core's
        // persist at h + 1 and the store of block h) used to refuse every restart.
        let ahead = Pbft::restore(c, 3, Some(d)).expect("a node restarts from what it stored");
        assert_eq!((ahead.next_height(), ahead.view()), (5, 3));
    }
}
