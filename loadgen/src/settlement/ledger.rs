//! Conservation (spec/settlement.md XS-S2): every wei paid to the merchant's proxies is in a
//! proxy, in transit (settled on its user chain, not yet credited) or credited to the
//! merchant on the merchant chain — never twice, never lost. A [`Ledger`] is one reading of
//! those amounts plus what measures the payments independently of them: the payers' committed
//! nonces (each committed payment is one nonce and `value` wei) and the other merchants'
//! balances on the user chains (payments that went to a merchant other than the
//! high-frequency one). [`check`] compares a baseline taken before a run with a reading taken
//! after the last settlement landed:
//!
//! Δ(merchant balance + Σ proxy + Σ (settled − credited)) == Σ Δnonces × value − Δothers.
//!
//! Settling moves an amount from a proxy to "settled" and crediting moves it from "in
//! transit" to the merchant: neither changes the left side; only payments do. It assumes
//! loadgen's payers are the only accounts paying the merchant and the other merchants, and
//! that a payment (a plain value transfer) never fails once committed.

use alloy_primitives::U256;

/// One user chain's part of a ledger reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLedger {
    pub chain_id: u64,
    /// What the merchant's proxy holds on the user chain.
    pub proxy: U256,
    /// What the user chain has settled into records (cumulative).
    pub settled: U256,
    /// What the merchant chain credited from this chain (cumulative).
    pub credited: U256,
    /// The other merchants' balances on this chain (0 with one merchant).
    pub others: U256,
    /// Σ of the payers' committed nonces on this chain.
    pub payer_nonces: u64,
}

impl ChainLedger {
    /// Settled, not yet credited; None when credited exceeds settled (a reading straddled a
    /// record's credit, or XS-S3 broke).
    pub fn in_transit(&self) -> Option<U256> {
        self.settled.checked_sub(self.credited)
    }
}

/// One reading of the merchant chain and every user chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// The merchant's balance on the merchant chain.
    pub merchant_balance: U256,
    pub chains: Vec<ChainLedger>,
}

impl Ledger {
    /// merchant balance + Σ proxy + Σ in transit: what the merchant holds anywhere.
    pub fn held(&self) -> Option<U256> {
        let mut sum = self.merchant_balance;
        for c in &self.chains {
            sum = sum.checked_add(c.proxy)?.checked_add(c.in_transit()?)?;
        }
        Some(sum)
    }

    pub fn proxies(&self) -> U256 {
        self.chains.iter().map(|c| c.proxy).sum()
    }

    pub fn in_transit(&self) -> U256 {
        self.chains
            .iter()
            .map(|c| c.in_transit().unwrap_or_default())
            .sum()
    }
}

/// What a run paid and whether the ledger accounts for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conservation {
    pub held: bool,
    /// Paid to the high-frequency merchant's proxies during the run (wei).
    pub paid: U256,
    /// Payments committed by the payers (to any merchant).
    pub payments: u64,
    /// Growth of the merchant's balance on the merchant chain (wei).
    pub credited: U256,
    /// In the proxies and in transit at the end (wei).
    pub proxies_end: U256,
    pub in_transit_end: U256,
    /// One sentence: what balanced, or what did not.
    pub detail: String,
}

/// Checks `end` against `base`: the merchant's holdings grew by exactly what was paid to
/// it. `value` is each payment's amount.
pub fn check(base: &Ledger, end: &Ledger, value: U256) -> Conservation {
    let payments: u64 = base
        .chains
        .iter()
        .zip(&end.chains)
        .map(|(b, e)| e.payer_nonces.saturating_sub(b.payer_nonces))
        .sum();
    let others_base: U256 = base.chains.iter().map(|c| c.others).sum();
    let others_end: U256 = end.chains.iter().map(|c| c.others).sum();
    let mut out = Conservation {
        held: false,
        paid: U256::ZERO,
        payments,
        credited: end.merchant_balance.saturating_sub(base.merchant_balance),
        proxies_end: end.proxies(),
        in_transit_end: end.in_transit(),
        detail: String::new(),
    };
    let shape_ok = base.chains.len() == end.chains.len()
        && base
            .chains
            .iter()
            .zip(&end.chains)
            .all(|(b, e)| b.chain_id == e.chain_id && e.payer_nonces >= b.payer_nonces);
    if !shape_ok {
        out.detail = "the readings before and after the run do not cover the same user chains \
                      (or a payer's nonce went back)"
            .into();
        return out;
    }
    let paid_total = U256::from(payments) * value;
    let Some(others) = others_end.checked_sub(others_base) else {
        out.detail = format!(
            "the other merchants' balances fell by {} wei during the run: they only receive",
            others_base - others_end
        );
        return out;
    };
    let Some(paid) = paid_total.checked_sub(others) else {
        out.detail = format!(
            "the other merchants received {others} wei, more than the {payments} payments \
             of {value} wei paid in all"
        );
        return out;
    };
    out.paid = paid;
    let (Some(h0), Some(h1)) = (base.held(), end.held()) else {
        out.detail = format!(
            "a chain was credited more than it settled (XS-S3): {}",
            describe(base, end)
        );
        return out;
    };
    let grew = h1.checked_sub(h0);
    out.held = grew == Some(paid);
    out.detail = if out.held {
        format!(
            "merchant credited {} wei on the merchant chain + {} wei left in proxies + {} wei \
             in transit (growth during the run) == {paid} wei paid to the merchant \
             ({payments} payments of {value} wei{})",
            out.credited,
            signed(base.proxies(), end.proxies()),
            signed(base.in_transit(), end.in_transit()),
            if others.is_zero() {
                String::new()
            } else {
                format!(", {others} wei of them to the other merchants")
            }
        )
    } else {
        format!(
            "conservation violated (XS-S2): the merchant's holdings (merchant balance + proxies + \
             in transit) went from {h0} to {h1} wei, but the run paid the merchant {paid} wei \
             ({payments} payments of {value} wei, {others} wei of them to other merchants); {}",
            describe(base, end)
        )
    };
    out
}

