//! Where the CNS keeps what (spec/execution.md §7.2): every entry at a slot of the contract's
//! own storage named by keccak256("cns." ‖ tag ‖ each part with its length), so entries of
//! different names, versions or tags never share a slot. A string is kept as Solidity keeps
//! a long one: its length at the entry's slot, its bytes in 32-byte words at the slots
//! after it.

use crate::error::DbError;
use crate::system::SystemState;
use alloy_primitives::{Address, U256};
use bcos_types::cns::{CNS_ABI_BYTES_MAX, CNS_ADDRESS};

fn slot(tag: &str, parts: &[&[u8]]) -> U256 {
    crate::system_abi::named_slot(b"cns.", tag, parts)
}

/// The route of a name: (stable version, canary version, canary permille).
pub(crate) type Route = (String, String, u16);

/// The CNS's storage, read and written through the block's overlay.
pub(crate) struct Store<'s, 'a, 'db> {
    state: &'s mut SystemState<'a, 'db>,
}

impl<'s, 'a, 'db> Store<'s, 'a, 'db> {
    pub(crate) fn new(state: &'s mut SystemState<'a, 'db>) -> Self {
        Store { state }
    }

    fn word(&mut self, at: U256) -> Result<U256, DbError> {
        self.state.sload(CNS_ADDRESS, at)
    }

    fn set_word(&mut self, at: U256, value: U256) -> Result<(), DbError> {
        self.state.sstore(CNS_ADDRESS, at, value)
    }

    fn count(&mut self, at: U256) -> Result<u64, DbError> {
        // Written by this contract only, from u64 counts.
        Ok(u64::try_from(self.word(at)?).unwrap_or(u64::MAX))
    }

    fn address(&mut self, at: U256) -> Result<Address, DbError> {
        Ok(Address::from_word(self.word(at)?.into()))
    }

    fn set_address(&mut self, at: U256, address: Address) -> Result<(), DbError> {
        self.set_word(at, U256::from_be_slice(address.as_slice()))
    }

    fn string(&mut self, base: U256) -> Result<String, DbError> {
        // Only this contract writes these, within the limits.
        let state = &mut *self.state;
        let bytes = crate::system_abi::read_bytes(
            |at| state.sload(CNS_ADDRESS, at),
            base,
            CNS_ABI_BYTES_MAX,
        )?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn set_string(&mut self, base: U256, text: &str) -> Result<(), DbError> {
        let state = &mut *self.state;
        crate::system_abi::write_bytes(
            |at, v| state.sstore(CNS_ADDRESS, at, v),
            base,
            text.as_bytes(),
        )
    }

    /// The owner of `name`; zero while nobody registered it.
    pub(crate) fn owner(&mut self, name: &str) -> Result<Address, DbError> {
        self.address(slot("owner", &[name.as_bytes()]))
    }

    pub(crate) fn set_owner(&mut self, name: &str, owner: Address) -> Result<(), DbError> {
        self.set_address(slot("owner", &[name.as_bytes()]), owner)
    }

    /// The address `version` of `name` was registered at; zero if it was not.
    pub(crate) fn addr(&mut self, name: &str, version: &str) -> Result<Address, DbError> {
        self.address(slot("addr", &[name.as_bytes(), version.as_bytes()]))
    }

    pub(crate) fn abi(&mut self, name: &str, version: &str) -> Result<String, DbError> {
        self.string(slot("abi", &[name.as_bytes(), version.as_bytes()]))
    }

    pub(crate) fn version_count(&mut self, name: &str) -> Result<u64, DbError> {
        self.count(slot("versions", &[name.as_bytes()]))
    }

    pub(crate) fn version_at(&mut self, name: &str, index: u64) -> Result<String, DbError> {
        self.string(slot("version", &[name.as_bytes(), &index.to_be_bytes()]))
    }

    /// Appends `version` of `name` at `addr`, with its ABI.
    pub(crate) fn add_version(
        &mut self,
        name: &str,
        version: &str,
        addr: Address,
        abi: &str,
    ) -> Result<(), DbError> {
        let index = self.version_count(name)?;
        self.set_string(
            slot("version", &[name.as_bytes(), &index.to_be_bytes()]),
            version,
        )?;
        self.set_word(
            slot("versions", &[name.as_bytes()]),
            U256::from(index.saturating_add(1)),
        )?;
        self.set_address(slot("addr", &[name.as_bytes(), version.as_bytes()]), addr)?;
        self.set_string(slot("abi", &[name.as_bytes(), version.as_bytes()]), abi)
    }

    pub(crate) fn route(&mut self, name: &str) -> Result<Option<Route>, DbError> {
        // The weight is stored plus one, so that zero means "no route".
        let stored = self.count(slot("route.permille", &[name.as_bytes()]))?;
        let Some(permille) = stored.checked_sub(1) else {
            return Ok(None);
        };
        let stable = self.string(slot("route.stable", &[name.as_bytes()]))?;
        let canary = self.string(slot("route.canary", &[name.as_bytes()]))?;
        Ok(Some((
            stable,
            canary,
            u16::try_from(permille).unwrap_or(u16::MAX),
        )))
    }

    pub(crate) fn set_route(
        &mut self,
        name: &str,
        stable: &str,
        canary: &str,
        permille: u16,
    ) -> Result<(), DbError> {
        self.set_string(slot("route.stable", &[name.as_bytes()]), stable)?;
        self.set_string(slot("route.canary", &[name.as_bytes()]), canary)?;
        self.set_word(
            slot("route.permille", &[name.as_bytes()]),
            U256::from(permille) + U256::from(1u8),
        )
    }

    pub(crate) fn name_count(&mut self) -> Result<u64, DbError> {
        self.count(slot("names", &[]))
    }

    pub(crate) fn name_at(&mut self, index: u64) -> Result<String, DbError> {
        self.string(slot("name", &[&index.to_be_bytes()]))
    }

    pub(crate) fn add_name(&mut self, name: &str) -> Result<(), DbError> {
        let index = self.name_count()?;
        self.set_string(slot("name", &[&index.to_be_bytes()]), name)?;
        self.set_word(slot("names", &[]), U256::from(index.saturating_add(1)))
    }
}
