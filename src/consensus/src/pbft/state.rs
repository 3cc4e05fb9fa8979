//! PBFT state at one height (spec/pbft.md §3): plain data, ordered maps only, so a model
//! checker can hash and compare it.

use std::collections::{BTreeMap, BTreeSet};

use bcos_types::{Height, View, B256};
use serde::{Deserialize, Serialize};

use super::messages::{
    Commit, CommitBody, NewView, PbftMsg, PbftTimer, Prepare, PreparedCert, ViewChange,
};
use crate::protocol::NodeIndex;

/// What a node must make durable before a message that depends on it leaves (PBFT-R2):
/// the view it is in, its lock and its own latest votes at `height`. A restarted node
/// restores this and so never votes twice in one (height, view, phase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PbftDurable {
    pub height: Height,
    pub view: View,
    /// Whether the node entered `view` (view 0, or a new-view accepted) rather than still
    /// waiting for its new-view.
    pub view_active: bool,
    pub lock: Option<PreparedCert>,
    pub my_prepare: Option<Prepare>,
    pub my_commit: Option<Commit>,
    pub my_view_change: Option<ViewChange>,
}

impl PbftDurable {
    /// The state a node starts a height with; it never needs persisting.
    pub fn fresh(height: Height) -> Self {
        PbftDurable {
            height,
            view: 0,
            view_active: true,
            lock: None,
            my_prepare: None,
            my_commit: None,
            my_view_change: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PbftState {
    /// The height being decided (committed head + 1).
    pub height: Height,
    pub view: View,
    pub view_active: bool,
    /// The block proposed in each view at this height: the leader's first pre-prepare, or
    /// the new-view's re-proposal.
    pub proposals: BTreeMap<View, B256>,
    /// Views whose new-view this node accepted, with the re-proposal it fixed.
    pub new_views: BTreeMap<View, Option<B256>>,
    pub prepares: BTreeMap<(View, NodeIndex), B256>,
    pub commits: BTreeMap<(View, NodeIndex), CommitBody>,
    pub view_changes: BTreeMap<(View, NodeIndex), ViewChange>,
    /// Roots the driver reported per executed block at this height.
    pub executed: BTreeMap<B256, CommitBody>,
    pub lock: Option<PreparedCert>,
    pub my_prepare: Option<Prepare>,
    pub my_commit: Option<Commit>,
    pub my_view_change: Option<ViewChange>,
    /// The new-view this node sent as leader of `view`, kept to answer laggards (PBFT-R15).
    pub sent_new_view: Option<NewView>,
    /// The driver signalled pending work for this height (PBFT-R9).
    pub work_pending: bool,
    pub timer: Option<PbftTimer>,
    /// Verified messages for heights above `height`, replayed when it gets there (PBFT-R17).
    pub future: BTreeSet<(Height, NodeIndex, PbftMsg)>,
    /// This node's commit vote of the height it decided last, to help a laggard (PBFT-R16).
    pub last_commit: Option<Commit>,
    /// The durable snapshot last handed out in `Output::Persist`.
    pub persisted: PbftDurable,
}

impl PbftState {
    pub fn new(height: Height) -> Self {
        PbftState {
            height,
            view: 0,
            view_active: true,
            proposals: BTreeMap::new(),
            new_views: BTreeMap::new(),
            prepares: BTreeMap::new(),
            commits: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            executed: BTreeMap::new(),
            lock: None,
            my_prepare: None,
            my_commit: None,
            my_view_change: None,
            sent_new_view: None,
            work_pending: false,
            timer: None,
            future: BTreeSet::new(),
            last_commit: None,
            persisted: PbftDurable::fresh(height),
        }
    }

    /// Rebuilds a node from its durable snapshot (PBFT-R2): its own votes are recorded as if
    /// just sent, so it cannot cast a different one in the same (view, phase).
    pub fn from_durable(me: NodeIndex, d: PbftDurable) -> Self {
        let mut st = PbftState::new(d.height);
        st.view = d.view;
        st.view_active = d.view_active;
        st.lock = d.lock.clone();
        if let Some(p) = d.my_prepare {
            st.prepares.insert((p.view, me), p.block_hash);
            st.proposals.insert(p.view, p.block_hash);
        }
        if let Some(c) = d.my_commit {
            st.commits.insert((c.view, me), c.body);
        }
        if let Some(vc) = &d.my_view_change {
            st.view_changes.insert((vc.view, me), vc.clone());
        }
        st.my_prepare = d.my_prepare;
        st.my_commit = d.my_commit;
        st.my_view_change = d.my_view_change.clone();
        st.persisted = d;
        st
    }

    pub fn durable(&self) -> PbftDurable {
        PbftDurable {
            height: self.height,
            view: self.view,
            view_active: self.view_active,
            lock: self.lock.clone(),
            my_prepare: self.my_prepare,
            my_commit: self.my_commit,
            my_view_change: self.my_view_change.clone(),
        }
    }

    /// The sorted voters that prepared `block_hash` in `view`.
    pub fn prepare_voters(&self, view: View, block_hash: B256) -> Vec<NodeIndex> {
        self.prepares
            .range((view, 0)..=(view, NodeIndex::MAX))
            .filter(|(_, h)| **h == block_hash)
            .map(|((_, who), _)| *who)
            .collect()
    }

    /// Every (view, commit body) with its sorted voters.
    pub fn commit_tallies(&self) -> BTreeMap<(View, CommitBody), Vec<NodeIndex>> {
        let mut t: BTreeMap<(View, CommitBody), Vec<NodeIndex>> = BTreeMap::new();
        for ((view, who), body) in &self.commits {
            t.entry((*view, *body)).or_default().push(*who);
        }
        t
    }

    /// Every (view, block) with its sorted prepare voters.
    pub fn prepare_tallies(&self) -> BTreeMap<(View, B256), Vec<NodeIndex>> {
        let mut t: BTreeMap<(View, B256), Vec<NodeIndex>> = BTreeMap::new();
        for ((view, who), hash) in &self.prepares {
            t.entry((*view, *hash)).or_default().push(*who);
        }
        t
    }

    /// The senders of view changes for exactly `view`.
    pub fn view_change_senders(&self, view: View) -> Vec<NodeIndex> {
        self.view_changes
            .range((view, 0)..=(view, NodeIndex::MAX))
            .map(|((_, who), _)| *who)
            .collect()
    }

    /// Whether any peer voted at this height in the current view or later: evidence that a
    /// proposal is outstanding even if its pre-prepare never reached us.
    pub fn peers_active(&self, me: NodeIndex) -> bool {
        self.prepares
            .keys()
            .chain(self.commits.keys())
            .any(|(v, who)| *v >= self.view && *who != me)
    }
}

/// The highest prepared certificate, ordered by (view, block hash) so the choice is
/// deterministic (PBFT-R13).
pub fn highest_prepared<'a>(
    certs: impl Iterator<Item = &'a PreparedCert>,
) -> Option<&'a PreparedCert> {
    certs.max_by(|a, b| (a.view, a.block_hash).cmp(&(b.view, b.block_hash)))
}
