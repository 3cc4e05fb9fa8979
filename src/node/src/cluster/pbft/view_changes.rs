//! Verified, signed view changes a node holds (to forward in its new view, and so that none
//! is verified twice), bounded per validator (spec/pbft.md §5.2).

use crate::cluster::wire::SignedViewChange;
use bcos_types::Height;
use std::collections::HashMap;

/// Verified view changes kept per validator before those of passed views are dropped.
pub const VIEW_CHANGES_PER_PEER_MAX: usize = 64;

/// (height, view, signer)
pub type VcKey = (Height, u64, u32);

/// What is known of an incoming view change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Nothing for that (height, view, signer): verify it.
    New,
    /// Exactly this one, verified before: no signature check needed.
    Same,
    /// A different one for the same slot: its signer equivocates.
    Different,
}

pub struct ViewChanges {
    held: HashMap<VcKey, SignedViewChange>,
    validators: usize,
}

pub fn key_of(s: &SignedViewChange) -> VcKey {
    (s.vc.height, s.vc.view, s.signer)
}

impl ViewChanges {
    pub fn new(validators: usize) -> Self {
        ViewChanges {
            held: HashMap::new(),
            validators: validators.max(1),
        }
    }

    pub fn seen(&self, s: &SignedViewChange) -> Seen {
        match self.held.get(&key_of(s)) {
            None => Seen::New,
            Some(h) if h == s => Seen::Same,
            Some(_) => Seen::Different,
        }
    }

    pub fn get(&self, key: &VcKey) -> Option<&SignedViewChange> {
        self.held.get(key)
    }

    /// Keeps a verified view change (the first per slot); when the map outgrows its bound,
    /// drops those for views the node has left (`next`, `view_now`: where its core is).
    pub fn keep(&mut self, s: SignedViewChange, next: Height, view_now: u64) {
        self.held.entry(key_of(&s)).or_insert(s);
        if self.held.len() > VIEW_CHANGES_PER_PEER_MAX * self.validators {
            self.held
                .retain(|(h, v, _), _| *h > next || (*h == next && *v >= view_now));
        }
    }

    pub fn prune_below(&mut self, next: Height) {
        self.held.retain(|(h, _, _), _| *h >= next);
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_consensus::pbft::ViewChange;
    use bcos_types::Bytes;

    fn vc(height: Height, view: u64, signer: u32, sig: u8) -> SignedViewChange {
        SignedViewChange {
            signer,
            vc: ViewChange {
                height,
                view,
                prepared: None,
            },
            proof: None,
            sig: Bytes::from(vec![sig; 64]),
            parity: 0,
        }
    }

    #[test]
    fn a_held_view_change_is_not_verified_again_and_a_different_one_is_refused() {
        let mut b = ViewChanges::new(4);
        let a = vc(5, 1, 2, 1);
        assert_eq!(b.seen(&a), Seen::New);
        b.keep(a.clone(), 5, 1);
        assert_eq!(b.seen(&a), Seen::Same);
        assert_eq!(b.seen(&vc(5, 1, 2, 9)), Seen::Different);
        assert_eq!(b.seen(&vc(5, 2, 2, 1)), Seen::New);
    }

    /// Issue 10 item 4: the map of view changes used to grow without bound and keep
    /// far-future heights.
    #[test]
    fn the_map_stays_bounded_while_views_move_on() {
        let mut b = ViewChanges::new(4);
        for view in 0..10_000u64 {
            for signer in 0..4 {
                b.keep(vc(5, view, signer, 1), 5, view);
            }
        }
        assert!(b.len() <= VIEW_CHANGES_PER_PEER_MAX * 4 + 4, "{}", b.len());
        b.prune_below(6);
        assert!(b.is_empty());
    }
}
