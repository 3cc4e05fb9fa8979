//! The genesis state and header (spec/execution.md §4, EXEC-G1, EXEC-G2).

use crate::config::ExecConfig;
use bcos_types::state::next_state_root;
use bcos_types::{Account, Address, Bloom, Bytes, Header, StateDiff, B256, U256};

/// The genesis allocation as a state diff: one account per address with its balance, nonce 0
/// and no code. An address listed twice gets the sum of its entries (saturating).
pub fn genesis_diff(alloc: &[(Address, U256)]) -> StateDiff {
    let mut diff = StateDiff::default();
    for (address, balance) in alloc {
        let entry = diff
            .accounts
            .entry(*address)
            .or_insert_with(|| Some(Account::default()));
        if let Some(acct) = entry {
            acct.balance = acct.balance.saturating_add(*balance);
        }
    }
    diff
}

/// Adds governance's genesis storage (GOV-R1) to `diff`: `0x…1008` with nonce 1, so that
/// EIP-161 never clears it as empty, and `slots`.
pub fn governance_genesis(diff: &mut StateDiff, slots: &[(U256, U256)]) {
    let address = bcos_types::governance::GOVERNANCE_ADDRESS;
    let entry = diff
        .accounts
        .entry(address)
        .or_insert_with(|| Some(Account::default()));
    if let Some(acct) = entry {
        acct.nonce = acct.nonce.max(1);
    }
    diff.storage
        .entry(address)
        .or_default()
        .extend(slots.iter().copied());
}

/// Header fields of a genesis block that the chain's configuration does not fix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenesisParams {
    pub timestamp: u64,
    /// The base fee of block 0, which block 1's base fee derives from.
    pub base_fee_per_gas: u64,
    pub extra_data: Bytes,
}

/// The genesis header: block 0, no parent, no transactions, and the state root of the
/// allocation: `next_state_root(0, 0, diff)`.
pub fn genesis_header(config: &ExecConfig, diff: &StateDiff, params: &GenesisParams) -> Header {
    Header {
        parent_hash: B256::ZERO,
        number: 0,
        timestamp: params.timestamp,
        gas_limit: config.block_gas_limit,
        gas_used: 0,
        base_fee_per_gas: params.base_fee_per_gas,
        beneficiary: Address::ZERO,
        tx_root: bcos_types::block::tx_root(&[]),
        receipts_root: bcos_types::block::receipts_root(&[]),
        state_root: next_state_root(&B256::ZERO, 0, diff),
        logs_bloom: Bloom::ZERO,
        extra_data: params.extra_data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_deterministic_and_commits_to_the_allocation() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        let d1 = genesis_diff(&[(a, U256::from(5)), (b, U256::from(7))]);
        let d2 = genesis_diff(&[(b, U256::from(7)), (a, U256::from(5))]);
        assert_eq!(d1, d2);
        let cfg = ExecConfig::default();
        let p = GenesisParams::default();
        let h = genesis_header(&cfg, &d1, &p);
        assert_eq!(h, genesis_header(&cfg, &d2, &p));
        assert_eq!(h.state_root, next_state_root(&B256::ZERO, 0, &d1));
        assert_eq!(h.tx_root, B256::ZERO);
        assert_eq!(h.gas_limit, cfg.block_gas_limit);
        let d3 = genesis_diff(&[(a, U256::from(6)), (b, U256::from(7))]);
        assert_ne!(genesis_header(&cfg, &d3, &p).state_root, h.state_root);
        let twice = genesis_diff(&[(a, U256::from(2)), (a, U256::from(3))]);
        assert_eq!(
            twice.accounts[&a],
            Some(Account::with_balance(U256::from(5)))
        );
    }
}
