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

/// Static parameters of one PBFT instance: one validator set, in force for every height
/// this instance decides (PBFT-R20: a set change is a new instance at a height boundary).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PbftConfig {
    /// Validators in the set: `validators.len()`.
    pub n: u32,
    /// Byzantine nodes tolerated; `n >= 3f + 1`.
    pub f: u32,
    /// This node's index (its position among the group's members). A node outside
    /// `validators` is an observer: its driver feeds it nothing.
    pub me: NodeIndex,
    /// The validators' member indices, ascending; leaders rotate over them in this order.
    pub validators: Vec<NodeIndex>,
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
    #[error("the validator set must be {n} distinct indices in ascending order")]
    BadValidatorSet { n: u32 },
}

impl PbftConfig {
    /// The largest f that `n` tolerates, documented defaults elsewhere.
    pub fn new(n: u32, me: NodeIndex) -> Self {
        Self::with_validators((0..n).collect(), me)
    }

    /// A set of some of the group's members (PBFT-R20), `validators` ascending; `me` may
    /// be outside it (an observer).
    pub fn with_validators(validators: Vec<NodeIndex>, me: NodeIndex) -> Self {
        let n = validators.len() as u32;
        PbftConfig {
            n,
            f: n.saturating_sub(1) / 3,
            me,
            validators,
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
        if self.validators.len() != self.n as usize
            || self.n == 0
            || self.validators.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(PbftError::BadValidatorSet { n: self.n });
        }
        Ok(())
    }

    /// Whether `node` votes in this set.
    pub fn is_validator(&self, node: NodeIndex) -> bool {
        self.validators.binary_search(&node).is_ok()
    }

    /// Whether this node votes in this set (otherwise its driver feeds it nothing).
    pub fn votes(&self) -> bool {
        self.is_validator(self.me)
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

    /// The leader of (height, view): validator number `(height + view) mod n` (PBFT-R3).
    pub fn leader(&self, height: Height, view: View) -> NodeIndex {
        let at = height.wrapping_add(view) % u64::from(self.n.max(1));
        self.validators
            .get(at as usize)
            .copied()
            .unwrap_or(NodeIndex::MAX)
    }

    /// PBFT-R9: the timeout of `view`, doubling per view up to the cap.
    pub fn view_timeout(&self, view: View) -> u64 {
        let exp = view.min(u64::from(self.view_backoff_exp_max)) as u32;
        self.view_timeout_ticks.saturating_mul(1u64 << exp.min(63))
    }
}
