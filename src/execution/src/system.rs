//! System contracts (spec/execution.md §6): contracts at reserved addresses whose code is
//! the node's, not EVM bytecode.
//!
//! A transaction to a system contract first runs in revm as a plain call to a code-less
//! account (it pays gas and bumps the nonce; value is refused beforehand). If that succeeds,
//! the contract's effect runs on the block's overlay through [`SystemState`], which stages
//! every write: an `Ok` commits the writes and its logs into the receipt, an `Err` is a
//! revert (status 0, no logs, nothing written beyond the gas). eth_call runs the same effect
//! and returns the error as the revert reason.

use crate::db::StateDb;
use crate::error::DbError;
use bcos_types::{Address, Bytes, Log, U256};
use revm::database::CacheDB;
use revm::state::{Account, AccountInfo, EvmState, EvmStorageSlot, TransactionId};
use revm::Database;
use std::collections::BTreeMap;

/// EXEC-R13's refusal of a value transfer to a system contract.
pub const NO_VALUE: &str = "a system contract takes no value";

/// What a system contract sees of the transaction calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemEnv {
    pub chain_id: u64,
    pub block: u64,
    pub caller: Address,
}

/// A contract implemented by the node. `call` must be deterministic: every replica runs it.
pub trait SystemContract: Send + Sync + std::fmt::Debug {
    fn address(&self) -> Address;
    /// Gas a call with `input` costs beyond the plain call revm charged (its calldata and
    /// the 21,000 base): what the contract's own work costs every replica, so a client
    /// cannot make each node verify signatures for the price of a transfer.
    fn gas(&self, input: &[u8]) -> u64 {
        let _ = input;
        0
    }
    /// The effect of a call with `input`: the logs it emits and the data it returns (what
    /// `eth_call` answers; a receipt keeps only the logs), or the revert reason.
    fn call(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
        input: &[u8],
    ) -> Result<SystemOutput, SystemError>;
    /// Runs before a block's first transaction, on the block's overlay (what governance's
    /// queued actions need, GOV-R5). `env.caller` is the zero address.
    fn begin_block(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
    ) -> Result<(), SystemError> {
        let _ = (state, env);
        Ok(())
    }
}

/// What a successful system call produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemOutput {
    pub logs: Vec<Log>,
    /// ABI-encoded return data.
    pub output: Bytes,
}

impl From<Vec<Log>> for SystemOutput {
    fn from(logs: Vec<Log>) -> Self {
        SystemOutput {
            logs,
            output: Bytes::new(),
        }
    }
}

/// Why a system call reverted, or could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The contract refused the call; the text is the revert reason.
    #[error("{0}")]
    Revert(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(Debug)]
struct Staged {
    info: AccountInfo,
    /// slot -> (value before this call, value now)
    slots: BTreeMap<U256, (U256, U256)>,
}

/// The overlay as a system contract sees it: reads go through, writes are staged.
pub struct SystemState<'a, 'db> {
    db: &'a mut CacheDB<StateDb<'db>>,
    staged: BTreeMap<Address, Staged>,
}

impl<'a, 'db> SystemState<'a, 'db> {
    pub(crate) fn new(db: &'a mut CacheDB<StateDb<'db>>) -> Self {
        SystemState {
            db,
            staged: BTreeMap::new(),
        }
    }

    fn staged(&mut self, address: Address) -> Result<&mut Staged, DbError> {
        if !self.staged.contains_key(&address) {
            let info = self.db.basic(address)?.unwrap_or_default();
            self.staged.insert(
                address,
                Staged {
                    info,
                    slots: BTreeMap::new(),
                },
            );
        }
        Ok(self.staged.get_mut(&address).expect("inserted above"))
    }

    pub fn balance(&mut self, address: Address) -> Result<U256, DbError> {
        Ok(self.staged(address)?.info.balance)
    }

    pub fn set_balance(&mut self, address: Address, balance: U256) -> Result<(), DbError> {
        self.staged(address)?.info.balance = balance;
        Ok(())
    }

    pub fn sload(&mut self, address: Address, slot: U256) -> Result<U256, DbError> {
        if let Some((_, now)) = self.staged(address)?.slots.get(&slot) {
            return Ok(*now);
        }
        self.db.storage(address, slot)
    }

    pub fn sstore(&mut self, address: Address, slot: U256, value: U256) -> Result<(), DbError> {
        let before = self.sload(address, slot)?;
        let staged = self.staged(address)?;
        // An account with storage must not be empty, or EIP-161 would delete it with its
        // storage; nonce 1 is what a contract gets at creation (EIP-161).
        if staged.info.nonce == 0 {
            staged.info.nonce = 1;
        }
        staged
            .slots
            .entry(slot)
            .and_modify(|(_, now)| *now = value)
            .or_insert((before, value));
        Ok(())
    }

    /// The staged writes as revm's state changes, to commit like a transaction's.
    pub(crate) fn into_changes(self) -> EvmState {
        let mut out = EvmState::default();
        for (address, staged) in self.staged {
            let mut account = Account::from(staged.info).with_touched_mark();
            for (slot, (before, now)) in staged.slots {
                account.storage.insert(
                    slot,
                    EvmStorageSlot::new_changed(before, now, TransactionId::ZERO),
                );
            }
            out.insert(address, account);
        }
        out
    }
}

/// The system contracts of one chain, by address.
#[derive(Debug, Default, Clone)]
pub struct SystemContracts {
    contracts: Vec<std::sync::Arc<dyn SystemContract>>,
}

impl SystemContracts {
    pub fn new(contracts: Vec<std::sync::Arc<dyn SystemContract>>) -> Self {
        SystemContracts { contracts }
    }

    pub fn get(&self, address: Option<Address>) -> Option<&dyn SystemContract> {
        let address = address?;
        self.contracts
            .iter()
            .find(|c| c.address() == address)
            .map(|c| c.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn SystemContract> {
        self.contracts.iter().map(|c| c.as_ref())
    }
}
