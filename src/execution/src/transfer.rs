//! Plain value transfers applied without revm's interpreter (spec/execution.md EXEC-R21).
//!
//! Most of a payment chain's transactions move value from one externally owned account to
//! another. For those, revm's handler (its journal, its frame, the transaction environment
//! it copies) costs more than the three balance updates it ends in. This module recognises a
//! transaction that revm would include and run to success with no code, computes the same
//! three accounts' new values, and hands them to the block's commit path as if revm had
//! returned them. Anything it is not sure of (a check revm would fail, an unusual account, an
//! overflow) is left to revm untouched, so the result is revm's in every case; the proptest
//! in `tests/direct_transfers.rs` compares whole blocks both ways.

use crate::db::StateDb;
use crate::error::DbError;
use crate::executor::BlockEnv;
use alloy_consensus::Transaction as _;
use bcos_types::{Address, RecoveredTx, KECCAK_EMPTY, U256};
use revm::context::CfgEnv;
use revm::context_interface::Cfg as _;
use revm::database::CacheDB;
use revm::precompile::Precompiles;
use revm::state::{Account as EvmAccount, AccountInfo};

/// Gas of a plain transfer under every fork of EXEC-R1: the intrinsic cost of a call with no
/// calldata and no access list, which is also its EIP-7623 floor. It refunds nothing.
pub(crate) const TRANSFER_GAS: u64 = 21_000;

/// Transaction types a plain transfer may have: legacy, EIP-2930 and EIP-1559.
const TYPES_DIRECT: [u8; 3] = [0, 1, 2];

/// The accounts a plain transfer writes (sender, recipient, beneficiary; fewer where they
/// coincide), each touched, as revm's state output would hold them.
pub(crate) type TransferChanges = Vec<(Address, EvmAccount)>;

/// The parts of the block's configuration the checks need, fixed for a block.
pub(crate) struct TransferRules<'a> {
    pub(crate) cfg: &'a CfgEnv,
    pub(crate) env: &'a BlockEnv,
    pub(crate) precompiles: &'a Precompiles,
}

impl TransferRules<'_> {
    /// Whether `tx` has the shape of a plain transfer that passes revm's stateless checks
    /// (EXEC-R2, the fee rules of EXEC-R6 2, the gas caps); returns its effective gas price.
    fn admits(&self, tx: &RecoveredTx) -> Option<(Address, u128)> {
        let envelope = tx.envelope();
        if !TYPES_DIRECT.contains(&tx.tx_type())
            || !tx.input().is_empty()
            || envelope.access_list().is_some_and(|list| !list.is_empty())
        {
            return None;
        }
        let to = tx.to()?;
        if self.precompiles.contains(&to) {
            return None;
        }
        if tx.chain_id().is_some_and(|id| id != self.cfg.chain_id()) {
            return None;
        }
        let gas_limit = tx.gas_limit();
        if gas_limit < TRANSFER_GAS
            || gas_limit > self.cfg.tx_gas_limit_cap()
            || gas_limit > self.env.gas_limit
            || tx.nonce() == u64::MAX
        {
            return None;
        }
        let base_fee = u128::from(self.env.base_fee);
        let max_fee = tx.max_fee_per_gas();
        if max_fee < base_fee {
            return None;
        }
        if tx
            .max_priority_fee_per_gas()
            .is_some_and(|tip| tip > max_fee)
        {
            return None;
        }
        Some((to, tx.effective_gas_price(self.env.base_fee)))
    }

    /// The changes revm would commit for `tx` if it is a plain transfer that succeeds at this
    /// point of the block, or None (nothing read is changed) to let revm run it.
    pub(crate) fn apply(
        &self,
        db: &mut CacheDB<StateDb<'_>>,
        tx: &RecoveredTx,
    ) -> Result<Option<TransferChanges>, DbError> {
        let Some((to, price)) = self.admits(tx) else {
            return Ok(None);
        };
        // revm's balance check: gas_limit × max_fee + value, the product in u128.
        let Some(max_cost) = u128::from(tx.gas_limit())
            .checked_mul(tx.max_fee_per_gas())
            .and_then(|gas| U256::from(gas).checked_add(tx.value()))
        else {
            return Ok(None);
        };
        let mut accounts = Accounts::default();
        let sender = accounts.load(db, tx.sender)?;
        let info = &accounts.0[sender].1;
        // EIP-3607 (delegated senders are left to revm), the nonce, the balance.
        if info.code_hash != KECCAK_EMPTY || info.nonce != tx.nonce() || info.balance < max_cost {
            return Ok(None);
        }
        let recipient = accounts.load(db, to)?;
        if accounts.0[recipient].1.code_hash != KECCAK_EMPTY {
            return Ok(None);
        }
        let beneficiary = accounts.load(db, self.env.beneficiary)?;

        // The order of revm's handler, so that coinciding accounts end as they would there.
        let value = tx.value();
        let fee = U256::from(price.saturating_mul(u128::from(TRANSFER_GAS)));
        let sender_info = &mut accounts.0[sender].1;
        // Both hold: the balance covers gas_limit × max_fee + value, and the nonce is not MAX.
        let Some(balance) = sender_info.balance.checked_sub(fee + value) else {
            return Ok(None);
        };
        sender_info.balance = balance;
        sender_info.nonce = sender_info.nonce.saturating_add(1);
        let credited = &mut accounts.0[recipient].1;
        let Some(balance) = credited.balance.checked_add(value) else {
            // revm fails the call (OverflowPayment): a failed receipt, left to revm.
            return Ok(None);
        };
        credited.balance = balance;
        let tip = price.saturating_sub(u128::from(self.env.base_fee));
        let reward = U256::from(tip.saturating_mul(u128::from(TRANSFER_GAS)));
        let paid = &mut accounts.0[beneficiary].1;
        // As revm's credit: on overflow the balance stays, the account is still touched.
        if let Some(balance) = paid.balance.checked_add(reward) {
            paid.balance = balance;
        }
        Ok(Some(accounts.into_changes()))
    }
}

/// Up to three distinct accounts, loaded through the block's overlay (so the change tracker
/// finds their pre-block values there, as after revm's loads).
#[derive(Default)]
struct Accounts(Vec<(Address, AccountInfo)>);

impl Accounts {
    fn load(&mut self, db: &mut CacheDB<StateDb<'_>>, address: Address) -> Result<usize, DbError> {
        if let Some(at) = self.0.iter().position(|(a, _)| *a == address) {
            return Ok(at);
        }
        let info = db.load_account(address)?.info().unwrap_or_default();
        self.0.push((address, info));
        Ok(self.0.len() - 1)
    }

    fn into_changes(self) -> TransferChanges {
        self.0
            .into_iter()
            .map(|(address, info)| {
                // Not `From<AccountInfo>`: it boxes a copy of the info for block access lists.
                let mut account = EvmAccount::default();
                account.info = info;
                account.mark_touch();
                (address, account)
            })
            .collect()
    }
}
