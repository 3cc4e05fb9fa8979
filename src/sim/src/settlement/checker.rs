//! The settlement properties (spec/settlement.md §5), checked after every step of a run
//! against what the chains committed. Each chain is read at its highest stored head (every
//! member's store counts, a crashed one's too: stores survive crashes, and agreement makes
//! any two stores equal at one height): new blocks are scanned once, in order, and the
//! settlement contract's storage and the balances are read at that head.
//!
//! - **producer rules** (XS-R1..R3): a user chain's records are numbered 1, 2, .. without
//!   gaps, at most one per block, each naming its chain and block, with a nonzero amount and
//!   the running sum; the contract's storage agrees, and the escrow holds what was settled.
//! - **exactly once, in order** (XS-S1): the merchant chain's `Credited` logs name each
//!   chain's records 1, 2, .. each once, and its stored `credited_seq` is the last of them.
//! - **conservation** (XS-S2): per user chain, proxy + settled == paid (payments to the
//!   merchant committed there); on the merchant chain, credited == the last credited
//!   record's cumulative and the merchant holds exactly what was credited; and overall
//!   merchant + Σ proxy + Σ (settled − credited) == Σ paid.
//! - **no credit beyond settled** (XS-S3): no chain is credited a record it has not made,
//!   nor more than it settled.
//! - **credits only produced records** (XS-S4): each credit is exactly (amount, cumulative)
//!   of the record of that number the chain committed.

use super::proofs::{self, credited};
use crate::group::Group;
use bcos_execution::settlement::{user_slots, CREDITED_EVENT};
use bcos_settlement::{SettlementRecord, SETTLEMENT_ADDRESS};
use bcos_storage::ChainStore;
use bcos_types::{keccak256, Address, Log, U256};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const PRODUCER: &str = "settlement producer rules (XS-R1..R3)";
pub const EXACTLY_ONCE: &str = "settlement exactly once in order (XS-S1)";
pub const CONSERVATION: &str = "settlement conservation (XS-S2)";
pub const NOT_BEYOND_SETTLED: &str = "settlement no credit beyond settled (XS-S3)";
pub const PRODUCED_ONLY: &str = "settlement credits only produced records (XS-S4)";
pub const LIVENESS: &str = "settlement liveness (XS-L1)";

/// One user chain as the checker last read it.
#[derive(Debug, Clone)]
pub struct UserChain {
    pub group: usize,
    pub chain_id: u64,
    pub height: u64,
    /// Payments to the merchant committed (successful transfers to the proxy).
    pub payments: u64,
    pub paid: U256,
    /// Its records, in order (record k at index k - 1).
    pub records: Vec<SettlementRecord>,
    pub proxy: U256,
    pub settled: U256,
}

/// A `Credited(chain, seq, amount, cumulative)` log of the merchant chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    pub seq: u64,
    pub amount: U256,
    pub cumulative: U256,
    /// The merchant-chain block that credited it.
    pub block: u64,
}

pub struct SettlementChecker {
    merchant: Address,
    pub users: Vec<UserChain>,
    pub merchant_height: u64,
    /// Credits per user chain id, in the order the merchant chain made them.
    pub credits: BTreeMap<u64, Vec<Credit>>,
    pub merchant_balance: U256,
    /// Submissions to the settlement contract per sender: (credited, refused).
    pub submissions: BTreeMap<Address, (u64, u64)>,
    /// Times the state was read and the cross-chain equations checked (after a step that
    /// committed a block somewhere).
    pub checks: u64,
    failed: bool,
}

fn credited_of(log: &Log) -> Option<(u64, Credit)> {
    if log.address != SETTLEMENT_ADDRESS
        || log.data.topics() != [keccak256(CREDITED_EVENT.as_bytes())]
    {
        return None;
    }
    let d = &log.data.data;
    if d.len() != 128 {
        return None;
    }
    let word = |i: usize| U256::from_be_slice(&d[i * 32..(i + 1) * 32]);
    Some((
        u64::try_from(word(0)).ok()?,
        Credit {
            seq: u64::try_from(word(1)).ok()?,
            amount: word(2),
            cumulative: word(3),
            block: 0,
        },
    ))
}

