//! What a settlement run saw: payments, records made and credited per user chain, what the
//! settler and each relayer sent (and how the merchant chain took it), the faults on the
//! clients' links, and whether every payment arrived.

use super::actors::RelayerStats;
use super::{LinkStats, RelayerKind, Settlement};
use bcos_settlement::SeededBug;
use bcos_types::U256;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSettlement {
    pub group: usize,
    pub chain_id: u64,
    pub payments: u64,
    pub paid: U256,
    pub records: u64,
    pub settled: U256,
    pub credited_records: u64,
    pub credited: U256,
    pub proxy: U256,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayerReport {
    pub kind: RelayerKind,
    pub stats: RelayerStats,
    /// Its submissions the merchant chain committed: credited, refused (reverted).
    pub credited: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementReport {
    pub bug: Option<SeededBug>,
    pub chains: Vec<ChainSettlement>,
    pub merchant_balance: U256,
    pub settle_sent: u64,
    pub settle_resent: u64,
    pub relayers: Vec<RelayerReport>,
    pub link: LinkStats,
    pub checks: u64,
    pub liveness_judged: bool,
    pub complete_after_ms: Option<u64>,
}

impl SettlementReport {
    pub fn of(s: &Settlement) -> SettlementReport {
        let c = &s.checker;
        SettlementReport {
            bug: s.spec.bug,
            chains: c
                .users
                .iter()
                .map(|u| ChainSettlement {
                    group: u.group,
                    chain_id: u.chain_id,
                    payments: u.payments,
                    paid: u.paid,
                    records: u.records.len() as u64,
                    settled: u.settled,
                    credited_records: c.credits.get(&u.chain_id).map_or(0, |l| l.len() as u64),
                    credited: c.credited_sum(u.chain_id),
                    proxy: u.proxy,
                })
                .collect(),
            merchant_balance: c.merchant_balance,
            settle_sent: s.settlers.iter().map(|x| x.sent).sum(),
            settle_resent: s.settlers.iter().map(|x| x.resent).sum(),
            relayers: s
                .relayers
                .iter()
                .map(|r| {
                    let (credited, refused) =
                        c.submissions.get(&r.address).copied().unwrap_or_default();
                    RelayerReport {
                        kind: r.kind,
                        stats: r.stats.clone(),
                        credited,
                        refused,
                    }
                })
                .collect(),
            link: s.link.clone(),
            checks: c.checks,
            liveness_judged: s.spec.judges_liveness(),
            complete_after_ms: s.complete_after_ms,
        }
    }

    pub fn payments(&self) -> u64 {
        self.chains.iter().map(|c| c.payments).sum()
    }

    pub fn records_created(&self) -> u64 {
        self.chains.iter().map(|c| c.records).sum()
    }

    pub fn records_credited(&self) -> u64 {
        self.chains.iter().map(|c| c.credited_records).sum()
    }

    /// Submissions the merchant chain refused (replays, gaps, forgeries, stale reads).
    pub fn refused(&self) -> u64 {
        self.relayers.iter().map(|r| r.refused).sum()
    }
}

impl fmt::Display for SettlementReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  settlement: merchant chain group 0{}; {} payments committed, {} records made, \
             {} credited; merchant credited {}",
            self.bug
                .map(|b| format!(" (seeded verifier bug {})", super::bug_name(b)))
                .unwrap_or_default(),
            self.payments(),
            self.records_created(),
            self.records_credited(),
            self.merchant_balance
        )?;
        for c in &self.chains {
            writeln!(
                f,
                "    chain {} (group {}): paid {} in {} payments; {} records settling {}; {} \
                 credited ({}); proxy holds {}",
                c.chain_id,
                c.group,
                c.paid,
                c.payments,
                c.records,
                c.settled,
                c.credited_records,
                c.credited,
                c.proxy
            )?;
        }
        writeln!(
            f,
            "    settler: {} settle() sent, {} resent",
            self.settle_sent, self.settle_resent
        )?;
        for r in &self.relayers {
            writeln!(
                f,
                "    relayer {}: {} rounds, {} submissions ({} forged), {} resent; merchant \
                 chain credited {} and refused {}",
                r.kind,
                r.stats.rounds,
                r.stats.submissions,
                r.stats.forged,
                r.stats.resubmissions,
                r.credited,
                r.refused
            )?;
        }
        if self.relayers.is_empty() {
            writeln!(f, "    relayers:   none")?;
        }
        let l = &self.link;
        writeln!(
            f,
            "    client link: {} sent; dropped {}, duplicated {}, delayed {}, to down nodes {}, \
             refused by pools {}, no live node {}",
            l.sent, l.dropped, l.duplicated, l.delayed, l.to_down_node, l.refused, l.no_node
        )?;
        write!(
            f,
            "    checks: producer rules, XS-S1..S4 after every step ({} reads of committed state); \
             XS-L1 {}",
            self.checks,
            match (self.liveness_judged, self.complete_after_ms) {
                (false, _) => "not judged (no honest relayer)".to_string(),
                (true, Some(ms)) => format!("held: all credited {ms} ms after the faults stopped"),
                (true, None) => "not reached".to_string(),
            }
        )
    }
}
