//! The commit-time check of a speculative run (EXEC-R18) and the two adjustments that make
//! its changes those of the serial run: the overlay learns what the run read (as it would
//! have loaded it), and the beneficiary gets the held-back fee (EXEC-R19).

use super::readset::ReadSet;
use crate::db::{account_info, StateDb};
use crate::error::DbError;
use bcos_types::{Account, Address, U256};
use revm::database::{AccountState, CacheDB, DbAccount};
use revm::state::{Account as EvmAccount, AccountInfo, TransactionId};
use revm::Database;

type Overlay<'a> = CacheDB<StateDb<'a>>;

/// Whether the overlay (the state at the transaction's turn) still holds every value the
/// speculative run read. Anything the overlay has not cached was neither written nor read
/// in the block so far, so it still has its committed value, which is what the run read.
pub(crate) fn reads_hold(reads: &ReadSet, db: &Overlay<'_>) -> bool {
    let accounts = reads.accounts.iter().all(|(address, read)| {
        db.cache
            .accounts
            .get(address)
            .is_none_or(|now| same_account(now.info().as_ref(), read.as_ref()))
    });
    accounts
        && reads.slots.iter().all(|(address, slot, value)| {
            let Some(now) = db.cache.accounts.get(address) else {
                return true;
            };
            match now.storage.get(slot) {
                Some(v) => v == value,
                // As `CacheDB::storage` answers: zero after a wipe or for a missing account,
                // else the committed value (read by the run, and unchanged since).
                None => {
                    !matches!(
                        now.account_state,
                        AccountState::StorageCleared | AccountState::NotExisting
                    ) || value.is_zero()
                }
            }
        })
}

/// Equal as revm sees an account: existence, nonce, balance, code hash. An account that
/// exists but is empty is not the same as a missing one (gas and EIP-161 tell them apart).
fn same_account(now: Option<&AccountInfo>, read: Option<&Account>) -> bool {
    match (now, read) {
        (None, None) => true,
        (Some(now), Some(read)) => {
            let read = account_info(read);
            now.nonce == read.nonce
                && now.balance == read.balance
                && now.code_hash == read.code_hash
        }
        _ => false,
    }
}

/// Caches in the overlay each account the run read, as `CacheDB::load_account` would have
/// when the serial run loaded it (the diff tracker then finds the pre-block value there).
pub(crate) fn learn_reads(reads: &ReadSet, db: &mut Overlay<'_>) {
    for (address, read) in &reads.accounts {
        db.cache.accounts.entry(*address).or_insert_with(|| {
            read.as_ref()
                .map(|a| DbAccount {
                    info: account_info(a),
                    ..Default::default()
                })
                .unwrap_or_else(DbAccount::new_not_existing)
        });
    }
}

/// The beneficiary's change for a held-back fee, as revm's `reward_beneficiary` would have
/// made it at the transaction's turn: the beneficiary as the overlay holds it, touched, its
/// balance raised by `fee` (left as it is on overflow, like revm's `incr_balance`). The run
/// never loaded the beneficiary, or revm would have paid it (speculate.rs), so this is the
/// run's only change to it.
pub(crate) fn blind_fee_credit(
    db: &mut Overlay<'_>,
    beneficiary: Address,
    fee: U256,
) -> Result<EvmAccount, DbError> {
    // Built field by field: `Account::from(info)` would also box a copy of the info,
    // which neither the overlay nor the diff tracker reads.
    let mut account = match db.basic(beneficiary)? {
        Some(info) => {
            let mut account = EvmAccount::default();
            account.info = info;
            account
        }
        None => EvmAccount::new_not_existing(TransactionId::ZERO),
    };
    account.mark_touch();
    if let Some(balance) = account.info.balance.checked_add(fee) {
        account.info.balance = balance;
    }
    Ok(account)
}
