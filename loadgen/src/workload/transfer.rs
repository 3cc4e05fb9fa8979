//! `transfer`: ETH transfers among A accounts; each sender pays a uniformly chosen other
//! account 1 wei.

use super::{fund, sign_parallel, zipf::mix, Ctx, RoundRobin, SignedTx, Workload};
use crate::accounts;
use alloy_primitives::{TxKind, U256};

/// Key seed of the transfer accounts.
const SEED: &str = "bcos-loadgen/transfer";

pub struct Transfer {
    rr: RoundRobin,
}

impl Transfer {
    pub fn new(accounts: usize) -> Transfer {
        Transfer {
            rr: RoundRobin::new(accounts::derive(SEED, accounts.max(2))),
        }
    }
}

impl Workload for Transfer {
    fn name(&self) -> &'static str {
        "transfer"
    }

    fn prepare(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        fund(ctx, &self.rr.senders)?;
        let n = self.rr.senders.len();
        self.rr.resync(&ctx.url, n)
    }

    fn sign(&mut self, ctx: &Ctx, count: usize) -> anyhow::Result<Vec<SignedTx>> {
        let gs = self.rr.take(count);
        let (rr, fees) = (&self.rr, ctx.fees);
        let n = rr.senders.len() as u64;
        Ok(sign_parallel(gs, |g| {
            let (s, nonce) = rr.slot(g);
            // Any account but the sender itself, uniformly.
            let to = (s as u64 + 1 + mix(g) % (n - 1)) % n;
            let to = rr.senders[to as usize].address;
            accounts::sign_call(
                &fees,
                &rr.senders[s].key,
                nonce,
                TxKind::Call(to),
                U256::from(1),
                accounts::TRANSFER_GAS,
                Vec::new(),
            )
        }))
    }

    fn resync(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let n = self.rr.senders.len();
        self.rr.resync(&ctx.url, n)
    }
}
