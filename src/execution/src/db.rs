//! The state adapter: revm reads committed state through a `&dyn StateReader`
//! (spec/execution.md EXEC-R4, EXEC-R5). Within a block, a `CacheDB` overlay on top of this
//! adapter chains the transactions; nothing is written back to storage here.

use crate::error::DbError;
use bcos_storage::StateReader;
use bcos_types::{Account, Address, B256, KECCAK_EMPTY, U256};
use revm::bytecode::Bytecode;
use revm::database::{AccountState, CacheDB};
use revm::state::AccountInfo;
use revm::DatabaseRef;
use std::collections::HashMap;
use std::sync::Mutex;

/// Analysed contract code, shared across blocks and calls. Code is immutable per hash, so a
/// cached entry never goes stale; the cache is simply emptied when it fills up.
#[derive(Debug)]
pub(crate) struct CodeCache {
    entries: Mutex<HashMap<B256, Bytecode>>,
    entries_max: usize,
}

impl CodeCache {
    pub(crate) fn new(entries_max: usize) -> Self {
        CodeCache {
            entries: Mutex::new(HashMap::new()),
            entries_max,
        }
    }

    fn get(&self, hash: &B256) -> Option<Bytecode> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(hash).cloned()
    }

    fn insert(&self, hash: B256, code: Bytecode) {
        if self.entries_max == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.entries_max {
            entries.clear();
        }
        entries.insert(hash, code);
    }
}

/// `DatabaseRef` over the latest committed state.
pub(crate) struct StateDb<'a> {
    reader: &'a dyn StateReader,
    codes: &'a CodeCache,
}

impl<'a> StateDb<'a> {
    pub(crate) fn new(reader: &'a dyn StateReader, codes: &'a CodeCache) -> Self {
        StateDb { reader, codes }
    }
}

pub(crate) fn account_info(a: &Account) -> AccountInfo {
    let mut info = AccountInfo::default()
        .with_balance(a.balance)
        .with_nonce(a.nonce);
    // A zero hash is how some stores spell "no code"; revm wants KECCAK_EMPTY.
    info.code_hash = if a.code_hash == B256::ZERO {
        KECCAK_EMPTY
    } else {
        a.code_hash
    };
    // Code is fetched lazily through `code_by_hash_ref` (and then cached by hash).
    info.code = if info.code_hash == KECCAK_EMPTY {
        Some(Bytecode::default())
    } else {
        None
    };
    info
}

impl DatabaseRef for StateDb<'_> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(self.reader.account(&address)?.map(|a| account_info(&a)))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK_EMPTY || code_hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code);
        }
        let Some(raw) = self.reader.code(&code_hash)? else {
            // An account points at code the store does not hold: the state is corrupt.
            return Err(DbError(bcos_storage::StorageError::Corrupt(format!(
                "missing code {code_hash}"
            ))));
        };
        // new_legacy never panics; EIP-7702 delegations cannot be deployed on this chain.
        let code = Bytecode::new_legacy(raw);
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self.reader.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        Ok(self.reader.recent_block_hash(number)?.unwrap_or_default())
    }
}

/// What `CacheDB::commit` does with one account of a transaction's changes, reading the
/// account instead of taking it: the overlay gets copies of its info and slot values.
pub(crate) fn commit_copy(
    db: &mut CacheDB<StateDb<'_>>,
    address: Address,
    account: &revm::state::Account,
) {
    if !account.is_touched() {
        return;
    }
    if account.is_selfdestructed() {
        let db_account = db.cache.accounts.entry(address).or_default();
        db_account.storage.clear();
        db_account.account_state = AccountState::NotExisting;
        db_account.info = AccountInfo::default();
        return;
    }
    let mut info = account.info.clone();
    db.insert_contract(&mut info);
    let db_account = db.cache.accounts.entry(address).or_default();
    db_account.info = info;
    db_account.account_state = if account.is_created() {
        db_account.storage.clear();
        AccountState::StorageCleared
    } else if db_account.account_state.is_storage_cleared() {
        AccountState::StorageCleared
    } else {
        AccountState::Touched
    };
    db_account.storage.extend(
        account
            .storage
            .iter()
            .map(|(slot, value)| (*slot, value.present_value())),
    );
}
