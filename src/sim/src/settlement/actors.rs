//! The settlement's simulated clients: the settler of each user chain and the relayers.
//! Each reads a random live member's committed state (a client talks to one node), signs
//! with a dev account of its own, and sends through [`World::client_send`]: a link that
//! loses, duplicates and delays as the run's fault plan says (calm once faults stop), into
//! the node's pool and gossip ([`World::client_tx`]). A transaction that lands nowhere (lost
//! on the link, dropped with a crashed node's pool) is sent again after
//! [`RESUBMIT_AFTER_MS`].

use super::proofs::{self, credited, last_seq, proof_of};
use super::{relayer_account, LinkStats, RelayerKind, MERCHANT_GROUP, SETTLER_ACCOUNT};
use crate::client::RESUBMIT_AFTER_MS;
use crate::events::Event;
use crate::group::Group;
use crate::steps::rep;
use crate::world::World;
use bcos_storage::ChainStore;
use bcos_types::{Address, Bytes, U256};
use secp256k1::SecretKey;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Records an honest relayer submits per round at most (consecutive nonces).
pub const RELAY_BATCH_MAX: u64 = 8;

/// One user chain's settler.
pub struct Settler {
    pub group: usize,
    pub chain_id: u64,
    base_fee: u64,
    key: SecretKey,
    address: Address,
    /// The `settle()` in flight: (nonce, raw, last sent).
    inflight: Option<(u64, Bytes, u64)>,
    pub sent: u64,
    pub resent: u64,
}

impl Settler {
    pub fn new(g: &Group) -> anyhow::Result<Settler> {
        let key = *g
            .chain
            .genesis
            .keys
            .get(SETTLER_ACCOUNT)
            .ok_or_else(|| anyhow::anyhow!("the dev chain has no account {SETTLER_ACCOUNT}"))?;
        Ok(Settler {
            group: g.id as usize,
            chain_id: g.chain.chain.chain_id,
            base_fee: g.chain.chain.base_fee_wei,
            address: bcos_crypto::address_of(&key),
            key,
            inflight: None,
            sent: 0,
            resent: 0,
        })
    }
}

/// What one relayer did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayerStats {
    pub rounds: u64,
    pub submissions: u64,
    pub resubmissions: u64,
    /// Submissions that were forgeries (Byzantine relayer).
    pub forged: u64,
}

pub struct Relayer {
    pub kind: RelayerKind,
    key: SecretKey,
    pub address: Address,
    chain_id: u64,
    base_fee: u64,
    /// Its submissions not yet committed, by nonce, and when they were last sent.
    outstanding: BTreeMap<u64, Bytes>,
    sent_ms: u64,
    pub stats: RelayerStats,
}

impl Relayer {
    pub fn new(kind: RelayerKind, i: usize, merchant_chain: &Group) -> anyhow::Result<Relayer> {
        let at = relayer_account(i);
        let key = *merchant_chain
            .chain
            .genesis
            .keys
            .get(at)
            .ok_or_else(|| anyhow::anyhow!("the dev chain has no account {at}"))?;
        Ok(Relayer {
            kind,
            address: bcos_crypto::address_of(&key),
            key,
            chain_id: merchant_chain.chain.chain.chain_id,
            base_fee: merchant_chain.chain.chain.base_fee_wei,
            outstanding: BTreeMap::new(),
            sent_ms: 0,
            stats: RelayerStats::default(),
        })
    }
}

/// What a relayer saw of one user chain in a round.
struct ChainSeen {
    chain_id: u64,
    store: Arc<dyn ChainStore>,
    last_seq: u64,
    credited_seq: u64,
    credited: U256,
}

impl World {
    /// A random live member's store of group `g` (the node a client asks), if any is up.
    fn client_view(&mut self, g: usize) -> Option<Arc<dyn ChainStore>> {
        let up = self.groups[g].up_members();
        let node = *self.rng.pick(&up)?;
        Some(rep(self, g, node).store.clone())
    }

