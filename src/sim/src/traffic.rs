//! Frames and transactions between the simulated nodes. A driver addresses consensus
//! positions of its group; here they become node indices (as the node's group transport
//! does, GRP-N3: a group's frames reach only its members), and a delivered frame reaches
//! only its group's driver on the receiving node, which sees the sender's position
//! (`bcos_node::groups::dispatch`). Clients submit to a random live member of a group (and
//! resubmit to the same one while it is up), which forwards the transaction to the group's
//! other members as the node's gossip does.

use crate::config::Resubmit;
use crate::runtime::Dest;
use crate::steps::rep;
use crate::world::World;
use alloy_primitives::bytes::Bytes as Frame;
use bcos_node::cluster::wire::Wire;
use std::sync::Arc;

impl World {
    /// A frame node `node`'s driver of group `g` sent leaves through its Byzantine module,
    /// or past the vote checker.
    pub(crate) fn emit(&mut self, g: usize, node: u32, dest: Dest, frame: Frame) {
        let honest = rep(self, g, node).honest();
        let outs = match (&mut self.byz, honest) {
            (Some(b), false) => b.transform(&mut self.rng, dest, frame),
            _ => {
                if let Ok(w) = Wire::decode(&frame) {
                    let to = match dest {
                        Dest::To(p) => self.groups[g].node_at(p),
                        Dest::All => None,
                    };
                    let now = self.now();
                    self.groups[g].checkers.on_send(now, node, to, &w);
                }
                vec![(dest, frame)]
            }
        };
        let now = self.now();
        let members = &self.groups[g].spec.members;
        for (dest, frame) in outs {
            let to: Vec<u32> = match dest {
                Dest::To(p) => members
                    .get(p as usize)
                    .filter(|n| **n != node)
                    .map(|n| vec![*n])
                    .unwrap_or_default(),
                Dest::All => members.iter().copied().filter(|p| *p != node).collect(),
            };
            self.net
                .send(&mut self.rng, &mut self.q, now, g, node, &to, &frame);
        }
    }

    /// A frame of group `g` from node `from` reaches node `to`.
    pub(crate) fn deliver(
        &mut self,
        g: usize,
        from: u32,
        to: u32,
        frame: &Frame,
    ) -> anyhow::Result<()> {
        if !rep(self, g, to).is_up() {
            self.net.count(g, |s| s.to_down_node += 1);
            return Ok(());
        }
        self.net.count(g, |s| s.deliveries += 1);
        // The node's dispatch: frames from a non-member are dropped (GRP-N2); the sender is
        // named to the driver by its position in the group.
        let Some(from_pos) = self.groups[g].spec.position(from) else {
            return Ok(());
        };
        // The node's network task: undecodable frames are dropped, forwarded
        // transactions go to the pool, the rest to the driver.
        match Wire::decode(frame) {
            Err(_) => Ok(()),
            Ok(Wire::Txs(list)) => {
                let mut any = false;
                for raw in list {
                    any |= self.admit(g, to, &raw).is_ok();
                }
                if any {
                    self.step(g, to, None)?;
                }
                Ok(())
            }
            Ok(w) => {
                match &w {
                    Wire::PrePrepare { msg, .. } => {
                        tracing::debug!(target: "bcos_sim::frames", group = g, from, to, at_ms = self.now(), height = msg.height, view = msg.view, block = %msg.block_hash, "pre-prepare")
                    }
                    Wire::NewView {
                        height,
                        view,
                        reproposal,
                        block,
                        ..
                    } => {
                        tracing::debug!(target: "bcos_sim::frames", group = g, from, to, at_ms = self.now(), height, view, reproposal = ?reproposal, with_block = block.is_some(), "new view");
                        if let Some(r) = reproposal {
                            self.groups[g]
                                .last_new_view
                                .insert(*height, (*r, block.is_some()));
                        }
                    }
                    _ => {}
                }
                self.step(g, to, Some((from_pos, w)))
            }
        }
    }

