//! `hf-account`: the whitepaper's high-frequency account scenario — U users pay M merchants,
//! the merchant chosen with a Zipf skew (a few merchants take most payments, so their
//! accounts are the hot spots).
//!
//! The [`Topology`] names groups so that users can later be split over several user chains
//! (groups) paying into a separate merchant chain; today there is one user group and the
//! merchants live on the same chain. Users are funded lazily, in bulk, just before the first
//! batch that uses them is signed: a short run with U = 100,000 pays only for the users it
//! touches.

use super::{fund, sign_parallel, zipf::mix, zipf::Zipf, Ctx, RoundRobin, SignedTx, Workload};
use crate::accounts::{self, Account};
use alloy_primitives::{TxKind, U256};

/// Key seeds; merchants only receive, so their keys are never used to sign.
const USER_SEED: &str = "bcos-loadgen/hf-user";
const MERCHANT_SEED: &str = "bcos-loadgen/hf-merchant";

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
}

pub struct HfAccount {
    /// Users of the first group (the only one today) take turns.
    users: RoundRobin,
    merchants: Vec<alloy_primitives::Address>,
    zipf: Zipf,
    /// Users `0..funded` have been funded.
    funded: usize,
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
        }
    }
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
            let to = merchants[zipf.sample(mix(g))];
            accounts::sign_call(
                &fees,
                &users.senders[u].key,
                nonce,
                TxKind::Call(to),
                U256::from(1),
                accounts::TRANSFER_GAS,
                Vec::new(),
            )
        }))
    }

    fn resync(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        self.users.resync(&ctx.url, self.funded)
    }
}