/// `end - base` with its sign.
fn signed(base: U256, end: U256) -> String {
    if end >= base {
        format!("{}", end - base)
    } else {
        format!("-{}", base - end)
    }
}

/// Every figure of both readings, chain by chain, for an error message.
fn describe(base: &Ledger, end: &Ledger) -> String {
    let mut s = format!(
        "merchant balance {} -> {}",
        base.merchant_balance, end.merchant_balance
    );
    for (b, e) in base.chains.iter().zip(&end.chains) {
        s.push_str(&format!(
            "; chain {}: proxy {} -> {}, settled {} -> {}, credited {} -> {}, others {} -> {}, \
             payer nonces {} -> {}",
            b.chain_id,
            b.proxy,
            e.proxy,
            b.settled,
            e.settled,
            b.credited,
            e.credited,
            b.others,
            e.others,
            b.payer_nonces,
            e.payer_nonces
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(id: u64, proxy: u64, settled: u64, credited: u64, nonces: u64) -> ChainLedger {
        ChainLedger {
            chain_id: id,
            proxy: U256::from(proxy),
            settled: U256::from(settled),
            credited: U256::from(credited),
            others: U256::ZERO,
            payer_nonces: nonces,
        }
    }

    fn ledger(merchant: u64, chains: Vec<ChainLedger>) -> Ledger {
        Ledger {
            merchant_balance: U256::from(merchant),
            chains,
        }
    }

    /// Before: chain 1 has 5 in its proxy and 10 in transit; 100 credited. The run pays 30
    /// on chain 1 and 12 on chain 2 (1 wei each); at the end everything is credited.
    #[test]
    fn a_settled_run_balances() {
        let base = ledger(100, vec![chain(1, 5, 110, 100, 7), chain(2, 0, 0, 0, 0)]);
        let end = ledger(
            157,
            vec![chain(1, 0, 145, 145, 37), chain(2, 0, 12, 12, 12)],
        );
        let c = check(&base, &end, U256::from(1));
        assert!(c.held, "{}", c.detail);
        assert_eq!(c.paid, U256::from(42));
        assert_eq!((c.payments, c.credited), (42, U256::from(57)));
        assert_eq!((c.proxies_end, c.in_transit_end), (U256::ZERO, U256::ZERO));
        assert!(c.detail.contains("42 wei paid"), "{}", c.detail);
    }

    /// Conservation holds mid-way too: a proxy or a record in transit still counts.
    #[test]
    fn proxies_and_records_in_transit_count() {
        let base = ledger(0, vec![chain(1, 0, 0, 0, 0)]);
        let end = ledger(20, vec![chain(1, 4, 26, 20, 30)]);
        let c = check(&base, &end, U256::from(1));
        assert!(c.held, "{}", c.detail);
        assert_eq!(
            (c.proxies_end, c.in_transit_end),
            (U256::from(4), U256::from(6))
        );
    }

    #[test]
    fn a_lost_or_doubled_credit_is_a_violation() {
        let base = ledger(0, vec![chain(1, 0, 0, 0, 0)]);
        // 30 paid and settled, 29 credited: one wei lost.
        let lost = ledger(29, vec![chain(1, 0, 30, 30, 30)]);
        let c = check(&base, &lost, U256::from(1));
        assert!(!c.held);
        assert!(c.detail.contains("conservation violated"), "{}", c.detail);
        assert!(c.detail.contains("chain 1: proxy 0 -> 0"), "{}", c.detail);
        // A record credited twice: the balance grew by more than the chain credited.
        let doubled = ledger(40, vec![chain(1, 0, 30, 30, 30)]);
        assert!(!check(&base, &doubled, U256::from(1)).held);
        // Credited more than settled (XS-S3).
        let over = ledger(31, vec![chain(1, 0, 30, 31, 30)]);
        let c = check(&base, &over, U256::from(1));
        assert!(!c.held && c.detail.contains("XS-S3"), "{}", c.detail);
    }

    #[test]
    fn payments_to_other_merchants_are_not_the_merchants() {
        let mut b = chain(1, 0, 0, 0, 100);
        b.others = U256::from(50);
        let mut e = chain(1, 0, 60, 60, 200);
        e.others = U256::from(90);
        // 100 payments of 2 wei: 40 wei to the others, 160 to the merchant... but only 60
        // arrived: a violation. With 60 + 40 = 100 payments of 1 wei it balances.
        let c = check(
            &ledger(0, vec![b.clone()]),
            &ledger(60, vec![e.clone()]),
            U256::from(2),
        );
        assert!(!c.held, "{}", c.detail);
        assert_eq!(c.paid, U256::from(160));
        let c = check(&ledger(0, vec![b]), &ledger(60, vec![e]), U256::from(1));
        assert!(c.held, "{}", c.detail);
        assert!(
            c.detail.contains("40 wei of them to the other merchants"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn mismatched_readings_are_refused() {
        let base = ledger(0, vec![chain(1, 0, 0, 0, 5)]);
        let other_chain = ledger(0, vec![chain(2, 0, 0, 0, 5)]);
        assert!(!check(&base, &other_chain, U256::from(1)).held);
        let nonce_back = ledger(0, vec![chain(1, 0, 0, 0, 4)]);
        assert!(!check(&base, &nonce_back, U256::from(1)).held);
    }
}
