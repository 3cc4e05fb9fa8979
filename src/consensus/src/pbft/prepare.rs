//! Prepare votes, prepared certificates and the lock (spec/pbft.md PBFT-R6, R11).

use super::messages::{Prepare, PreparedCert};
use super::state::highest_prepared;
use super::{Out, Pbft};
use crate::protocol::{NodeIndex, Output};

impl Pbft {
    /// PBFT-R11: one prepare per (view, sender); a repeat is ignored, a different block is
    /// evidence and the first vote stays.
    pub(crate) fn on_prepare(&mut self, from: NodeIndex, m: Prepare, fx: &mut Vec<Out>) {
        if from == self.cfg.me {
            return;
        }
        match self.st.prepares.get(&(m.view, from)) {
            Some(b) if *b == m.block_hash => {}
            Some(b) => fx.push(Output::Evidence {
                culprit: from,
                reason: format!(
                    "two prepares at height {} view {}: {} and {}",
                    m.height, m.view, b, m.block_hash
                ),
            }),
            None => {
                self.st.prepares.insert((m.view, from), m.block_hash);
            }
        }
    }

    /// PBFT-R6: 2f + 1 prepares for (height, view, block) form a prepared certificate; the
    /// lock is the highest one this node has seen.
    pub(crate) fn update_lock(&mut self) {
        let q = self.cfg.quorum();
        let height = self.st.height;
        let certs: Vec<PreparedCert> = self
            .st
            .prepare_tallies()
            .into_iter()
            .filter(|(_, voters)| voters.len() >= q)
            .map(|((view, block_hash), voters)| PreparedCert {
                height,
                view,
                block_hash,
                voters,
            })
            .collect();
        let best = highest_prepared(certs.iter().chain(self.st.lock.iter())).cloned();
        if best != self.st.lock {
            self.st.lock = best;
        }
    }

    /// Whether (current view, block) is prepared.
    pub(crate) fn prepared_in_view(&self, block_hash: bcos_types::B256) -> bool {
        self.st.prepare_voters(self.st.view, block_hash).len() >= self.cfg.quorum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::*;

    fn prepare(view: u64, b: u8) -> PbftMsg {
        PbftMsg::Prepare(Prepare {
            height: 1,
            view,
            block_hash: hash(b),
        })
    }

    #[test]
    fn quorum_of_prepares_locks_the_block() {
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
        msg(&mut p, 1, prepare(0, 7));
        assert_eq!(p.state().lock, None, "two of three");
        let out = msg(&mut p, 2, prepare(0, 7));
        let lock = p.state().lock.clone().unwrap();
        assert_eq!(
            (lock.view, lock.block_hash, lock.voters.clone()),
            (0, hash(7), vec![0, 1, 2])
        );
        // The lock is durable state: persisted in the same batch.
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Persist(d) if d.lock == Some(lock.clone()))));
    }

    /// PBFT-R20: in a set of some members, votes from members outside it count for nothing
    /// and the leader is the set's.
    #[test]
    fn only_the_sets_validators_count() {
        let mut p = Pbft::new(PbftConfig::with_validators(vec![0, 2, 3, 5], 0), 1).unwrap();
        assert_eq!(p.leader(), 2);
        let pp = |b| {
            PbftMsg::PrePrepare(PrePrepare {
                height: 1,
                view: 0,
                block_hash: hash(b),
            })
        };
        msg(&mut p, 1, pp(6));
        assert!(p.state().proposals.is_empty(), "1 is not a validator");
        msg(&mut p, 2, pp(7));
        for outsider in [1, 4, 6] {
            msg(&mut p, outsider, prepare(0, 7));
        }
        assert_eq!(p.state().lock, None, "outsiders' votes do not count");
        msg(&mut p, 2, prepare(0, 7));
        assert_eq!(p.state().lock, None, "two of three");
        msg(&mut p, 5, prepare(0, 7));
        let lock = p.state().lock.clone().unwrap();
        assert_eq!(lock.voters, vec![0, 2, 5]);
    }

    #[test]
    fn seeded_quorum_bug_locks_on_two_votes() {
        let mut cfg = PbftConfig::new(4, 0);
        cfg.bug = Some(SeededBug::QuorumTwoF);
        let mut p = Pbft::new(cfg, 1).unwrap();
        msg(&mut p, 1, prepare(0, 7));
        msg(&mut p, 2, prepare(0, 7));
        assert!(p.state().lock.is_some());
    }

    #[test]
    fn double_prepare_is_evidence_and_does_not_count_twice() {
        let mut p = node(0);
        assert!(evidence(&msg(&mut p, 3, prepare(0, 7))).is_empty());
        assert!(msg(&mut p, 3, prepare(0, 7))
            .iter()
            .all(|o| !matches!(o, Output::Evidence { .. })));
        assert_eq!(evidence(&msg(&mut p, 3, prepare(0, 8))), vec![3]);
        assert_eq!(p.state().prepare_voters(0, hash(7)), vec![3]);
        assert!(p.state().prepare_voters(0, hash(8)).is_empty());
        // Votes in different views are not equivocation.
        assert!(evidence(&msg(&mut p, 3, prepare(1, 8))).is_empty());
    }

    #[test]
    fn lock_keeps_the_highest_view() {
        let mut p = node(0);
        for from in 1..=3 {
            msg(&mut p, from, prepare(1, 9));
        }
        for from in 1..=3 {
            msg(&mut p, from, prepare(0, 7));
        }
        assert_eq!(
            p.state().lock.as_ref().map(|l| (l.view, l.block_hash)),
            Some((1, hash(9)))
        );
    }
}