    /// A client's transaction leaves for a random live member of group `g`, meeting the
    /// run's loss, duplication and delay on the way.
    fn client_send(&mut self, g: usize, raw: Bytes, link: &mut LinkStats) {
        let up = self.groups[g].up_members();
        let Some(&node) = self.rng.pick(&up) else {
            link.no_node += 1;
            return;
        };
        link.sent += 1;
        let plan = &self.net.plan;
        let (drop_p, dup_p, delay_p) = (plan.drop_p, plan.duplicate_p, plan.delay_p);
        let (latency, delay_max) = (plan.latency_ms, plan.delay_max_ms);
        if self.rng.chance(drop_p) {
            link.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(dup_p) {
            link.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = self.now() + self.rng.between(latency.0, latency.1);
            if self.rng.chance(delay_p) {
                link.delayed += 1;
                at += self.rng.between(0, delay_max);
            }
            self.q.push(
                at,
                Event::ClientTx {
                    group: g as u32,
                    node,
                    raw: raw.clone(),
                },
            );
        }
    }

    /// A client's transaction reaches node `node` of group `g`: its RPC admits it and
    /// gossips it, as any submission.
    pub(crate) fn client_tx(&mut self, g: usize, node: u32, raw: &Bytes) -> anyhow::Result<()> {
        let up = rep(self, g, node).is_up();
        let accepted = if up {
            self.accept_tx(g, node, raw)?
        } else {
            false
        };
        if let Some(s) = self.settlement.as_mut() {
            if !up {
                s.link.to_down_node += 1;
            } else if !accepted {
                s.link.refused += 1;
            }
        }
        Ok(())
    }

    /// The settler's turn on every user chain.
    pub(crate) fn settle_tick(&mut self, at: u64) -> anyhow::Result<()> {
        let Some(mut s) = self.settlement.take() else {
            return Ok(());
        };
        let mut r = Ok(());
        for settler in &mut s.settlers {
            r = self.settle_one(settler, s.merchant, &mut s.link, at);
            if r.is_err() {
                break;
            }
        }
        let every = s.settle_every_ms;
        self.settlement = Some(s);
        self.q.push(at + every, Event::SettleTick);
        r
    }

    /// One `settle()` in flight at a time per chain (as the node's settler): sent while the
    /// proxy holds something, again when it did not land in time, forgotten once the
    /// settler's nonce passed it.
    fn settle_one(
        &mut self,
        st: &mut Settler,
        merchant: Address,
        link: &mut LinkStats,
        at: u64,
    ) -> anyhow::Result<()> {
        let Some(store) = self.client_view(st.group) else {
            return Ok(());
        };
        let nonce = proofs::nonce(&*store, &st.address)?;
        if st.inflight.as_ref().is_some_and(|(n, _, _)| *n < nonce) {
            st.inflight = None;
        }
        if let Some((_, raw, sent)) = st.inflight.as_mut() {
            if at >= *sent + RESUBMIT_AFTER_MS {
                *sent = at;
                st.resent += 1;
                let raw = raw.clone();
                self.client_send(st.group, raw, link);
            }
            return Ok(());
        }
        if proofs::balance(&*store, &merchant)?.is_zero() {
            return Ok(());
        }
        let tx =
            bcos_node::settlement::settler::settle_tx(&st.key, st.chain_id, nonce, st.base_fee);
        let raw = Bytes::from(bcos_types::Tx::from_envelope(tx).encoded());
        st.inflight = Some((nonce, raw.clone(), at));
        st.sent += 1;
        self.client_send(st.group, raw, link);
        Ok(())
    }

    /// Relayer `i`'s round.
    pub(crate) fn relay_tick(&mut self, at: u64, i: u32) -> anyhow::Result<()> {
        let Some(mut s) = self.settlement.take() else {
            return Ok(());
        };
        let users = s.user_groups.clone();
        let r = match s.relayers.get_mut(i as usize) {
            Some(relayer) => self.relay_round(relayer, &users, &mut s.link, at),
            None => Ok(()),
        };
        let every = s.relay_every_ms;
        self.settlement = Some(s);
        self.q.push(at + every, Event::RelayTick { relayer: i });
        r
    }

    /// One batch in flight at a time (as `bcos relay` waits for its round's receipts):
    /// resent as a whole when it did not land in time; a new batch once every submission's
    /// nonce is used on the merchant chain (credited or refused there).
    fn relay_round(
        &mut self,
        r: &mut Relayer,
        users: &[usize],
        link: &mut LinkStats,
        at: u64,
    ) -> anyhow::Result<()> {
        r.stats.rounds += 1;
        let Some(m) = self.client_view(MERCHANT_GROUP) else {
            return Ok(());
        };
        let nonce = proofs::nonce(&*m, &r.address)?;
        r.outstanding.retain(|n, _| *n >= nonce);
        if !r.outstanding.is_empty() {
            if at >= r.sent_ms + RESUBMIT_AFTER_MS {
                r.sent_ms = at;
                let raws: Vec<Bytes> = r.outstanding.values().cloned().collect();
                r.stats.resubmissions += raws.len() as u64;
                for raw in raws {
                    self.client_send(MERCHANT_GROUP, raw, link);
                }
            }
            return Ok(());
        }
        let mut seen = Vec::new();
        for &g in users {
            let Some(store) = self.client_view(g) else {
                continue;
            };
            let chain_id = self.groups[g].chain.chain.chain_id;
            let (credited_seq, credited) = credited(&*m, chain_id)?;
            seen.push(ChainSeen {
                chain_id,
                last_seq: last_seq(&*store)?,
                store,
                credited_seq,
                credited,
            });
        }
        let proofs = match r.kind {
            RelayerKind::Honest => honest(&seen)?,
            RelayerKind::Byzantine => self.mischief(&seen, &mut r.stats)?,
        };
        r.sent_ms = at;
        for (k, p) in proofs.iter().enumerate() {
            let raw = Bytes::from(proofs::submission(
                &r.key,
                r.chain_id,
                nonce + k as u64,
                r.base_fee,
                p,
            ));
            r.outstanding.insert(nonce + k as u64, raw.clone());
            r.stats.submissions += 1;
            self.client_send(MERCHANT_GROUP, raw, link);
        }
        Ok(())
    }

    /// The Byzantine relayer's submissions this round: one kind of mischief on one chain.
    fn mischief(
        &mut self,
        seen: &[ChainSeen],
        stats: &mut RelayerStats,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let Some(c) = self.rng.pick(seen) else {
            return Ok(Vec::new());
        };
        let next = c.credited_seq + 1;
        let pending = c.last_seq >= next;
        let proof = |seq: u64| -> anyhow::Result<Option<bcos_settlement::SettlementProof>> {
            Ok(proof_of(&*c.store, c.chain_id, seq)?.map(|(p, _)| p))
        };
        let mut out = Vec::new();
        match self.rng.below(6) {
            // A replay of a credited record (XS-R8).
            0 if c.credited_seq > 0 => {
                let seq = self.rng.between(1, c.credited_seq);
                out.extend(proof(seq)?.map(|p| p.encode()));
            }
            // The pending records, last first: gaps before the next one lands (XS-R8).
            1 if pending => {
                let top = c.last_seq.min(next + 2);
                for seq in (next..=top).rev() {
                    out.extend(proof(seq)?.map(|p| p.encode()));
                }
            }
            // The next record twice.
            2 if pending => {
                if let Some(p) = proof(next)? {
                    out.push(p.encode());
                    out.push(p.encode());
                }
            }
            // The next record with a larger amount (XS-R6).
            3 if pending => {
                if let Some(p) = proof(next)? {
                    let delta = U256::from(self.rng.between(1, 1_000_000));
                    out.push(proofs::forge_amount(p, delta).encode());
                    stats.forged += 1;
                }
            }
            // A made-up next record under a real certificate of another block (XS-R5).
            4 if c.last_seq > 0 => {
                if let Some(p) = proof(c.last_seq)? {
                    let amount = U256::from(self.rng.between(1, 1_000_000));
                    let forged = proofs::forge_record(&p, c.chain_id, next, c.credited, amount);
                    out.extend(forged.map(|p| p.encode()));
                    stats.forged += 1;
                }
            }
            // The next record claimed for another chain (XS-R4, R7).
            5 if pending => {
                if let Some(mut p) = proof(next)? {
                    let other = seen.iter().map(|o| o.chain_id).find(|id| *id != c.chain_id);
                    p.chain_id = other.unwrap_or(c.chain_id + 1_000);
                    out.push(p.encode());
                    stats.forged += 1;
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

/// The honest relayer's submissions: every chain's uncredited records in order, up to
/// [`RELAY_BATCH_MAX`] per chain.
fn honest(seen: &[ChainSeen]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for c in seen {
        let top = c.last_seq.min(c.credited_seq + RELAY_BATCH_MAX);
        for seq in c.credited_seq + 1..=top {
            match proof_of(&*c.store, c.chain_id, seq)? {
                Some((p, _)) => out.push(p.encode()),
                None => break,
            }
        }
    }
    Ok(out)
}
