//! What the node's Solidity-ABI system contracts (the CNS, governance) share: their revert,
//! return and event encodings, the gas of a writing call, and where their entries live in
//! storage (a named slot, a byte string over consecutive words).

use crate::error::DbError;
use crate::system::{SystemError, SystemOutput};
use alloy_primitives::{keccak256, Address, Log, U256};
use alloy_sol_types::{SolCall, SolEvent};

pub(crate) fn revert(reason: impl Into<String>) -> SystemError {
    SystemError::Revert(reason.into())
}

/// A view's ABI-encoded return value.
pub(crate) fn returns<C: SolCall>(value: &C::Return) -> SystemOutput {
    SystemOutput {
        logs: Vec::new(),
        output: C::abi_encode_returns(value).into(),
    }
}

pub(crate) fn event_log(address: Address, event: &impl SolEvent) -> Log {
    Log {
        address,
        data: event.encode_log_data(),
    }
}

/// Whether `input` calls one of `selectors`.
pub(crate) fn calls_one_of(input: &[u8], selectors: &[[u8; 4]]) -> bool {
    let selector = input.get(..4).unwrap_or_default();
    selectors.iter().any(|s| s[..] == *selector)
}

/// A writing call's gas beyond the plain call (CNS-R9): `base`, and `per_word` for each
/// 32-byte word of its arguments, which is about what it stores.
pub(crate) fn write_gas(input: &[u8], base: u64, per_word: u64) -> u64 {
    let words = u64::try_from(input.len().saturating_sub(4).div_ceil(32)).unwrap_or(u64::MAX);
    base.saturating_add(words.saturating_mul(per_word))
}

/// The slot keccak256(`prefix` ‖ tag ‖ each part with its 4-byte big-endian length): entries
/// of different tags or parts never share a slot.
pub(crate) fn named_slot(prefix: &[u8], tag: &str, parts: &[&[u8]]) -> U256 {
    let mut preimage = Vec::with_capacity(
        prefix.len() + tag.len() + parts.iter().map(|p| p.len() + 4).sum::<usize>(),
    );
    preimage.extend_from_slice(prefix);
    preimage.extend_from_slice(tag.as_bytes());
    for part in parts {
        // Parts are names, addresses, selectors and indices: far below 4 GiB.
        preimage.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        preimage.extend_from_slice(part);
    }
    U256::from_be_bytes(keccak256(preimage).0)
}

/// A byte string as Solidity keeps a long one: its length at `base`, its bytes in 32-byte
/// words at the slots after it. `max` bounds what a corrupt length word makes it read.
pub(crate) fn read_bytes(
    mut word: impl FnMut(U256) -> Result<U256, DbError>,
    base: U256,
    max: usize,
) -> Result<Vec<u8>, DbError> {
    let len = usize::try_from(word(base)?).unwrap_or(usize::MAX).min(max);
    let mut bytes = Vec::with_capacity(len);
    let mut at = base;
    while bytes.len() < len {
        at = at.wrapping_add(U256::from(1u8));
        let w = word(at)?.to_be_bytes::<32>();
        let take = (len - bytes.len()).min(32);
        bytes.extend_from_slice(&w[..take]);
    }
    Ok(bytes)
}

/// Writes what [`read_bytes`] reads.
pub(crate) fn write_bytes(
    mut set: impl FnMut(U256, U256) -> Result<(), DbError>,
    base: U256,
    bytes: &[u8],
) -> Result<(), DbError> {
    set(base, U256::from(bytes.len()))?;
    let mut at = base;
    for chunk in bytes.chunks(32) {
        at = at.wrapping_add(U256::from(1u8));
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        set(at, U256::from_be_bytes(w))?;
    }
    Ok(())
}
