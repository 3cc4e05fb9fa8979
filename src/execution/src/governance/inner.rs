//! Rules on calls between contracts (spec/governance.md REG-R8): a frozen or blacklisted
//! contract, and a restricted method, stop an inner call as they stop a transaction, so a
//! proxy contract cannot reach what its caller may not. An inspector on the block's EVM,
//! run only while some rule is set (the policy's `active` bit); the top-level call was
//! checked before the transaction ran (`policy::check`), so only deeper frames are looked
//! at. A refused call reverts with the rule named; its caller sees an ordinary revert.

use super::store::{flag, Read};
use crate::db::StateDb;
use alloy_sol_types::SolError;
use bcos_types::governance::Rule;
use revm::context_interface::{ContextError, ContextTr, JournalTr};
use revm::database::CacheDB;
use revm::handler::MainnetContext;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{CallInputs, CallOutcome, Gas, InstructionResult, InterpreterResult};
use revm::Inspector;

/// The inspector of the block EVM (and of eth_call's); it reads governance's words from the
/// overlay (which the transaction itself cannot change: only system contracts write them).
/// `active`: some rule is set; otherwise it checks nothing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct InnerCalls {
    pub(crate) active: bool,
}

impl InnerCalls {
    /// For a message on `state` (eth_call): active if governance runs and set a rule.
    pub(crate) fn on(state: &dyn bcos_storage::StateReader, governed: bool) -> Self {
        let active = governed
            && super::policy::rules_set(&mut super::store::Committed(state)).unwrap_or(true);
        InnerCalls { active }
    }
}

type BlockCtx<'a> = MainnetContext<CacheDB<StateDb<'a>>>;

impl<'a> Inspector<BlockCtx<'a>, EthInterpreter> for InnerCalls {
    fn call(&mut self, context: &mut BlockCtx<'a>, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if !self.active || context.journal().depth() == 0 {
            return None;
        }
        let input = inputs.input.bytes(context);
        let selector = input.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok());
        let target = inputs.target_address;
        let caller = inputs.caller;
        let db = context.db_mut();
        let refusal = (|| -> Result<Option<(Rule, String)>, crate::error::DbError> {
            let flags = db.flags(target)?;
            if flags & flag::FROZEN != 0 {
                return Ok(Some((Rule::FrozenContract, format!("{target} is frozen"))));
            }
            if flags & flag::BLACKLISTED != 0 {
                return Ok(Some((
                    Rule::Blacklisted,
                    format!("{target} is blacklisted"),
                )));
            }
            if flags & flag::TARGET_ACL != 0 {
                if let Some(sel) = selector {
                    if db.method_restricted(target, sel)?
                        && !db.call_allowed(target, sel, caller)?
                    {
                        return Ok(Some((
                            Rule::MethodAcl,
                            format!(
                                "{caller} may not call method 0x{} of {target}",
                                alloy_primitives::hex::encode(sel)
                            ),
                        )));
                    }
                }
            }
            Ok(None)
        })();
        match refusal {
            Ok(None) => None,
            Ok(Some((rule, why))) => {
                let reason = format!("intercepted by rule {}: {why}", rule.name());
                let output = alloy_sol_types::Revert::from(reason).abi_encode();
                Some(CallOutcome::new(
                    InterpreterResult::new(
                        InstructionResult::Revert,
                        output.into(),
                        Gas::new(inputs.gas_limit),
                    ),
                    inputs.return_memory_offset.clone(),
                ))
            }
            Err(e) => {
                // A storage failure: the block's execution fails as on any other read.
                *context.error() = Err(ContextError::Custom(format!("governance read: {e}")));
                Some(CallOutcome::new(
                    InterpreterResult::new(
                        InstructionResult::Revert,
                        Default::default(),
                        Gas::new(inputs.gas_limit),
                    ),
                    inputs.return_memory_offset.clone(),
                ))
            }
        }
    }
}
