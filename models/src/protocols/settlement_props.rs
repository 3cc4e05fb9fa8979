//! The settlement model's properties (spec/settlement.md §5, §6; producer rules §3), named by
//! rule ID and judged on every reachable state, and its coverage probes.

use super::settlement_actors::{Tx, XsState, CHAINS};
use super::settlement_model::{XsCfg, XsCond, XsModel};
use bcos_settlement::{SeededBug, VerifierConfig};
use bcos_types::U256;
use stateright::Property;
use std::sync::Arc;

pub const XS_S1: &str =
    "XS-S1 exactly once, in order: per chain the credited records are 1..k, each credited once";
pub const XS_S2: &str = "XS-S2 nothing omitted: per chain credited == the last credited record's cumulative, and merchant + proxies + (settled - credited) == paid";
pub const XS_S3: &str =
    "XS-S3 the merchant is never credited more than was paid on the user chains";
pub const XS_S4: &str =
    "XS-S4 no credit without a valid certificate: every credited record is one its chain committed";
pub const XS_R1: &str = "XS-R1 a record only for a proxy holding something, at most one per block";
pub const XS_R2: &str = "XS-R2 a record takes the whole proxy balance, numbered last + 1, cumulative = previous + amount, naming its chain and block";
pub const XS_R3: &str =
    "XS-R3 the settled amount leaves the proxy: proxy + settled == paid on every chain";
pub const XS_L1: &str = "XS-L1 progress: some run credits every payment";
pub const XS_L1_FAIR: &str =
    "XS-L1 progress (fair form): after GST, every run with an honest relayer credits every payment";

/// Probe: both user chains have a record credited.
pub const PROBE_BOTH_CHAINS: &str = "credits from both chains";
/// Probe: a chain has two records credited.
pub const PROBE_SECOND_RECORD: &str = "a chain credited through record 2";
/// Probe: a credited record settled two payments at once.
pub const PROBE_TWO_PAYMENTS: &str = "a credited record settled two payments";
/// Probe: every payment of the run credited.
pub const PROBE_ALL_CREDITED: &str = "every payment credited";

/// What payments 1..=k pay together (payment i pays i).
pub fn paid(k: u64) -> U256 {
    U256::from(k * (k + 1) / 2)
}

fn total_paid(s: &XsState) -> U256 {
    s.chains.iter().map(|c| paid(c.paid)).sum()
}

/// XS-S1.
fn exactly_once(_: &XsModel, s: &XsState) -> bool {
    s.merchant.credits.iter().all(|(id, credits)| {
        credits
            .iter()
            .enumerate()
            .all(|(i, r)| r.seq == i as u64 + 1 && r.chain_id == *id)
    })
}

/// XS-S2.
fn nothing_omitted(_: &XsModel, s: &XsState) -> bool {
    let v = &s.merchant.verifier;
    let registered = |id: &u64| CHAINS.contains(id);
    if !v.chains.keys().all(registered) || !s.merchant.credits.keys().all(registered) {
        return false;
    }
    let mut held = s.merchant.balance;
    for (c, chain) in s.chains.iter().enumerate() {
        let p = v.progress(CHAINS[c]);
        let last = s.credits_of(c).last();
        if p.credited != last.map_or(U256::ZERO, |r| r.cumulative)
            || p.credited_seq != last.map_or(0, |r| r.seq)
        {
            return false;
        }
        let Some(in_transit) = chain.producer.cumulative.checked_sub(p.credited) else {
            return false;
        };
        held += chain.proxy + in_transit;
    }
    held == total_paid(s)
}

/// XS-S3.
fn never_more_than_paid(_: &XsModel, s: &XsState) -> bool {
    s.merchant.balance <= total_paid(s)
}

/// XS-S4.
fn only_committed_records(_: &XsModel, s: &XsState) -> bool {
    s.merchant.credits.iter().all(|(id, credits)| {
        CHAINS.iter().position(|c| c == id).is_some_and(|c| {
            credits
                .iter()
                .all(|r| s.chains[c].committed_records().any(|p| p == r))
        })
    })
}

/// A chain's blocks (committed, then the pending one) with their numbers.
fn blocks(s: &XsState, c: usize) -> impl Iterator<Item = (u64, &Vec<Tx>)> {
    let chain = &s.chains[c];
    chain
        .blocks
        .iter()
        .map(|b| &b.txs)
        .chain(std::iter::once(&chain.pending))
        .enumerate()
        .map(|(i, txs)| (i as u64 + 1, txs))
}

