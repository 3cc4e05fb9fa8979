//! `hf-account`: the whitepaper's high-frequency account scenario — U users pay M merchants,
//! the merchant chosen with a Zipf skew (a few merchants take most payments, so their
//! accounts are the hot spots).
//!
//! One instance serves one chain. Over several user chains with high-frequency accounts
//! ([`crate::settlement`]) each user chain gets its own instance (its share of the users, as
//! with groups) and pays the same merchants: merchant 0, the most popular, is the
//! high-frequency merchant, whose proxy on every user chain is its own address
//! ([`hf_merchant`], or the cluster's when loadgen attaches to one); the others are plain
//! accounts there. Users are funded lazily, in bulk, just before the first batch that uses
//! them is signed: a short run with U = 100,000 pays only for the users it touches.

use super::{
    fund, sign_parallel, zipf::mix, zipf::Zipf, Ctx, Payments, RoundRobin, SignedTx, Workload,
};
use crate::accounts::{self, Account};
use alloy_primitives::{Address, TxKind, U256};

/// Key seeds; merchants only receive, so their keys are never used to sign.
const USER_SEED: &str = "bcos-loadgen/hf-user";
const MERCHANT_SEED: &str = "bcos-loadgen/hf-merchant";
/// Wei each payment carries.
pub const PAYMENT_WEI: u64 = 1;

/// The high-frequency merchant of clusters loadgen starts (`bcos init --hf-merchant`):
/// merchant 0 of every hf-account instance.
pub fn hf_merchant() -> Address {
    accounts::derive(MERCHANT_SEED, 1)
        .first()
        .map_or(Address::ZERO, |a| a.address)
}

/// A set of accounts living on one chain (group).
pub struct Group {
    /// The chain (group id) the accounts live on; 1 = the single chain of today.
    pub chain: u32,
    pub accounts: Vec<Account>,
}

/// Where users and merchants live. Payment from a user group to the merchant group is a
/// plain transfer while both are on one chain; a cross-chain path plugs in here later.
pub struct Topology {
    pub user_groups: Vec<Group>,
    pub merchant_group: Group,
    pub zipf_exponent: f64,
}

impl Topology {
    /// One user group and the merchants on the same chain.
    pub fn single(users: usize, merchants: usize, zipf_exponent: f64) -> Topology {
        Topology {
            user_groups: vec![Group {
                chain: 1,
                accounts: accounts::derive(USER_SEED, users.max(1)),
            }],
            merchant_group: Group {
                chain: 1,
                accounts: accounts::derive(MERCHANT_SEED, merchants.max(1)),
            },
            zipf_exponent,
        }
    }

    /// Makes `merchant` merchant 0 (the most popular): the high-frequency merchant of a
    /// cluster loadgen did not start. Merchants only receive, so no key is needed.
    pub fn set_hf_merchant(&mut self, merchant: Address) {
        if let Some(m) = self.merchant_group.accounts.first_mut() {
            m.address = merchant;
        }
    }
}

pub struct HfAccount {
    /// Users of the first group (the only one today) take turns.
    users: RoundRobin,
    merchants: Vec<Address>,
    zipf: Zipf,
    /// Users `0..funded` have been funded.
    funded: usize,
    /// Sequence index of the first transaction of the last `sign` call.
    last_sign_start: u64,
}

impl HfAccount {
    pub fn new(mut topology: Topology) -> HfAccount {
        let zipf = Zipf::new(
            topology.merchant_group.accounts.len(),
            topology.zipf_exponent,
        );
        let merchants = topology
            .merchant_group
            .accounts
            .iter()
            .map(|a| a.address)
            .collect();
        let users = topology.user_groups.swap_remove(0).accounts;
        HfAccount {
            users: RoundRobin::new(users),
            merchants,
            zipf,
            funded: 0,
            last_sign_start: 0,
        }
    }
}

/// The merchant transaction `g` pays (Zipf over `merchants`, which is never empty).
fn payee_of(merchants: &[Address], zipf: &Zipf, g: u64) -> Address {
    merchants
        .get(zipf.sample(mix(g)))
        .or(merchants.first())
        .copied()
        .unwrap_or(Address::ZERO)
}

impl Workload for HfAccount {
    fn name(&self) -> &'static str {
        "hf-account"
    }

    fn prepare(&mut self, _ctx: &Ctx) -> anyhow::Result<()> {
        Ok(())
    }

    fn sign(&mut self, ctx: &Ctx, count: usize) -> anyhow::Result<Vec<SignedTx>> {
        let gs = self.users.take(count);
        self.last_sign_start = gs.start;
        let needed = self.users.used_by(gs.end);
        if needed > self.funded {
            crate::progress::note(&format!(
                "hf-account: funding users {}..{needed}",
                self.funded
            ));
            fund(ctx, &self.users.senders[self.funded..needed])?;
            self.users.load_nonces(&ctx.url, self.funded..needed)?;
            self.funded = needed;
        }
        let (users, merchants, zipf, fees) = (&self.users, &self.merchants, &self.zipf, ctx.fees);
        Ok(sign_parallel(gs, |g| {
            let (u, nonce) = users.slot(g);
            let to = payee_of(merchants, zipf, g);
            accounts::sign_call(
                &fees,
                &users.senders[u].key,
                nonce,
                TxKind::Call(to),
                U256::from(PAYMENT_WEI),
                accounts::TRANSFER_GAS,
                Vec::new(),
            )
        }))
    }

    fn resync(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        self.users.resync(&ctx.url, self.funded)
    }

    fn payee(&self, k: usize) -> Option<Address> {
        let g = self.last_sign_start + k as u64;
        Some(payee_of(&self.merchants, &self.zipf, g))
    }

    fn payments(&self) -> Option<Payments> {
        Some(Payments {
            payers: self.users.senders[..self.funded]
                .iter()
                .map(|a| a.address)
                .collect(),
            merchants: self.merchants.clone(),
            value: U256::from(PAYMENT_WEI),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_zero_is_the_high_frequency_merchant() {
        let t = Topology::single(3, 4, 1.0);
        assert_eq!(t.merchant_group.accounts[0].address, hf_merchant());
        let mut t = Topology::single(3, 4, 1.0);
        let other = Address::repeat_byte(7);
        t.set_hf_merchant(other);
        let w = HfAccount::new(t);
        assert_eq!(w.merchants[0], other);
        assert_eq!(w.merchants.len(), 4);
        // Merchant 0 is the most popular; transaction k of the last sign call pays payee(k).
        let zero = (0..1000).filter(|&k| w.payee(k) == Some(other)).count();
        assert!(zero > 1000 / 4, "{zero}");
        // Nothing funded yet: no payer.
        let p = w.payments().map(|p| (p.payers.len(), p.value));
        assert_eq!(p, Some((0, U256::from(PAYMENT_WEI))));
    }
}