/// The store of `g` with the highest head (ties: the lowest node index).
fn best_store(g: &Group) -> Option<(u64, Arc<dyn ChainStore>)> {
    let mut best: Option<(u64, Arc<dyn ChainStore>)> = None;
    for r in g.reps.values().filter(|r| r.honest()) {
        let h = r.store.head().map_or(0, |(h, _)| h);
        if best.as_ref().is_none_or(|(b, _)| h > *b) {
            best = Some((h, r.store.clone()));
        }
    }
    best
}

type Found = Vec<(usize, &'static str, String)>;

impl SettlementChecker {
    /// `users`: (group, chain id) of each user chain.
    pub fn new(merchant: Address, users: Vec<(usize, u64)>) -> Self {
        SettlementChecker {
            merchant,
            credits: users.iter().map(|(_, c)| (*c, Vec::new())).collect(),
            users: users
                .into_iter()
                .map(|(group, chain_id)| UserChain {
                    group,
                    chain_id,
                    height: 0,
                    payments: 0,
                    paid: U256::ZERO,
                    records: Vec::new(),
                    proxy: U256::ZERO,
                    settled: U256::ZERO,
                })
                .collect(),
            merchant_height: 0,
            merchant_balance: U256::ZERO,
            submissions: BTreeMap::new(),
            checks: 0,
            failed: false,
        }
    }

    /// Records credited, over every chain.
    pub fn credited_records(&self) -> u64 {
        self.credits.values().map(|c| c.len() as u64).sum()
    }

    pub fn created_records(&self) -> u64 {
        self.users.iter().map(|u| u.records.len() as u64).sum()
    }

    pub fn credited_sum(&self, chain: u64) -> U256 {
        self.credits
            .get(&chain)
            .and_then(|c| c.last())
            .map_or(U256::ZERO, |c| c.cumulative)
    }

    /// Every payment is credited: no proxy holds anything and every record is credited.
    pub fn complete(&self) -> bool {
        self.users.iter().all(|u| {
            u.proxy.is_zero()
                && self.credits.get(&u.chain_id).map_or(0, Vec::len) == u.records.len()
        })
    }

    /// Where each chain stands, for a liveness failure.
    pub fn describe(&self) -> String {
        let chains: Vec<String> = self
            .users
            .iter()
            .map(|u| {
                format!(
                    "chain {} (group {}): {} records made, {} credited, proxy holds {}",
                    u.chain_id,
                    u.group,
                    u.records.len(),
                    self.credits.get(&u.chain_id).map_or(0, Vec::len),
                    u.proxy
                )
            })
            .collect();
        chains.join("; ")
    }

    /// Reads what the chains committed since the last call and checks every property;
    /// violations go to the checkers of the group they concern (the first ends the run).
    pub fn check(&mut self, groups: &mut [Group], now: u64) -> anyhow::Result<()> {
        if self.failed {
            return Ok(());
        }
        let mut found: Found = Vec::new();
        let mut changed = false;
        for i in 0..self.users.len() {
            let g = self.users[i].group;
            let Some((head, store)) = best_store(&groups[g]) else {
                continue;
            };
            if head > self.users[i].height {
                changed = true;
                self.scan_user(i, &*store, head, &mut found)?;
            }
        }
        if let Some((head, store)) = best_store(&groups[super::MERCHANT_GROUP]) {
            if head > self.merchant_height {
                changed = true;
                self.scan_merchant(&*store, head, &mut found)?;
            }
        }
        if changed {
            self.checks += 1;
            self.cross_check(&mut found);
        }
        for (g, property, detail) in found {
            self.failed = true;
            if let Some(grp) = groups.get_mut(g) {
                grp.checkers.fail_global(property, now, detail);
            }
        }
        Ok(())
    }

    fn scan_user(
        &mut self,
        i: usize,
        store: &dyn ChainStore,
        head: u64,
        found: &mut Found,
    ) -> anyhow::Result<()> {
        let merchant = self.merchant;
        let u = &mut self.users[i];
        let g = u.group;
        for h in u.height + 1..=head {
            let Some(block) = store.block_by_number(h)? else {
                anyhow::bail!("group {g}: block {h} missing below head {head}");
            };
            let receipts = store.receipts(h)?.unwrap_or_default();
            for (tx, r) in block.block.txs.iter().zip(receipts.iter()) {
                if r.success && tx.to() == Some(merchant) {
                    u.payments += 1;
                    u.paid += tx.value();
                }
                if !r.success {
                    continue;
                }
                for rec in r.logs.iter().filter_map(SettlementRecord::from_log) {
                    let prev = u.records.last().copied();
                    let (seq, cum, last_block) =
                        prev.map_or((0, U256::ZERO, 0), |p| (p.seq, p.cumulative, p.block));
                    let why = if rec.chain_id != u.chain_id {
                        Some(format!("names chain {}", rec.chain_id))
                    } else if rec.block != h {
                        Some(format!("names block {}", rec.block))
                    } else if rec.seq != seq + 1 {
                        Some(format!("follows record {seq}"))
                    } else if seq > 0 && last_block >= h {
                        Some(format!("is a second record in block {h}"))
                    } else if rec.amount.is_zero() {
                        Some("settles nothing".into())
                    } else if cum.checked_add(rec.amount) != Some(rec.cumulative) {
                        Some(format!(
                            "has cumulative {} after {cum} and amount {}",
                            rec.cumulative, rec.amount
                        ))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        found.push((
                            g,
                            PRODUCER,
                            format!(
                                "chain {}: record {} in block {h} {why}",
                                u.chain_id, rec.seq
                            ),
                        ));
                    }
                    u.records.push(rec);
                }
            }
        }
        u.height = head;
        u.proxy = proofs::balance(store, &merchant)?;
        u.settled = proofs::slot(store, user_slots::CUMULATIVE)?;
        let last_seq = proofs::last_seq(store)?;
        let escrow = proofs::balance(store, &SETTLEMENT_ADDRESS)?;
        let logged = u.records.last().map_or(U256::ZERO, |r| r.cumulative);
        let id = u.chain_id;
        if last_seq != u.records.len() as u64 || u.settled != logged {
            found.push((
                g,
                PRODUCER,
                format!(
                    "chain {id} at height {head}: the contract stores record {last_seq} and \
                     settled {}, its logs show {} records settling {logged}",
                    u.settled,
                    u.records.len()
                ),
            ));
        }
        if escrow != u.settled {
            found.push((
                g,
                PRODUCER,
                format!(
                    "chain {id} at height {head}: settled {} but the settlement contract holds \
                     {escrow} (XS-R3: what is recorded leaves circulation)",
                    u.settled
                ),
            ));
        }
        if u.proxy.checked_add(u.settled) != Some(u.paid) {
            found.push((
                g,
                CONSERVATION,
                format!(
                    "chain {id} at height {head}: proxy {} + settled {} != paid {} ({} payments)",
                    u.proxy, u.settled, u.paid, u.payments
                ),
            ));
        }
        Ok(())
    }

    fn scan_merchant(
        &mut self,
        store: &dyn ChainStore,
        head: u64,
        found: &mut Found,
    ) -> anyhow::Result<()> {
        let m = super::MERCHANT_GROUP;
        for h in self.merchant_height + 1..=head {
            let Some(block) = store.block_by_number(h)? else {
                anyhow::bail!("merchant chain: block {h} missing below head {head}");
            };
            let receipts = store.receipts(h)?.unwrap_or_default();
            let senders = store.senders(h)?.unwrap_or_default();
            for (i, (tx, r)) in block.block.txs.iter().zip(receipts.iter()).enumerate() {
                if tx.to() == Some(SETTLEMENT_ADDRESS) {
                    let who = senders.get(i).copied().unwrap_or_default();
                    let e = self.submissions.entry(who).or_default();
                    if r.success {
                        e.0 += 1;
                    } else {
                        e.1 += 1;
                    }
                }
                if !r.success {
                    continue;
                }
                for (chain, mut c) in r.logs.iter().filter_map(credited_of) {
                    c.block = h;
                    let produced = self
                        .users
                        .iter()
                        .find(|u| u.chain_id == chain)
                        .map(|u| (u.records.get(c.seq.wrapping_sub(1) as usize).copied(), u));
                    let Some(list) = self.credits.get_mut(&chain) else {
                        found.push((
                            m,
                            PRODUCED_ONLY,
                            format!("block {h} credited record {} of chain {chain}, which is no user chain", c.seq),
                        ));
                        continue;
                    };
                    let last = list.last().map_or(0, |x| x.seq);
                    if c.seq != last + 1 {
                        let twice = list.iter().find(|x| x.seq == c.seq);
                        found.push((
                            m,
                            EXACTLY_ONCE,
                            match twice {
                                Some(x) => format!(
                                    "chain {chain}: record {} credited again in block {h} (first in block {})",
                                    c.seq, x.block
                                ),
                                None => format!(
                                    "chain {chain}: record {} credited in block {h} right after record {last}",
                                    c.seq
                                ),
                            },
                        ));
                    }
                    match produced {
                        Some((None, u)) => found.push((
                            m,
                            NOT_BEYOND_SETTLED,
                            format!(
                                "chain {chain}: record {} credited in block {h}, but the chain \
                                 made only {} records (height {})",
                                c.seq,
                                u.records.len(),
                                u.height
                            ),
                        )),
                        Some((Some(rec), _))
                            if (rec.amount, rec.cumulative) != (c.amount, c.cumulative) =>
                        {
                            found.push((
                                m,
                                PRODUCED_ONLY,
                                format!(
                                    "chain {chain}: record {} credited in block {h} as amount {} \
                                     cumulative {}; the chain made it with amount {} cumulative {}",
                                    c.seq, c.amount, c.cumulative, rec.amount, rec.cumulative
                                ),
                            ))
                        }
                        _ => {}
                    }
                    list.push(c);
                }
            }
        }
        self.merchant_height = head;
        self.merchant_balance = proofs::balance(store, &self.merchant)?;
        for u in &self.users {
            let (seq, sum) = credited(store, u.chain_id)?;
            let list = self
                .credits
                .get(&u.chain_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let logged_seq = list.last().map_or(0, |c| c.seq);
            let logged_sum = list
                .iter()
                .fold(U256::ZERO, |a, c| a.saturating_add(c.amount));
            if seq != logged_seq {
                found.push((
                    m,
                    EXACTLY_ONCE,
                    format!(
                        "chain {} at merchant height {head}: credited_seq is {seq}, the credits \
                         logged end at record {logged_seq}",
                        u.chain_id
                    ),
                ));
            }
            if sum != logged_sum || sum != self.credited_sum(u.chain_id) {
                found.push((
                    m,
                    CONSERVATION,
                    format!(
                        "chain {} at merchant height {head}: credited {sum}, the credits logged \
                         sum to {logged_sum}, the last credited record's cumulative is {}",
                        u.chain_id,
                        self.credited_sum(u.chain_id)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The equations between the chains, at the heads last read.
    fn cross_check(&self, found: &mut Found) {
        let m = super::MERCHANT_GROUP;
        let mut paid = U256::ZERO;
        let mut held = self.merchant_balance;
        let mut credited_total = U256::ZERO;
        for u in &self.users {
            let credited = self.credited_sum(u.chain_id);
            let n = self.credits.get(&u.chain_id).map_or(0, Vec::len);
            if n > u.records.len() || credited > u.settled {
                found.push((
                    m,
                    NOT_BEYOND_SETTLED,
                    format!(
                        "chain {}: {n} records crediting {credited}, the chain made {} settling \
                         {} (its height {}, merchant height {})",
                        u.chain_id,
                        u.records.len(),
                        u.settled,
                        u.height,
                        self.merchant_height
                    ),
                ));
                return;
            }
            paid = paid.saturating_add(u.paid);
            credited_total = credited_total.saturating_add(credited);
            held = held
                .saturating_add(u.proxy)
                .saturating_add(u.settled - credited);
        }
        if self.merchant_balance != credited_total {
            found.push((
                m,
                CONSERVATION,
                format!(
                    "the merchant holds {} on the merchant chain, {credited_total} was credited",
                    self.merchant_balance
                ),
            ));
        } else if held != paid {
            found.push((
                m,
                CONSERVATION,
                format!(
                    "merchant {} + proxies + in transit = {held} != paid {paid}",
                    self.merchant_balance
                ),
            ));
        }
    }
}
