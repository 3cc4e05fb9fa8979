//! Core messages to wire messages: the signatures and blocks the core leaves to its driver.

use super::PbftDriver;
use crate::cluster::votes::VoteSlot;
use crate::cluster::wire::{PreparedProof, SignedViewChange, Wire};
use bcos_consensus::pbft::{PbftMsg, ViewChange};
use bcos_consensus::Protocol;
use bcos_types::{Bytes, GroupId, B256};
use secp256k1::{Message, SECP256K1};

/// What a view change's node-key signature covers.
pub fn view_change_digest(
    group: GroupId,
    signer: u32,
    vc: &ViewChange,
    proof: &Option<PreparedProof>,
) -> B256 {
    let body = postcard::to_allocvec(&(group, signer, vc, proof)).unwrap_or_default();
    alloy_primitives::keccak256(body)
}

impl PbftDriver {
    pub(super) fn wire_for(&mut self, msg: PbftMsg) -> Option<Wire> {
        Some(match msg {
            PbftMsg::PrePrepare(m) => {
                let Some(block) = self.block_bytes(m.height, &m.block_hash) else {
                    tracing::warn!(height = m.height, "no block for our own pre-prepare");
                    return None;
                };
                Wire::PrePrepare { msg: m, block }
            }
            PbftMsg::Prepare(m) => {
                let d = self.book.prepare_digest(m.height, m.view, m.block_hash);
                let sig = self.book.sign(VoteSlot::prepare(m.height, m.view), d);
                Wire::Prepare {
                    msg: m,
                    sig: Bytes::copy_from_slice(&sig.to_bytes()),
                }
            }
            PbftMsg::Commit(m) => {
                let d = self.book.commit_digest(m.height, m.view, m.body);
                let sig = self.book.sign(VoteSlot::commit(m.height, m.view), d);
                Wire::Commit {
                    msg: m,
                    sig: Bytes::copy_from_slice(&sig.to_bytes()),
                }
            }
            PbftMsg::ViewChange(vc) => Wire::ViewChange(self.sign_view_change(vc)),
            PbftMsg::NewView(nv) => {
                let mut signed = Vec::with_capacity(nv.view_changes.len());
                for (i, _) in &nv.view_changes {
                    match self.view_changes.get(&(nv.height, nv.view, *i)) {
                        Some(s) => signed.push(s.clone()),
                        None => {
                            tracing::warn!(signer = i, "new view without the signed view change");
                            return None;
                        }
                    }
                }
                let block = nv.reproposal.and_then(|h| self.block_bytes(nv.height, &h));
                Wire::NewView {
                    height: nv.height,
                    view: nv.view,
                    view_changes: signed,
                    reproposal: nv.reproposal,
                    block,
                }
            }
        })
    }

    /// Attaches the aggregate of the prepare votes behind the lock (if a quorum of valid
    /// ones is at hand; otherwise the lock is not claimed) and signs with the node key.
    fn sign_view_change(&mut self, mut vc: ViewChange) -> SignedViewChange {
        let mut proof = None;
        if let Some(pc) = vc.prepared.clone() {
            let d = self.book.prepare_digest(pc.height, pc.view, pc.block_hash);
            let (cert, culprits) = self.book.certificate(d);
            for c in culprits {
                tracing::warn!(culprit = c.signer_index, "invalid prepare signature");
            }
            match cert {
                Some(cert) => {
                    if let Some(lock) = vc.prepared.as_mut() {
                        lock.voters = self.book.signer_members(pc.height, &cert);
                    }
                    proof = Some(PreparedProof {
                        signers: cert.signers,
                        aggregate: Bytes::copy_from_slice(&cert.aggregate),
                    });
                }
                None => match self.kept_proof(pc.height, pc.view, pc.block_hash) {
                    Some((kept, voters)) => {
                        if let Some(lock) = vc.prepared.as_mut() {
                            lock.voters = voters;
                        }
                        proof = Some(kept);
                    }
                    None => {
                        tracing::warn!(
                            height = pc.height,
                            view = pc.view,
                            "lock without a provable quorum; not claimed"
                        );
                        vc.prepared = None;
                    }
                },
            }
        }
        let me = self.me();
        let digest = view_change_digest(self.base.cfg.group_id, me, &vc, &proof);
        let (recid, compact) = SECP256K1
            .sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.keys.node_key)
            .serialize_compact();
        let signed = SignedViewChange {
            signer: me,
            vc: vc.clone(),
            proof,
            sig: Bytes::copy_from_slice(&compact),
            parity: i32::from(recid) as u8,
        };
        self.view_changes
            .keep(signed.clone(), self.core.next_height(), self.core.view());
        signed
    }

    fn block_bytes(&self, height: u64, hash: &B256) -> Option<Bytes> {
        if let Some(c) = self.candidates.get(hash) {
            return Some(Bytes::from(c.block.block.encode_bytes()));
        }
        self.proposals
            .get(height, hash)
            .map(|b| Bytes::from(b.block.encode_bytes()))
    }
}
