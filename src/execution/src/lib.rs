//! The EVM executor: runs blocks of transactions and read-only calls on revm over the
//! committed state, producing receipts and the block's state diff.
//!
//! Implements spec/execution.md §3 (execution rules EXEC-R1..R12: fork, fees, rejected versus
//! included-and-failed transactions, eth_call and eth_estimateGas and their limits; §3.6,
//! EXEC-R17..R20, parallel execution within a block, in `parallel/`), §4 (genesis), §6 (system
//! contracts, `system.rs`) and §7 (the contract naming service, `cns/`), and
//! spec/governance.md (the committee, permissions and RegTech rules, `governance/`); the roots of §2 are
//! computed from its outputs by `bcos_types`.

mod call;
pub mod cns;
mod config;
mod db;
mod deadline;
mod diff;
mod error;
mod executor;
mod genesis;
pub mod governance;
mod parallel;
pub mod settlement;
pub mod system;
mod system_abi;
mod transfer;

pub use call::CallLimits;
pub use config::{
    EvmSpec, ExecConfig, UnknownSpec, DEFAULT_BLOCK_GAS_LIMIT, DEFAULT_CHAIN_ID,
    DEFAULT_CODE_CACHE_ENTRIES_MAX, DEFAULT_PARALLEL_THREADS,
};
pub use deadline::STEPS_PER_CLOCK_READ;
pub use error::{DbError, ExecError};
pub use executor::{BlockEnv, ExecutedBlock, Executor};
pub use genesis::{genesis_diff, genesis_header, governance_genesis, GenesisParams};
pub use parallel::{
    ParallelOptions, ParallelStats, Phases, PARALLEL_BACKOFF_BLOCKS, PARALLEL_TXS_MIN,
};
pub use system::{
    SystemContract, SystemContracts, SystemEnv, SystemError, SystemOutput, SystemState,
};
