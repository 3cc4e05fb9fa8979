//! The simulated users: the dev accounts sign real transactions (transfers, deployments of
//! a tiny counter contract, calls to it) for one group's chain, submit each to a random
//! live member of that group, and resubmit whatever has no receipt after a while, as a
//! wallet would: to the node it first went to while that node is up (which answers
//! "already known" while its pool holds it), to another live member only while that node
//! is down (`--resubmit other`: a random live member each time;
//! [`crate::config::Resubmit`]). A transaction is acknowledged when some node announces a
//! committed block holding it (its receipt is visible): that is the promise the durability
//! checker holds the nodes to.

use crate::rng::SimRng;
use alloy_consensus::TxEip1559;
use bcos_types::{Address, Bytes, CommittedBlock, Tx, TxKind, B256, U256};
use secp256k1::SecretKey;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Unacknowledged transactions one account has out at most (it waits for receipts before
/// signing more, so nonce gaps stay short).
pub const PENDING_PER_ACCOUNT_MAX: usize = 4;
/// A transaction without a receipt this long after it was last sent is sent again.
pub const RESUBMIT_AFTER_MS: u64 = 2_000;
/// Share (percent) of a paying client's transactions that pay the merchant.
pub const PAY_PERCENT: u64 = 50;
/// How often the client looks for transactions to resubmit.
pub const RETRY_INTERVAL_MS: u64 = 250;

/// Runtime code `counter += 1` (slot 0) and the init code that deploys it.
const COUNTER_RUNTIME: [u8; 10] = [0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x60, 0x00, 0x55, 0x00];
const COUNTER_INIT_PREFIX: [u8; 12] = [
    0x60, 0x0a, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x0a, 0x60, 0x00, 0xf3,
];

pub fn counter_init_code() -> Vec<u8> {
    let mut code = COUNTER_INIT_PREFIX.to_vec();
    code.extend_from_slice(&COUNTER_RUNTIME);
    code
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKindSim {
    Transfer,
    Deploy,
    Call,
    /// A payment to the merchant's proxy account (a settlement run's user chain).
    Pay,
    /// A governance proposal by the committee (account 0; membership-change runs).
    Govern,
}

pub struct TxRecord {
    pub tx: Arc<Tx>,
    pub raw: Bytes,
    pub account: usize,
    pub kind: TxKindSim,
    pub created_ms: u64,
    pub last_sent_ms: u64,
    pub sends: u32,
    /// The node it was first sent to (the wallet's endpoint), once one was up.
    pub first_node: Option<u32>,
    /// (virtual time, node that first announced it, height).
    pub acked: Option<(u64, u32, u64)>,
}

struct Account {
    key: SecretKey,
    address: Address,
    next_nonce: u64,
    pending: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientStats {
    pub created: u64,
    pub acked: u64,
    pub resubmissions: u64,
    /// Resubmissions to the node the transaction first went to.
    pub resubmissions_same_node: u64,
    /// Of those, the ones that node refused (it held the transaction: "already known").
    pub refused_same_node: u64,
    pub deploys: u64,
    pub calls: u64,
    /// Submissions a node refused (already known, nonce too low after a commit, ...).
    pub refused: u64,
    /// Submissions that found no live node.
    pub no_node: u64,
    /// Payments to the merchant signed (settlement runs' user chains).
    pub payments: u64,
    /// Governance proposals signed (membership-change runs).
    pub proposals: u64,
}

impl ClientStats {
    /// Adds another group's figures (the run's totals).
    pub fn add(&mut self, o: &ClientStats) {
        self.created += o.created;
        self.acked += o.acked;
        self.resubmissions += o.resubmissions;
        self.resubmissions_same_node += o.resubmissions_same_node;
        self.refused_same_node += o.refused_same_node;
        self.deploys += o.deploys;
        self.calls += o.calls;
        self.refused += o.refused;
        self.no_node += o.no_node;
        self.payments += o.payments;
        self.proposals += o.proposals;
    }
}

/// The users of one chain (one per group: nonces, contracts and the chain id in every
/// signature are the chain's own).
pub struct Client {
    accounts: Vec<Account>,
    pub txs: BTreeMap<B256, TxRecord>,
    contracts: Vec<Address>,
    chain_id: u64,
    base_fee: u64,
    /// The merchant this chain's users pay (a settlement run's user chain), if any.
    merchant: Option<Address>,
    pub stats: ClientStats,
}

impl Client {
    pub fn new(keys: &[SecretKey], chain_id: u64, base_fee: u64) -> Self {
        Client {
            accounts: keys
                .iter()
                .map(|k| Account {
                    key: *k,
                    address: bcos_crypto::address_of(k),
                    next_nonce: 0,
                    pending: 0,
                })
                .collect(),
            txs: BTreeMap::new(),
            contracts: Vec::new(),
            chain_id,
            base_fee,
            merchant: None,
            stats: ClientStats::default(),
        }
    }

    /// These users also pay `merchant` (its proxy account on this user chain): a share of
    /// the transfers become payments ([`PAY_PERCENT`]). A client without a merchant draws
    /// exactly as before, so other runs replay unchanged.
    pub fn paying(mut self, merchant: Address) -> Self {
        self.merchant = Some(merchant);
        self
    }

    /// Transactions still without a receipt.
    pub fn pending(&self) -> u64 {
        self.stats.created - self.stats.acked
    }

    /// Signs a new transaction from an account with room; `None` when all are waiting.
    pub fn create(&mut self, rng: &mut SimRng, now: u64) -> Option<B256> {
        let free: Vec<usize> = (0..self.accounts.len())
            .filter(|i| self.accounts[*i].pending < PENDING_PER_ACCOUNT_MAX)
            .collect();
        let &account = rng.pick(&free)?;
        let roll = rng.below(100);
        let kind = if roll < 5 {
            TxKindSim::Deploy
        } else if roll < 20 && !self.contracts.is_empty() {
            TxKindSim::Call
        } else if self.merchant.is_some() && roll >= 100 - PAY_PERCENT {
            TxKindSim::Pay
        } else {
            TxKindSim::Transfer
        };
        let a = &self.accounts[account];
        let (to, input, gas_limit, value) = match kind {
            TxKindSim::Deploy => (TxKind::Create, counter_init_code(), 200_000, 0),
            TxKindSim::Call => {
                let c = *rng.pick(&self.contracts)?;
                (TxKind::Call(c), Vec::new(), 100_000, 0)
            }
            TxKindSim::Pay => (
                TxKind::Call(self.merchant?),
                Vec::new(),
                21_000,
                rng.between(1, 1_000_000),
            ),
            // Never drawn: proposals come from `propose`.
            TxKindSim::Govern => return None,
            TxKindSim::Transfer => {
                let to = if rng.chance(0.5) {
                    self.accounts[rng.below(self.accounts.len() as u64) as usize].address
                } else {
                    Address::from_word(B256::from(rng.bytes32()))
                };
                (
                    TxKind::Call(to),
                    Vec::new(),
                    21_000,
                    rng.between(1, 1_000_000),
                )
            }
        };
        let unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: a.next_nonce,
            gas_limit,
            max_fee_per_gas: u128::from(self.base_fee) * 2,
            max_priority_fee_per_gas: 1,
            to,
            value: U256::from(value),
            input: input.into(),
            ..Default::default()
        };
        let tx = Arc::new(Tx::from_envelope(bcos_crypto::sign_tx(unsigned, &a.key)));
        if kind == TxKindSim::Deploy {
            // Calls may reach it before it exists: they then run as empty calls.
            self.contracts.push(a.address.create(a.next_nonce));
            self.stats.deploys += 1;
        }
        if kind == TxKindSim::Call {
            self.stats.calls += 1;
        }
        if kind == TxKindSim::Pay {
            self.stats.payments += 1;
        }
        let hash = tx.hash();
        let a = &mut self.accounts[account];
        a.next_nonce += 1;
        a.pending += 1;
        self.stats.created += 1;
        self.txs.insert(
            hash,
            TxRecord {
                raw: Bytes::from(tx.encoded()),
                tx,
                account,
                kind,
                created_ms: now,
                last_sent_ms: now,
                sends: 0,
                first_node: None,
                acked: None,
            },
        );
        Some(hash)
    }

    /// Signs a governance proposal of `action` by account 0, the dev chain's committee
    /// (spec/governance.md GOV-R1), so it passes at once; draws nothing from the run's RNG.
    pub fn propose(&mut self, action: Vec<u8>, now: u64) -> B256 {
        use alloy_sol_types::SolCall;
        use bcos_types::governance::{IGovernance, GOVERNANCE_ADDRESS};
        let input = IGovernance::proposeCall {
            action: action.into(),
        }
        .abi_encode();
        let a = &self.accounts[0];
        let unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: a.next_nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: u128::from(self.base_fee) * 2,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(GOVERNANCE_ADDRESS),
            value: U256::ZERO,
            input: input.into(),
            ..Default::default()
        };
        let tx = Arc::new(Tx::from_envelope(bcos_crypto::sign_tx(unsigned, &a.key)));
        let hash = tx.hash();
        let a = &mut self.accounts[0];
        a.next_nonce += 1;
        a.pending += 1;
        self.stats.created += 1;
        self.stats.proposals += 1;
        self.txs.insert(
            hash,
            TxRecord {
                raw: Bytes::from(tx.encoded()),
                tx,
                account: 0,
                kind: TxKindSim::Govern,
                created_ms: now,
                last_sent_ms: now,
                sends: 0,
                first_node: None,
                acked: None,
            },
        );
        hash
    }

    /// Transactions to send again now (oldest first: lower nonces unblock later ones).
    pub fn due(&self, now: u64) -> Vec<B256> {
        let mut due: Vec<(u64, B256)> = self
            .txs
            .iter()
            .filter(|(_, r)| r.acked.is_none() && now >= r.last_sent_ms + RESUBMIT_AFTER_MS)
            .map(|(h, r)| (r.created_ms, *h))
            .collect();
        due.sort();
        due.into_iter().map(|(_, h)| h).collect()
    }

    pub fn sent(&mut self, hash: &B256, now: u64) {
        if let Some(r) = self.txs.get_mut(hash) {
            if r.sends > 0 {
                self.stats.resubmissions += 1;
            }
            r.sends += 1;
            r.last_sent_ms = now;
        }
    }

    /// A node announced `block`: its transactions have receipts.
    pub fn on_block(&mut self, node: u32, block: &CommittedBlock, now: u64) {
        for tx in &block.block.block.txs {
            let Some(r) = self.txs.get_mut(&tx.hash()) else {
                continue;
            };
            if r.acked.is_none() {
                r.acked = Some((now, node, block.number()));
                self.stats.acked += 1;
                if let Some(a) = self.accounts.get_mut(r.account) {
                    a.pending = a.pending.saturating_sub(1);
                }
            }
        }
    }

    /// Virtual ms from creation to the first receipt, over acknowledged transactions.
    pub fn latencies_ms(&self) -> Vec<u64> {
        self.txs
            .values()
            .filter_map(|r| r.acked.map(|(t, _, _)| t - r.created_ms))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_init_code_returns_the_runtime() {
        let code = counter_init_code();
        // PUSH1 len PUSH1 offset ... : the runtime starts where the prefix says.
        assert_eq!(code[1] as usize, COUNTER_RUNTIME.len());
        assert_eq!(code[3] as usize, COUNTER_INIT_PREFIX.len());
        assert_eq!(&code[COUNTER_INIT_PREFIX.len()..], &COUNTER_RUNTIME);
    }
}
