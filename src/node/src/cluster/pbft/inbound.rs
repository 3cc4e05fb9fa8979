//! Peer messages into the core (PBFT-R1 plus spec/pbft.md §5): the channel authenticates
//! the sender (mutual TLS, certificate index); votes keep their BLS signatures for the
//! certificate; view changes must carry a valid node-key signature and, for a claimed lock,
//! a valid aggregate of a quorum of prepare votes; a new view is accepted only if every view
//! change in it is. Anything else is dropped with a log line, never a panic.

use super::outbound::view_change_digest;
use super::proposals::{view_in_window, Accepted};
use super::validator_set::consensus_height;
use super::view_changes::Seen;
use super::PbftDriver;
use crate::cluster::votes::{Recorded, VoteSlot};
use crate::cluster::wire::{core_new_view, SignedViewChange, Wire};
use bcos_consensus::pbft::{PbftMsg, PrePrepare};
use bcos_consensus::Input;
use bcos_consensus::Protocol;
use bcos_crypto::bls::{BlsSignature, CommitCertificate, SIGNATURE_LEN};
use bcos_types::Bytes;

impl PbftDriver {
    pub(super) fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        if from as usize >= self.members.len() || from == self.me() {
            return Ok(());
        }
        // PBFT-R20: a message counts only within the set of its height; it waits while that
        // set is unknown (past head + 2), or while the core would reach that height under
        // another set.
        if let Some(h) = consensus_height(&w) {
            let head = self.base.head.number();
            let wait = match self.set_of(h) {
                None => true,
                Some(set) => h >= self.core.next_height() && !self.core_runs(set),
            };
            if wait {
                let horizon = head + 1 + self.core.config().future_heights_max;
                if h <= horizon && !self.held.hold(from, h, w) {
                    return self.drop_msg(from, "its held messages for later heights are full");
                }
                return Ok(());
            }
            if self.book.set_at(h).binary_search(&(from as usize)).is_err() {
                tracing::debug!(peer = from, height = h, "dropped: not a validator there");
                return Ok(());
            }
        }
        match w {
            Wire::PrePrepare { msg, block } => self.on_pre_prepare(from, msg, &block),
            Wire::Prepare { msg, sig } => {
                let Some(sig) = parse_sig(&sig) else {
                    return self.drop_msg(from, "prepare with a malformed signature");
                };
                if self.vote_in_window(msg.height, msg.view) {
                    let d = self
                        .book
                        .prepare_digest(msg.height, msg.view, msg.block_hash);
                    let slot = VoteSlot::prepare(msg.height, msg.view);
                    let recorded = self.book.record(slot, d, from as usize, sig);
                    self.note_recorded(from, recorded);
                }
                self.feed(Input::Message {
                    from,
                    msg: PbftMsg::Prepare(msg),
                })
            }
            Wire::Commit { msg, sig } => {
                let Some(sig) = parse_sig(&sig) else {
                    return self.drop_msg(from, "commit with a malformed signature");
                };
                if self.vote_in_window(msg.height, msg.view) {
                    let d = self.book.commit_digest(msg.height, msg.view, msg.body);
                    let slot = VoteSlot::commit(msg.height, msg.view);
                    let recorded = self.book.record(slot, d, from as usize, sig);
                    self.note_recorded(from, recorded);
                }
                self.feed(Input::Message {
                    from,
                    msg: PbftMsg::Commit(msg),
                })
            }
            Wire::ViewChange(s) => {
                if s.signer != from {
                    return self.drop_msg(from, "view change signed by another node");
                }
                // Range first: a view change outside the window costs nothing.
                if !self.view_in_window(s.vc.height, s.vc.view) {
                    return Ok(());
                }
                match self.view_changes.seen(&s) {
                    Seen::Same => return Ok(()), // a retransmission: the core has it
                    Seen::Different => {
                        return self.drop_msg(from, "a second, different view change for one view")
                    }
                    Seen::New => {}
                }
                let Some(vc) = self.check_view_change(&s) else {
                    return self.drop_msg(from, "view change with a bad signature or proof");
                };
                self.keep_view_change(s);
                self.feed(Input::Message {
                    from,
                    msg: PbftMsg::ViewChange(vc),
                })
            }
            Wire::NewView {
                height,
                view,
                view_changes,
                reproposal,
                block,
            } => {
                // Cheap checks before any signature work: only the leader of that view may
                // send its new view, for the height being decided, inside the view window.
                if from != self.core.config().leader(height, view) {
                    return self
                        .drop_msg(from, "new view from a node that does not lead that view");
                }
                if !self.view_in_window(height, view) {
                    return Ok(());
                }
                // At most one view change per validator, each checked once (a flood of them
                // would otherwise cost a BLS verification apiece).
                if view_changes.len() > self.members.len() {
                    return self.drop_msg(from, "new view with more view changes than validators");
                }
                let mut checked = Vec::with_capacity(view_changes.len());
                for s in &view_changes {
                    if s.vc.height != height || s.vc.view != view {
                        return self
                            .drop_msg(from, "new view holding a view change for another view");
                    }
                    let Some(vc) = self.check_view_change(s) else {
                        return self.drop_msg(from, "new view holding an invalid view change");
                    };
                    checked.push(SignedViewChange { vc, ..s.clone() });
                }
                if let (Some(hash), Some(bytes)) = (reproposal, block) {
                    self.accept_block(from, height, view, hash, &bytes)?;
                }
                // The signed originals are kept (they are what this node may forward).
                for s in view_changes {
                    self.keep_view_change(s);
                }
                let nv = core_new_view(height, view, &checked, reproposal);
                self.feed(Input::Message {
                    from,
                    msg: PbftMsg::NewView(nv),
                })?;
                self.execute_proposed()
            }
            Wire::Status { height, hash: _ } => {
                self.base.sync.on_status(from, height);
                Ok(())
            }
            Wire::SyncRequest { from: start, count } => self.serve_sync(from, start, count),
            Wire::SyncBlocks(blocks) => self.apply_synced(from, blocks),
            // Admitted, or routed to AMOP, on the network task: never reach here.
            Wire::Txs(_) | Wire::Amop(_) => Ok(()),
            Wire::Raft { .. } => self.drop_msg(from, "raft message in a pbft group"),
        }
    }

    fn drop_msg(&self, from: u32, why: &str) -> anyhow::Result<()> {
        tracing::warn!(peer = from, "dropped: {why}");
        Ok(())
    }

    /// Votes are only worth keeping for heights the core still works on (the last decided
    /// one included: its certificate may still be missing votes) and for views the core
    /// would accept (PBFT-R1's window).
    fn vote_in_window(&self, h: u64, view: u64) -> bool {
        let next = bcos_consensus::Protocol::next_height(&self.core);
        let cfg = self.core.config();
        h.saturating_add(1) >= next
            && h <= next.saturating_add(cfg.future_heights_max)
            && view <= self.core.view().saturating_add(cfg.views_ahead_max)
    }

    fn note_recorded(&self, from: u32, r: Recorded) {
        match r {
            Recorded::Conflicting => {
                tracing::warn!(
                    peer = from,
                    "two different votes in one slot (equivocation)"
                )
            }
            Recorded::OverQuota => tracing::debug!(peer = from, "vote dropped: peer's share full"),
            Recorded::Stored | Recorded::Duplicate | Recorded::UnknownSigner => {}
        }
    }

    /// PBFT-R4 from the driver's side: the block must be the one the pre-prepare names; it
    /// is checked and executed once the head allows (`execute_proposed`).
    fn on_pre_prepare(&mut self, from: u32, msg: PrePrepare, block: &Bytes) -> anyhow::Result<()> {
        if from != self.core.config().leader(msg.height, msg.view) {
            return self.drop_msg(from, "pre-prepare from a node that does not lead that view");
        }
        if !self.view_in_window(msg.height, msg.view) {
            return Ok(());
        }
        self.accept_block(from, msg.height, msg.view, msg.block_hash, block)?;
        self.feed(Input::Message {
            from,
            msg: PbftMsg::PrePrepare(msg),
        })?;
        self.execute_proposed()
    }

    /// Whether (height, view) is inside the core's window ([`view_in_window`]).
    pub(super) fn view_in_window(&self, height: u64, view: u64) -> bool {
        let next = self.core.next_height();
        view_in_window(self.core.config(), next, self.core.view(), height, view)
    }

    /// Keeps a proposed block (the caller checked that `from` leads that view).
    pub(super) fn accept_block(
        &mut self,
        from: u32,
        height: u64,
        view: u64,
        hash: bcos_types::B256,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        match self
            .proposals
            .accept(self.base.head.number(), height, view, hash, bytes)
        {
            Accepted::Kept | Accepted::Again | Accepted::OutOfRange => Ok(()),
            Accepted::Equivocation => {
                self.drop_msg(from, "a second block for one view (equivocation)")
            }
            Accepted::Full => self.drop_msg(from, "too many proposals held"),
            Accepted::Mismatch(why) => self.drop_msg(from, &why),
        }
    }

    /// Remembers a verified view change (to forward in a new view, and so that the same
    /// one is never verified twice); keeps the map within the view window.
    fn keep_view_change(&mut self, s: SignedViewChange) {
        let (next, cur) = (self.core.next_height(), self.core.view());
        self.view_changes.keep(s, next, cur);
    }

    /// The core's form of a verified view change: the lock's voters are the proof's
    /// signers, as member indices.
    fn core_form(&self, s: &SignedViewChange) -> bcos_consensus::pbft::ViewChange {
        let mut vc = s.vc.clone();
        if let (Some(lock), Some(proof)) = (&mut vc.prepared, &s.proof) {
            lock.voters = self.book.bitmap_members(lock.height, &proof.signers);
        }
        vc
    }

    /// Checks a signed view change; returns the core form (lock voters = the proof's
    /// signers). One already verified (held, byte for byte) costs no signature check.
    fn check_view_change(&self, s: &SignedViewChange) -> Option<bcos_consensus::pbft::ViewChange> {
        if self.view_changes.seen(s) == Seen::Same {
            return Some(self.core_form(s));
        }
        let member = self.members.get(s.signer as usize)?;
        let digest = view_change_digest(self.base.cfg.group_id, s.signer, &s.vc, &s.proof);
        let sig: [u8; 64] = s.sig.as_ref().try_into().ok()?;
        let signer = bcos_crypto::recover_address(digest, &sig, s.parity).ok()?;
        if signer != member.node_id {
            return None;
        }
        let mut vc = s.vc.clone();
        match (&mut vc.prepared, &s.proof) {
            (None, None) => {}
            (Some(lock), Some(proof)) => {
                let aggregate: [u8; SIGNATURE_LEN] = proof.aggregate.as_ref().try_into().ok()?;
                let cert = CommitCertificate {
                    digest: self
                        .book
                        .prepare_digest(lock.height, lock.view, lock.block_hash),
                    signers: proof.signers.clone(),
                    aggregate,
                };
                let expected = cert.digest;
                self.book.verify(lock.height, &cert, &expected).ok()?;
                lock.voters = self.book.signer_members(lock.height, &cert);
            }
            _ => return None,
        }
        Some(vc)
    }
}

fn parse_sig(bytes: &[u8]) -> Option<BlsSignature> {
    BlsSignature::from_bytes(bytes).ok()
}
