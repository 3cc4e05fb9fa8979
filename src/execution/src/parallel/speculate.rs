//! Speculative runs: one transaction on the committed state, reads recorded (EXEC-R18), the
//! beneficiary's fee held back (EXEC-R19).
//!
//! Every included transaction credits its priority fee to the beneficiary, so if revm paid
//! the fee during a speculative run, every run would read the beneficiary's balance and
//! every transaction would conflict with every earlier one. The run therefore uses revm's
//! mainnet handler with one change: when the transaction itself never loaded the beneficiary
//! (it did not call it, send to it, or read its balance), the fee is not paid but returned
//! as a *blind* credit, which the commit phase adds to the beneficiary's balance as of the
//! transaction's turn. A credit commutes with the other credits, and since the transaction
//! never saw the balance, nothing else it did depends on it. A transaction that did load the
//! beneficiary is paid by revm as usual, and its recorded read then fails validation unless
//! no earlier transaction of the block changed the beneficiary.

use super::readset::{ReadSet, RecordingDb};
use crate::db::StateDb;
use crate::error::DbError;
use crate::executor::{tx_env, BlockEnv, Executor};
use bcos_storage::StateReader;
use bcos_types::{RecoveredTx, U256};
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::context::{Context, ContextSetters};
use revm::context_interface::{Cfg, Transaction};
use revm::handler::{post_execution, FrameResult, Handler, MainnetContext, MainnetEvm};
use revm::primitives::hardfork::SpecId;
use revm::state::EvmState;
use revm::{ExecuteEvm, MainBuilder, MainContext};
use std::cell::Cell;
use std::marker::PhantomData;

/// revm over the committed state, for speculative runs. One per thread per block.
pub(crate) type SpecEvm<'a> = MainnetEvm<MainnetContext<RecordingDb<'a>>>;

pub(crate) fn spec_evm<'a>(
    exec: &'a Executor,
    state: &'a dyn StateReader,
    env: &BlockEnv,
) -> SpecEvm<'a> {
    let db = RecordingDb::new(state, StateDb::new(state, &exec.codes));
    Context::mainnet()
        .with_db(db)
        .with_cfg(exec.block_cfg().clone())
        .with_block(env.to_revm())
        .build_mainnet()
}

/// What a speculative run would do if its reads hold at the transaction's turn.
#[derive(Debug)]
pub(crate) enum Outcome {
    Included {
        result: ExecutionResult,
        state: EvmState,
        /// The beneficiary's fee, not yet credited (EXEC-R19); None when revm paid it.
        blind_fee: Option<U256>,
    },
    /// Invalid at its turn (EXEC-R6 2), with revm's reason.
    Rejected(String),
    /// The run failed for another reason (a storage error, a bad environment): the commit
    /// phase runs the transaction serially, which reports the failure as the serial path does.
    Retry,
}

#[derive(Debug)]
pub(crate) struct Speculative {
    pub(crate) reads: ReadSet,
    pub(crate) outcome: Outcome,
}

/// Runs `tx` on the committed state.
pub(crate) fn speculate(evm: &mut SpecEvm<'_>, tx: &RecoveredTx) -> Speculative {
    evm.ctx.set_tx(tx_env(tx));
    let mut handler = BlindFee::default();
    let result = handler.run(evm);
    // Clears the journal for the next run whatever happened, as `transact` does.
    let state = evm.finalize();
    let reads = std::mem::take(&mut evm.ctx.journaled_state.database.reads);
    let outcome = match result {
        Ok(result) => Outcome::Included {
            result,
            state,
            blind_fee: handler.fee.get(),
        },
        Err(EVMError::Transaction(e)) => Outcome::Rejected(e.to_string()),
        Err(_) => Outcome::Retry,
    };
    Speculative { reads, outcome }
}

/// revm's mainnet handler, except that a fee owed to a beneficiary the transaction never
/// loaded is held back in `fee` (EXEC-R19).
struct BlindFee<'a> {
    fee: Cell<Option<U256>>,
    _evm: PhantomData<fn() -> SpecEvm<'a>>,
}

impl Default for BlindFee<'_> {
    fn default() -> Self {
        BlindFee {
            fee: Cell::new(None),
            _evm: PhantomData,
        }
    }
}

impl<'a> Handler for BlindFee<'a> {
    type Evm = SpecEvm<'a>;
    type Error = EVMError<DbError, InvalidTransaction>;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        let ctx = &mut evm.ctx;
        let beneficiary = ctx.block.beneficiary;
        if ctx.journaled_state.inner.state.contains_key(&beneficiary) {
            // The transaction loaded the beneficiary: its read is recorded; pay as usual.
            return post_execution::reward_beneficiary(ctx, exec_result.gas()).map_err(From::from);
        }
        // The amount `post_execution::reward_beneficiary` credits, computed the same way
        // (wrapping like revm's release build, where this crate checks overflow).
        if ctx.cfg.is_fee_charge_disabled() {
            return Ok(());
        }
        let basefee = u128::from(ctx.block.basefee);
        let effective_gas_price = ctx.tx.effective_gas_price(basefee);
        let coinbase_gas_price = if ctx.cfg.spec.is_enabled_in(SpecId::LONDON) {
            effective_gas_price.saturating_sub(basefee)
        } else {
            effective_gas_price
        };
        let gas = exec_result.gas();
        let effective_used = gas.used().saturating_sub(gas.reservoir());
        self.fee.set(Some(U256::from(
            coinbase_gas_price.wrapping_mul(u128::from(effective_used)),
        )));
        Ok(())
    }
}