    /// The RPC path of group `g` on `node`: static rules (the group's chain id among them,
    /// GRP-A2), sender recovery, pool admission.
    fn admit(&mut self, g: usize, node: u32, raw: &[u8]) -> Result<(), String> {
        let live = rep(self, g, node)
            .live
            .as_ref()
            .ok_or_else(|| "node is down".to_string())?;
        let tx = live
            .pool
            .rules()
            .check_raw(raw)
            .map_err(|e| e.to_string())?;
        let rtx = self
            .recoverer
            .recover_one(Arc::new(tx))
            .map_err(|e| e.to_string())?;
        match live.pool.admit_batch(vec![Ok(rtx)]).pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no admission result".into()),
        }
    }

    /// Submits a transaction of group `g`'s client, which the node forwards to the group's
    /// other members (as `bcos_node::cluster::gossip` does) and wakes its driver. The first
    /// send goes to a random live member; a resend (`--resubmit same`, the default) to that
    /// same node while it is up (and honest), like a wallet with one RPC endpoint, and to a
    /// random live member only while it is down; with `--resubmit other` to a random live
    /// member.
    pub(crate) fn submit(&mut self, g: usize, hash: bcos_types::B256) -> anyhow::Result<()> {
        let now = self.now();
        let client = &mut self.groups[g].client;
        let Some((raw, first_node)) = client.txs.get(&hash).map(|r| (r.raw.clone(), r.first_node))
        else {
            return Ok(());
        };
        client.sent(&hash, now);
        let up = self.groups[g].up_members();
        let same = match (self.cfg.resubmit, first_node) {
            // A Byzantine endpoint may censor what it took (a silent one never forwards
            // it): the liveness promise covers what honest nodes took, so a wallet of a
            // Byzantine node goes elsewhere, as the old client did.
            (Resubmit::Same, Some(n)) if up.contains(&n) && rep(self, g, n).honest() => Some(n),
            _ => None,
        };
        // No draw for a resend to the same node.
        let node = match same {
            Some(n) => n,
            None => match self.rng.pick(&up) {
                Some(&n) => n,
                None => {
                    self.groups[g].client.stats.no_node += 1;
                    return Ok(());
                }
            },
        };
        if let Some(r) = self.groups[g].client.txs.get_mut(&hash) {
            r.first_node.get_or_insert(node);
        }
        tracing::debug!(target: "bcos_sim", node, group = g, tx = %hash, "submitting");
        let accepted = self.accept_tx(g, node, &raw)?;
        let stats = &mut self.groups[g].client.stats;
        if same.is_some() {
            stats.resubmissions_same_node += 1;
        }
        if !accepted {
            stats.refused += 1;
            if same.is_some() {
                stats.refused_same_node += 1;
            }
        }
        Ok(())
    }

    /// Node `node`'s RPC in group `g` takes a raw transaction: admitted to its pool, it is
    /// forwarded to the group's other members and the driver wakes; false when refused.
    pub(crate) fn accept_tx(
        &mut self,
        g: usize,
        node: u32,
        raw: &bcos_types::Bytes,
    ) -> anyhow::Result<bool> {
        match self.admit(g, node, raw) {
            Ok(()) => {
                let fwd = Wire::Txs(vec![raw.clone()]).encode();
                self.emit(g, node, Dest::All, fwd);
                self.step(g, node, None)?;
                Ok(true)
            }
            Err(why) => {
                tracing::debug!(target: "bcos_sim", node, group = g, %why, "submission refused");
                Ok(false)
            }
        }
    }
}

/// A proposal: a PBFT pre-prepare or new view with its block, a Raft append with blocks.
pub(crate) fn carries_block(frame: &Frame) -> bool {
    match Wire::decode(frame) {
        Ok(Wire::PrePrepare { .. }) => true,
        Ok(Wire::NewView { block, .. }) => block.is_some(),
        Ok(Wire::Raft { blocks, .. }) => !blocks.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Protocol, SimConfig};
    use crate::groups::groups_from_cli;
    use crate::world::World;

    /// GRP-A2: each group's pool admits only its own chain id, so a transaction signed for
    /// one group cannot be replayed into another on the same node.
    #[test]
    fn a_transaction_of_one_group_is_refused_by_another() {
        let groups = groups_from_cli(4, Protocol::Pbft, 2, None, &[]).expect("two groups");
        let mut w = World::new(&SimConfig::with_groups(4, 1, groups)).expect("a world");
        w.boot().expect("boots");
        let hash = w.groups[1]
            .client
            .create(&mut w.rng, 0)
            .expect("a transaction");
        let raw = w.groups[1].client.txs[&hash].raw.clone();
        let refused = w
            .admit(0, 0, &raw)
            .expect_err("group 0 refuses group 1's transaction");
        assert!(refused.contains("chain id"), "{refused}");
        assert_eq!(w.admit(1, 0, &raw), Ok(()));
    }
}