/// XS-R1.
fn something_once_per_block(_: &XsModel, s: &XsState) -> bool {
    (0..CHAINS.len()).all(|c| {
        blocks(s, c).all(|(_, txs)| {
            let records: Vec<_> = txs
                .iter()
                .filter_map(|t| match t {
                    Tx::Settle(r) => Some(r),
                    Tx::Pay(_) => None,
                })
                .collect();
            records.len() <= 1 && records.iter().all(|r| !r.amount.is_zero())
        })
    })
}

/// XS-R2 and XS-R3: replays each chain's transactions; `whole` checks the records, `out`
/// the proxy.
fn replay(s: &XsState, c: usize, whole: bool) -> bool {
    let chain = &s.chains[c];
    let (mut balance, mut seq, mut cumulative, mut last_block) = (U256::ZERO, 0u64, U256::ZERO, 0);
    for (number, txs) in blocks(s, c) {
        for tx in txs {
            match tx {
                Tx::Pay(a) => balance += U256::from(*a),
                Tx::Settle(r) => {
                    let ok = r.seq == seq + 1
                        && r.amount == balance
                        && r.cumulative == cumulative + balance
                        && r.chain_id == CHAINS[c]
                        && r.block == number;
                    if whole && !ok {
                        return false;
                    }
                    (seq, cumulative, last_block) = (r.seq, r.cumulative, r.block);
                    balance = U256::ZERO;
                }
            }
        }
    }
    let p = &chain.producer;
    if whole {
        p.last_seq == seq && p.cumulative == cumulative && p.last_block == last_block
    } else {
        chain.proxy == balance && chain.proxy + p.cumulative == paid(chain.paid)
    }
}

fn whole_balance(_: &XsModel, s: &XsState) -> bool {
    (0..CHAINS.len()).all(|c| replay(s, c, true))
}

fn out_of_the_proxy(_: &XsModel, s: &XsState) -> bool {
    (0..CHAINS.len()).all(|c| replay(s, c, false))
}

/// Every payment of the run made, settled and credited.
fn all_credited(m: &XsModel, s: &XsState) -> bool {
    s.chains.iter().enumerate().all(|(c, chain)| {
        chain.paid == m.cfg.payments
            && chain.proxy.is_zero()
            && chain.pending.is_empty()
            && s.credited_seq(c) == chain.producer.last_seq
    }) && s.merchant.balance == total_paid(s)
}

fn both_chains(_: &XsModel, s: &XsState) -> bool {
    (0..CHAINS.len()).all(|c| !s.credits_of(c).is_empty())
}

fn second_record(_: &XsModel, s: &XsState) -> bool {
    s.merchant.credits.values().any(|c| c.len() >= 2)
}

fn two_payments(_: &XsModel, s: &XsState) -> bool {
    (0..CHAINS.len()).any(|c| {
        let mut since = 0;
        blocks(s, c).flat_map(|(_, txs)| txs).any(|tx| match tx {
            Tx::Pay(_) => {
                since += 1;
                false
            }
            Tx::Settle(r) => {
                let two = since >= 2 && r.seq <= s.credited_seq(c);
                since = 0;
                two
            }
        })
    })
}

/// The model of `cfg` with `bug` in the verifier.
pub fn model(cfg: XsCfg, bug: Option<SeededBug>) -> XsModel {
    let mut properties = vec![
        Property::always(XS_S1, exactly_once),
        Property::always(XS_S2, nothing_omitted),
        Property::always(XS_S3, never_more_than_paid),
        Property::always(XS_S4, only_committed_records),
        Property::always(XS_R1, something_once_per_block),
        Property::always(XS_R2, whole_balance),
        Property::always(XS_R3, out_of_the_proxy),
    ];
    properties.push(if cfg.liveness {
        Property::eventually(XS_L1_FAIR, all_credited)
    } else {
        Property::sometimes(XS_L1, all_credited)
    });
    let probes: Vec<(&'static str, XsCond)> = vec![
        (PROBE_BOTH_CHAINS, both_chains),
        (PROBE_SECOND_RECORD, second_record),
        (PROBE_TWO_PAYMENTS, two_payments),
        (PROBE_ALL_CREDITED, all_credited),
    ];
    XsModel {
        cfg,
        verifier: VerifierConfig {
            chains: CHAINS.into(),
            bug,
        },
        properties,
        probes,
        coverage: Arc::default(),
    }
}
