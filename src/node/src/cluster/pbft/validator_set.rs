//! Validator sets by height (spec/pbft.md PBFT-R20, spec/governance.md GOV-R9): the set that
//! decides height `h` is read from the committed state of block `h - 1`: the genesis set
//! (`cluster.voters`, or every member) with governance's `setSealer` wishes applied. Since
//! every passed action waits in the state for the next block's start, the state of the head
//! also gives the set of `head + 2`; no later one is known. The driver keeps the core from
//! acting where its set is not the height's:
//!
//! - it feeds the core only while the core works on `head + 1` or `head + 2` with that
//!   height's set, and votes in it;
//! - consensus messages for later heights, or for a height the core will reach under
//!   another set, wait here ([`HeldMsgs`], bounded per peer) and are replayed after the
//!   next stored block;
//! - after every stored block the core is rebuilt for its height when that height's set
//!   is not the core's, or this node left or joined it. Nothing was fed to the core at that
//!   height, so the new instance breaks no promise the old one made.

use super::PbftDriver;
use crate::cluster::wire::Wire;
use bcos_consensus::pbft::{PbftConfig, PbftTimer};
use bcos_consensus::{Pbft, Protocol};
use bcos_types::Height;
use std::collections::{BTreeMap, VecDeque};

/// Consensus messages for heights past `head + 1` held per peer at most.
pub const HELD_MSGS_PER_PEER_MAX: usize = 64;
/// Bytes of those messages held per peer at most (a pre-prepare carries its block).
pub const HELD_BYTES_PER_PEER_MAX: usize = 16 << 20;
/// Set changes remembered for [`PbftDriver::validators_at`].
pub const SET_HISTORY_MAX: usize = 256;

/// The sets deciding `head + 1` and `head + 2`, from the state of `head`: the genesis set
/// with the recorded `setSealer` wishes applied, then with the queued ones too, for nodes
/// below `members`. Wishes that would leave no validator are ignored, so the chain never
/// stops for want of a set.
pub fn sets_from_state(
    state: &dyn bcos_storage::StateReader,
    members: u32,
    genesis: &[u32],
) -> anyhow::Result<(Vec<u32>, Vec<u32>)> {
    let (now, next) = bcos_execution::governance::sealer_wishes_now_and_next(state)?;
    Ok((
        apply_wishes(members, genesis, now),
        apply_wishes(members, genesis, next),
    ))
}

fn apply_wishes(members: u32, genesis: &[u32], wishes: Vec<(u32, bool)>) -> Vec<u32> {
    let base: std::collections::BTreeSet<u32> = if genesis.is_empty() {
        (0..members).collect()
    } else {
        genesis.iter().copied().filter(|i| *i < members).collect()
    };
    let mut set = base.clone();
    for (node, sealer) in wishes {
        if node >= members {
            continue;
        }
        if sealer {
            set.insert(node);
        } else {
            set.remove(&node);
        }
    }
    if set.is_empty() {
        set = base;
    }
    set.into_iter().collect()
}

/// The consensus height a wire message is about (`None`: not a consensus message).
pub fn consensus_height(w: &Wire) -> Option<Height> {
    match w {
        Wire::PrePrepare { msg, .. } => Some(msg.height),
        Wire::Prepare { msg, .. } => Some(msg.height),
        Wire::Commit { msg, .. } => Some(msg.height),
        Wire::ViewChange(s) => Some(s.vc.height),
        Wire::NewView { height, .. } => Some(*height),
        _ => None,
    }
}

/// Messages for heights whose set this node does not know yet, each peer within its own
/// share so that a flooding peer crowds out only itself.
#[derive(Default)]
pub struct HeldMsgs {
    by_peer: BTreeMap<u32, VecDeque<(Height, Wire, usize)>>,
}

impl HeldMsgs {
    /// Keeps `w` unless the peer's share is full (then it is dropped: the sender's
    /// retransmissions and view changes recover it).
    pub fn hold(&mut self, from: u32, height: Height, w: Wire) -> bool {
        let bytes = wire_bytes(&w);
        let q = self.by_peer.entry(from).or_default();
        let held: usize = q.iter().map(|(_, _, b)| *b).sum();
        if q.len() >= HELD_MSGS_PER_PEER_MAX || held.saturating_add(bytes) > HELD_BYTES_PER_PEER_MAX
        {
            return false;
        }
        q.push_back((height, w, bytes));
        true
    }

    /// Everything held, lowest height first (a peer's own order kept within a height).
    pub fn take(&mut self) -> Vec<(u32, Wire)> {
        let mut all: Vec<(Height, u32, usize, Wire)> = Vec::new();
        for (peer, q) in std::mem::take(&mut self.by_peer) {
            for (seq, (h, w, _)) in q.into_iter().enumerate() {
                all.push((h, peer, seq, w));
            }
        }
        all.sort_by_key(|(h, peer, seq, _)| (*h, *peer, *seq));
        all.into_iter().map(|(_, p, _, w)| (p, w)).collect()
    }

