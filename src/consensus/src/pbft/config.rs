//! PBFT configuration, its limits and the seeded bugs (spec/pbft.md §1, PBFT-R3, R9).

use bcos_types::{Height, View};

use crate::protocol::NodeIndex;

/// A deliberate protocol bug for the model checker to find; `None` in every real config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeededBug {
    /// Prepare, commit and view-change quorums of 2f instead of 2f + 1.
    QuorumTwoF,
    /// View changes drop the prepared certificate (no lock carried forward).
    NoLock,
    /// A replica decides on 2f matching commit votes instead of 2f + 1 (PBFT-R8).
    CommitTwoF,
    /// A restarted replica forgets its lock: the snapshot's lock is not restored (PBFT-R2).
    LockNotDurable,
}

/// Static parameters of one PBFT instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PbftConfig {
    /// Validators in the group.
    pub n: u32,
    /// Byzantine nodes tolerated; `n >= 3f + 1`.
    pub f: u32,
    /// This node's index in the validator list.
    pub me: NodeIndex,
    /// How long view 0 of a height may take before a view change, in driver ticks
    /// (default 1000; the node driver's tick is 1 ms).
    pub view_timeout_ticks: u64,
    /// View `v` waits `view_timeout_ticks << min(v, view_backoff_exp_max)` (default 4).
    pub view_backoff_exp_max: u32,
    /// Messages for views more than this far above the current one are dropped (default 16).
    pub views_ahead_max: u64,
    /// Messages for heights more than this far above the current one are dropped
    /// (default 2).
    pub future_heights_max: u64,
    /// Buffered future-height messages kept at most (default 1024).
    pub future_msgs_max: usize,
    /// Distinct executed blocks remembered per height (default 8; only an equivocating
    /// leader makes a replica execute more than one).
    pub executed_max: usize,
    /// Test-only seeded bug; `None` leaves the protocol correct.
    pub bug: Option<SeededBug>,
}

/// A configuration or restore that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PbftError {
    #[error("n = {n} validators cannot tolerate f = {f} faults (need n >= 3f + 1)")]
    TooFewNodes { n: u32, f: u32 },
    #[error("node index {me} is not below n = {n}")]
    IndexOutOfRange { me: NodeIndex, n: u32 },
}

impl PbftConfig {
    /// The largest f that `n` tolerates, documented defaults elsewhere.
    pub fn new(n: u32, me: NodeIndex) -> Self {
        PbftConfig {
            n,
            f: n.saturating_sub(1) / 3,
            me,
            view_timeout_ticks: 1000,
            view_backoff_exp_max: 4,
            views_ahead_max: 16,
            future_heights_max: 2,
            future_msgs_max: 1024,
            executed_max: 8,
            bug: None,
        }
    }

    pub fn validate(&self) -> Result<(), PbftError> {
        if u64::from(self.n) < 3 * u64::from(self.f) + 1 {
            return Err(PbftError::TooFewNodes {
                n: self.n,
                f: self.f,
            });
        }
        if self.me >= self.n {
            return Err(PbftError::IndexOutOfRange {
                me: self.me,
                n: self.n,
            });
        }
        Ok(())
    }

    /// Prepare, commit and new-view quorum: n - f, which is 2f + 1 when n = 3f + 1 (PBFT-R5,
    /// spec/pbft.md §1). For other n, 2f + 1 would be too small: two quorums of 2f + 1 out
    /// of n = 3f + 3 share only f nodes, and with n = 3 (f = 0) one vote would decide alone.
    /// Any two quorums of n - f share n - 2f >= f + 1 nodes, and the n - f honest nodes form
    /// one. It is also what a commit certificate must carry (`bcos_crypto::bls::quorum_for`).
    pub fn quorum(&self) -> usize {
        let n_minus_f = self.n.saturating_sub(self.f) as usize;
        match self.bug {
            Some(SeededBug::QuorumTwoF) => 2 * self.f as usize,
            _ => n_minus_f,
        }
    }

    /// Commit votes that decide a height: the quorum (PBFT-R8).
    pub fn decide_quorum(&self) -> usize {
        match self.bug {
            Some(SeededBug::CommitTwoF) => 2 * self.f as usize,
            _ => self.quorum(),
        }
    }

    /// The leader of (height, view): `(height + view) mod n` (PBFT-R3).
    pub fn leader(&self, height: Height, view: View) -> NodeIndex {
        (height.wrapping_add(view) % u64::from(self.n)) as NodeIndex
    }

    /// PBFT-R9: the timeout of `view`, doubling per view up to the cap.
    pub fn view_timeout(&self, view: View) -> u64 {
        let exp = view.min(u64::from(self.view_backoff_exp_max)) as u32;
        self.view_timeout_ticks.saturating_mul(1u64 << exp.min(63))
    }
}
