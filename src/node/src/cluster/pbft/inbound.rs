//! Peer messages into the core (PBFT-R1 plus spec/pbft.md §5): the channel authenticates
//! the sender (mutual TLS, certificate index); votes keep their BLS signatures for the
//! certificate; view changes must carry a valid node-key signature and, for a claimed lock,
//! a valid aggregate of a quorum of prepare votes; a new view is accepted only if every view
//! change in it is. Anything else is dropped with a log line, never a panic.

use super::outbound::view_change_digest;
use super::PbftDriver;
use crate::cluster::wire::{core_new_view, SignedViewChange, Wire};
use bcos_consensus::pbft::{PbftMsg, PrePrepare};
use bcos_consensus::Input;
use bcos_crypto::bls::{BlsSignature, CommitCertificate, SIGNATURE_LEN};
use bcos_types::{Block, Bytes};

impl PbftDriver {
    pub(super) fn on_wire(&mut self, from: u32, w: Wire) -> anyhow::Result<()> {
        if from as usize >= self.members.len() || from == self.me() {
            return Ok(());
        }
        match w {
            Wire::PrePrepare { msg, block } => self.on_pre_prepare(from, msg, &block),
            Wire::Prepare { msg, sig } => {
                let Some(sig) = parse_sig(&sig) else {
                    return self.drop_msg(from, "prepare with a malformed signature");
                };
                if self.vote_height_ok(msg.height) {
                    let d = self
                        .book
                        .prepare_digest(msg.height, msg.view, msg.block_hash);
                    self.book.record(msg.height, d, from as usize, sig);
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
                if self.vote_height_ok(msg.height) {
                    let d = self.book.commit_digest(msg.height, msg.view, msg.body);
                    self.book.record(msg.height, d, from as usize, sig);
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
                let Some(vc) = self.check_view_change(&s) else {
                    return self.drop_msg(from, "view change with a bad signature or proof");
                };
                self.view_changes.insert((vc.height, vc.view, s.signer), s);
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
                // At most one view change per validator, each checked once (a flood of them
                // would otherwise cost a BLS verification apiece).
                if view_changes.len() > self.members.len() {
                    return self.drop_msg(from, "new view with more view changes than validators");
                }
                let mut checked = Vec::with_capacity(view_changes.len());
                for s in view_changes {
                    let Some(vc) = self.check_view_change(&s) else {
                        return self.drop_msg(from, "new view holding an invalid view change");
                    };
                    if vc.height != height || vc.view != view {
                        return self
                            .drop_msg(from, "new view holding a view change for another view");
                    }
                    checked.push(SignedViewChange { vc, ..s });
                }
                if let (Some(hash), Some(bytes)) = (reproposal, block) {
                    self.accept_block(from, height, hash, &bytes)?;
                }
                for s in &checked {
                    self.view_changes
                        .entry((height, view, s.signer))
                        .or_insert_with(|| s.clone());
                }
                let nv = core_new_view(height, view, &checked, reproposal);
                self.feed(Input::Message {
                    from,
                    msg: PbftMsg::NewView(nv),
                })?;
                self.execute_proposed()
            }
            Wire::Status { height, hash: _ } => {
                self.sync.on_status(from, height);
                Ok(())
            }
            Wire::SyncRequest { from: start, count } => self.serve_sync(from, start, count),
            Wire::SyncBlocks(blocks) => self.apply_synced(from, blocks),
            Wire::Txs(_) => Ok(()), // admitted on the network task, never reaches here
            Wire::Raft { .. } => self.drop_msg(from, "raft message in a pbft group"),
        }
    }

    fn drop_msg(&self, from: u32, why: &str) -> anyhow::Result<()> {
        tracing::warn!(peer = from, "dropped: {why}");
        Ok(())
    }

    /// Votes are only worth keeping for heights the core still works on.
    fn vote_height_ok(&self, h: u64) -> bool {
        let next = bcos_consensus::Protocol::next_height(&self.core);
        h.saturating_add(1) >= next
            && h <= next.saturating_add(self.core.config().future_heights_max)
    }

    /// PBFT-R4 from the driver's side: the block must be the one the pre-prepare names; it
    /// is checked and executed once the head allows (`execute_proposed`).
    fn on_pre_prepare(&mut self, from: u32, msg: PrePrepare, block: &Bytes) -> anyhow::Result<()> {
        if from != self.core.config().leader(msg.height, msg.view) {
            return self.drop_msg(from, "pre-prepare from a node that does not lead that view");
        }
        self.accept_block(from, msg.height, msg.block_hash, block)?;
        self.feed(Input::Message {
            from,
            msg: PbftMsg::PrePrepare(msg),
        })?;
        self.execute_proposed()
    }

    /// Keeps a proposed block whose hash and height match what its message claims.
    pub(super) fn accept_block(
        &mut self,
        from: u32,
        height: u64,
        hash: bcos_types::B256,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let head = self.head.number();
        if height <= head || height > head + 1 + super::BLOCK_HEIGHTS_AHEAD_MAX {
            return Ok(());
        }
        let block = match Block::decode_bytes(bytes) {
            Ok(b) => b.seal(),
            Err(e) => return self.drop_msg(from, &format!("undecodable block: {e}")),
        };
        if block.hash != hash || block.number() != height {
            return self.drop_msg(from, "block does not match its message");
        }
        let at = self.proposed.entry(height).or_default();
        if at.len() < super::BLOCKS_PER_HEIGHT_MAX {
            at.insert(hash, block);
        }
        Ok(())
    }

    /// Checks a signed view change; returns the core form (lock voters = the proof's
    /// signers).
    fn check_view_change(&self, s: &SignedViewChange) -> Option<bcos_consensus::pbft::ViewChange> {
        let member = self.members.get(s.signer as usize)?;
        let digest = view_change_digest(self.cfg.group_id, s.signer, &s.vc, &s.proof);
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
                self.book.verify(&cert, &expected).ok()?;
                lock.voters = cert.signer_indices().map(|i| i as u32).collect();
            }
            _ => return None,
        }
        Some(vc)
    }
}

fn parse_sig(bytes: &[u8]) -> Option<BlsSignature> {
    BlsSignature::from_bytes(bytes).ok()
}
