//! Read-only calls (eth_call, eth_estimateGas): the request and its outcome, shared by the
//! executor and the RPC layer.

use alloy_primitives::{Address, Bytes, Log, U256};

/// A message to run against current state without committing it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRequest {
    /// Defaults to the zero address.
    pub from: Option<Address>,
    /// None creates a contract from `input`.
    pub to: Option<Address>,
    /// Defaults to the block gas limit.
    pub gas: Option<u64>,
    /// Legacy gas price; if neither this nor `max_fee_per_gas` is set the call pays no fee.
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub value: Option<U256>,
    pub input: Bytes,
    pub nonce: Option<u64>,
    pub access_list: Vec<(Address, Vec<U256>)>,
}

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Success {
        output: Bytes,
        gas_used: u64,
        logs: Vec<Log>,
    },
    /// The EVM executed REVERT; `output` is the revert data (e.g. `Error(string)`).
    Revert { output: Bytes, gas_used: u64 },
    /// The EVM halted (out of gas, invalid opcode, ...).
    Halt { reason: String, gas_used: u64 },
}

impl CallOutcome {
    pub fn gas_used(&self) -> u64 {
        match self {
            CallOutcome::Success { gas_used, .. }
            | CallOutcome::Revert { gas_used, .. }
            | CallOutcome::Halt { gas_used, .. } => *gas_used,
        }
    }
    pub fn is_success(&self) -> bool {
        matches!(self, CallOutcome::Success { .. })
    }
}
