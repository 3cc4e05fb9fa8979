//! What a speculative run read (spec/execution.md EXEC-R18).
//!
//! A speculative run reads the committed state (the state after the parent block) through
//! [`RecordingDb`], which remembers every account and slot value it handed to revm. The
//! run's outcome is a deterministic function of those values (plus the transaction and the
//! block environment), so if each one equals what the in-block overlay holds at the
//! transaction's turn, serial execution would read the same values and produce the same
//! outcome. Code (immutable per hash) and block hashes (fixed for the block) need no record.

use crate::db::{account_info, StateDb};
use crate::error::DbError;
use alloy_primitives::map::B256Map;
use alloy_primitives::Bytes;
use bcos_storage::StateReader;
use bcos_types::{Account, Address, B256, U256};
use revm::bytecode::Bytecode;
use revm::state::AccountInfo;
use revm::{Database, DatabaseRef};

/// The values one speculative run read, in read order.
#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    /// Each account as the store returned it (None: it did not exist).
    pub(crate) accounts: Vec<(Address, Option<Account>)>,
    /// (account, slot, value).
    pub(crate) slots: Vec<(Address, U256, U256)>,
}

/// revm's database for speculative runs: the committed state, every read recorded.
pub(crate) struct RecordingDb<'a> {
    reader: &'a dyn StateReader,
    /// For code and block hashes, with the executor's shared code cache behind it.
    state: StateDb<'a>,
    /// This thread's analysed code: a block calls the same few contracts again and again,
    /// and the shared cache takes a lock per lookup. The copies are this thread's own:
    /// revm clones a contract's code for every call, and clones shared with the committing
    /// thread would bounce the reference count's cache line between the cores.
    codes: B256Map<Bytecode>,
    pub(crate) reads: ReadSet,
}

impl<'a> RecordingDb<'a> {
    pub(crate) fn new(reader: &'a dyn StateReader, state: StateDb<'a>) -> Self {
        RecordingDb {
            reader,
            state,
            codes: B256Map::default(),
            reads: ReadSet::default(),
        }
    }

    /// Whether this run found `address` missing: the overlay (`CacheDB`) answers zero for
    /// every slot of an account it loaded as missing, without asking the store, so the
    /// speculative run must do the same to read what the serial run reads.
    fn known_missing(&self, address: &Address) -> bool {
        self.reads
            .accounts
            .iter()
            .rev()
            .find(|(a, _)| a == address)
            .is_some_and(|(_, acct)| acct.is_none())
    }
}

impl Database for RecordingDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let account = self.reader.account(&address)?;
        let info = account.as_ref().map(account_info);
        self.reads.accounts.push((address, account));
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        let shared = self.state.code_by_hash_ref(code_hash)?;
        let code = if shared.is_empty() {
            shared
        } else {
            // As `StateDb` builds it (a legacy analysis), from a private copy of the bytes.
            Bytecode::new_legacy(Bytes::copy_from_slice(shared.original_byte_slice()))
        };
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        let value = if self.known_missing(&address) {
            U256::ZERO
        } else {
            self.reader.storage(&address, &index)?
        };
        self.reads.slots.push((address, index, value));
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        self.state.block_hash_ref(number)
    }
}
