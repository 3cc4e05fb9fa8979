//! Executor configuration (spec/execution.md §3.1).

use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The Ethereum hard fork whose EVM rules the chain runs (spec/execution.md EXEC-R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvmSpec {
    Cancun,
    Prague,
    /// The default: the current Ethereum hard fork.
    #[default]
    Osaka,
}

impl EvmSpec {
    pub fn spec_id(self) -> SpecId {
        match self {
            EvmSpec::Cancun => SpecId::CANCUN,
            EvmSpec::Prague => SpecId::PRAGUE,
            EvmSpec::Osaka => SpecId::OSAKA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EvmSpec::Cancun => "cancun",
            EvmSpec::Prague => "prague",
            EvmSpec::Osaka => "osaka",
        }
    }

    /// The most gas one transaction may ask for: EIP-7825 caps it at 2^24 from Osaka on.
    pub fn tx_gas_limit_cap(self) -> u64 {
        match self {
            EvmSpec::Osaka => revm::primitives::eip7825::TX_GAS_LIMIT_CAP,
            EvmSpec::Cancun | EvmSpec::Prague => u64::MAX,
        }
    }
}

impl fmt::Display for EvmSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown EVM spec {0:?} (supported: cancun, prague, osaka)")]
pub struct UnknownSpec(pub String);

impl FromStr for EvmSpec {
    type Err = UnknownSpec;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cancun" => Ok(EvmSpec::Cancun),
            "prague" => Ok(EvmSpec::Prague),
            "osaka" => Ok(EvmSpec::Osaka),
            _ => Err(UnknownSpec(s.to_string())),
        }
    }
}

/// Default chain id of a dev chain (the FISCO BCOS default group's chain id).
pub const DEFAULT_CHAIN_ID: u64 = 20200;
/// Default block gas limit.
pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;
/// Default number of analysed contract codes kept across blocks.
pub const DEFAULT_CODE_CACHE_ENTRIES_MAX: usize = 4096;
/// Default threads per block: 0, serial execution.
pub const DEFAULT_PARALLEL_THREADS: usize = 0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// EIP-155 chain id; transactions signed for another chain are rejected. Default 20200.
    pub chain_id: u64,
    /// Hard fork rules. Default osaka.
    pub spec: EvmSpec,
    /// Gas limit of every block (the header's `gas_limit`). Default 30,000,000.
    pub block_gas_limit: u64,
    /// Analysed contract codes cached across blocks, so a hot contract's jump table is built
    /// once rather than once per block. Default 4096.
    pub code_cache_entries_max: usize,
    /// Threads that execute one block (spec/execution.md §3.6, EXEC-R17..R20), the
    /// committing one included, through `Executor::execute_block_configured`; 0 or 1 is
    /// serial. Default 0 (serial) until the parallel path has run in production; the
    /// result is the same either way.
    pub parallel_threads: usize,
    /// Plain value transfers (no calldata, to an account without code) are applied directly,
    /// without revm's interpreter (spec/execution.md EXEC-R21); the result is revm's either
    /// way. Default true; false runs every transaction through revm.
    pub direct_transfers: bool,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            chain_id: DEFAULT_CHAIN_ID,
            spec: EvmSpec::default(),
            block_gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            code_cache_entries_max: DEFAULT_CODE_CACHE_ENTRIES_MAX,
            parallel_threads: DEFAULT_PARALLEL_THREADS,
            direct_transfers: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_names_round_trip() {
        for s in [EvmSpec::Cancun, EvmSpec::Prague, EvmSpec::Osaka] {
            assert_eq!(s.name().parse::<EvmSpec>(), Ok(s));
            assert_eq!(s.to_string().to_uppercase().parse::<EvmSpec>(), Ok(s));
        }
        assert!("shanghai".parse::<EvmSpec>().is_err());
        assert_eq!(EvmSpec::default(), EvmSpec::Osaka);
    }
}