    pub fn len(&self) -> usize {
        self.by_peer.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn wire_bytes(w: &Wire) -> usize {
    match w {
        Wire::PrePrepare { block, .. } => block.len() + 128,
        Wire::NewView {
            view_changes,
            block,
            ..
        } => block.as_ref().map_or(0, |b| b.len()) + view_changes.len() * 512 + 128,
        _ => 512,
    }
}

impl PbftDriver {
    /// Remembers that `set` decides from `height` on.
    pub(super) fn note_set(&mut self, height: Height, set: Vec<u32>) {
        if self.validators_at(height).as_ref() == Some(&set) {
            return;
        }
        self.set_history.split_off(&height);
        self.set_history.insert(height, set);
        while self.set_history.len() > SET_HISTORY_MAX {
            self.set_history.pop_first();
        }
        self.base.view.set_validator_sets(self.set_history.clone());
    }

    /// The sets of `head + 1` and `head + 2`, read from the committed state.
    pub(super) fn known_sets(&self) -> anyhow::Result<(Vec<u32>, Vec<u32>)> {
        let state: &dyn bcos_storage::StateReader = &*self.base.ctx.store;
        sets_from_state(state, self.members.len() as u32, &self.base.cfg.voters)
    }

    /// The set of `height` if this node knows it (`head + 2` at most).
    pub(super) fn set_of(&self, height: Height) -> Option<&[usize]> {
        (height <= self.base.head.number() + 2).then(|| self.book.set_at(height))
    }

    /// Whether the core runs `set` (no allocation: this is asked for every message).
    pub(super) fn core_runs(&self, set: &[usize]) -> bool {
        let mine = &self.core.config().validators;
        mine.len() == set.len() && mine.iter().zip(set).all(|(a, b)| *a as usize == *b)
    }

    /// The core may act: it votes, at a height whose set it runs.
    pub(super) fn settled(&self) -> bool {
        self.core.config().votes()
            && self.core.next_height() > self.base.head.number()
            && self
                .set_of(self.core.next_height())
                .is_some_and(|set| self.core_runs(set))
    }

    /// GOV-R7: the view timeout governance set, else `[cluster] view_timeout_ms`.
    pub(super) fn apply_governed_timeout(&mut self) {
        let ms = self.base.governed_timeout_ms(self.base.cfg.view_timeout_ms);
        if ms != self.core.config().view_timeout_ticks {
            tracing::info!(view_timeout_ms = ms, "view timeout (GOV-R7)");
            self.core.set_view_timeout_ticks(ms);
        }
    }

    /// A core for `set` with this node's settings.
    pub(super) fn core_config(&self, set: Vec<u32>) -> PbftConfig {
        let mut c = PbftConfig::with_validators(set, self.me());
        let old = self.core.config();
        c.view_timeout_ticks = old.view_timeout_ticks;
        c.bug = old.bug;
        c
    }

    /// After a stored block: records the sets of `head + 1` and `head + 2` and moves the
    /// core to `head + 1` or keeps it where it is ahead, as a new instance when its height's
    /// set is not the core's or this node left or joined it; then replays what waited.
    pub(super) fn enter_next_height(&mut self) -> anyhow::Result<()> {
        let next = self.base.head.number() + 1;
        let (s1, s2) = self.known_sets()?;
        self.book
            .set_validators_from(next, s1.iter().map(|i| *i as usize).collect());
        self.book
            .set_validators_from(next + 1, s2.iter().map(|i| *i as usize).collect());
        self.note_set(next, s1);
        self.note_set(next + 1, s2);
        let at = self.core.next_height().max(next);
        let set = self
            .set_of(at)
            .map(|s| s.iter().map(|i| *i as u32).collect::<Vec<u32>>());
        if let Some(set) = set {
            let cfg = self.core.config();
            let rebuild = set != cfg.validators || !cfg.votes();
            if rebuild {
                if set != cfg.validators {
                    tracing::info!(height = at, ?set, "validator set changes (PBFT-R20)");
                }
                let cfg = self.core_config(set);
                self.core = Pbft::new(cfg, at).map_err(|e| anyhow::anyhow!("{e}"))?;
                self.held_timeouts.clear();
                if self.core.config().votes() {
                    let out = self.core.resume();
                    self.apply(out)?;
                }
            } else if self.core.next_height() < next {
                let out = self.core.advance_to(next);
                self.apply(out)?;
            }
        }
        self.apply_governed_timeout();
        for t in std::mem::take(&mut self.held_timeouts) {
            let PbftTimer::View { height, .. } = t;
            if height >= next {
                self.feed(bcos_consensus::Input::Timeout(t))?;
            }
        }
        for (from, w) in self.held.take() {
            self.on_wire(from, w)?;
        }
        self.publish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::wire::Wire;
    use bcos_consensus::pbft::Prepare;
    use bcos_types::{Bytes, B256};

    fn prepare(h: Height) -> Wire {
        Wire::Prepare {
            msg: Prepare {
                height: h,
                view: 0,
                block_hash: B256::ZERO,
            },
            sig: Bytes::new(),
        }
    }

    #[test]
    fn held_messages_come_back_by_height_and_each_peer_has_its_share() {
        let mut held = HeldMsgs::default();
        for _ in 0..HELD_MSGS_PER_PEER_MAX {
            assert!(held.hold(1, 9, prepare(9)));
        }
        assert!(!held.hold(1, 9, prepare(9)), "peer 1's share is full");
        assert!(held.hold(2, 8, prepare(8)), "peer 2 is not crowded out");
        let out = held.take();
        assert_eq!(out.len(), HELD_MSGS_PER_PEER_MAX + 1);
        assert_eq!(consensus_height(&out[0].1), Some(8));
        assert!(held.is_empty());
        let big = Wire::PrePrepare {
            msg: bcos_consensus::pbft::PrePrepare {
                height: 9,
                view: 0,
                block_hash: B256::ZERO,
            },
            block: Bytes::from(vec![0u8; HELD_BYTES_PER_PEER_MAX]),
        };
        assert!(!held.hold(3, 9, big), "over the byte share");
    }
}
