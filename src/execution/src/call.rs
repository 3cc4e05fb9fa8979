//! Read-only calls: eth_call and eth_estimateGas (spec/execution.md §3.5).
//!
//! A call runs one message against the committed state through an uncommitted overlay.
//! Unlike a block transaction it skips the nonce check and the EIP-3607 "sender has code"
//! check; without a fee it pays nothing and sees a zero BASEFEE, as in geth.

use crate::db::StateDb;
use crate::error::ExecError;
use crate::executor::{BlockEnv, Executor};
use bcos_storage::StateReader;
use bcos_types::{Address, CallOutcome, CallRequest, U256};
use revm::context::result::{EVMError, ExecutionResult, HaltReason};
use revm::context::{BlockEnv as RevmBlockEnv, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database::CacheDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::{TxKind, B256};
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

/// Gas the geth-style optimistic first guess adds for a value-carrying inner call.
const CALL_STIPEND: u64 = 2_300;

type CallEvm<'a> = MainnetEvm<MainnetContext<CacheDB<StateDb<'a>>>>;

/// A call request turned into a message.
struct Message {
    tx: TxEnv,
    block: RevmBlockEnv,
}

/// One run: the outcome and the gas spent before refunds, or why the message is invalid.
type Attempt = Result<(CallOutcome, u64), String>;

impl Executor {
    /// eth_call (EXEC-R10): runs `request` against `state` and commits nothing.
    pub fn call(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        request: &CallRequest,
    ) -> Result<CallOutcome, ExecError> {
        let msg = self.message(env, request)?;
        let mut evm = self.call_evm(state, msg.block);
        match attempt(&mut evm, msg.tx)? {
            Ok((outcome, _)) => Ok(outcome),
            Err(invalid) => Err(ExecError::InvalidCall(invalid)),
        }
    }

    /// eth_estimateGas (EXEC-R11): the smallest gas limit with which `request` succeeds, or the
    /// failing outcome at the highest allowed limit.
    pub fn estimate_gas(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        request: &CallRequest,
    ) -> Result<Result<u64, CallOutcome>, ExecError> {
        let msg = self.message(env, request)?;
        let mut hi = msg.tx.gas_limit;
        if msg.tx.gas_price > 0 {
            // With a fee, the sender's balance bounds the gas it can buy.
            let balance = state
                .account(&msg.tx.caller)?
                .map(|a| a.balance)
                .unwrap_or_default();
            let available = balance.checked_sub(msg.tx.value).ok_or_else(|| {
                ExecError::InvalidCall("insufficient funds for transfer".to_string())
            })?;
            let allowance = available / U256::from(msg.tx.gas_price);
            if allowance < U256::from(hi) {
                hi = allowance.to::<u64>();
            }
        }
        let mut evm = self.call_evm(state, msg.block);
        let mut run = |gas: u64| {
            let mut tx = msg.tx.clone();
            tx.gas_limit = gas;
            attempt(&mut evm, tx)
        };
        let (mut lo, spent) = match run(hi)? {
            Err(invalid) => return Err(ExecError::InvalidCall(invalid)),
            Ok((outcome, _)) if !outcome.is_success() => return Ok(Err(outcome)),
            // A limit below the gas finally used cannot succeed, so that one fails.
            Ok((outcome, spent)) => (outcome.gas_used().saturating_sub(1), spent),
        };
        // Most calls need a little more than they spent (the 63/64 rule, refunds, stipends):
        // try that first, as geth does, to save most of the search.
        let optimistic = (spent.saturating_add(CALL_STIPEND)).saturating_mul(64) / 63;
        if optimistic > lo && optimistic < hi {
            if succeeded(&run(optimistic)?) {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if succeeded(&run(mid)?) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Ok(hi))
    }

    fn call_evm<'a>(&'a self, state: &'a dyn StateReader, block: RevmBlockEnv) -> CallEvm<'a> {
        let mut cfg = self.block_cfg().clone();
        cfg.disable_nonce_check = true;
        cfg.disable_eip3607 = true;
        cfg.tx_chain_id_check = false;
        Context::mainnet()
            .with_db(CacheDB::new(StateDb::new(state, &self.codes)))
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet()
    }

    fn message(&self, env: &BlockEnv, req: &CallRequest) -> Result<Message, ExecError> {
        let cap = env.gas_limit.min(self.config().spec.tx_gas_limit_cap());
        let gas_limit = req.gas.unwrap_or(cap).min(cap);
        let legacy_type = if req.access_list.is_empty() { 0 } else { 1 };
        let (tx_type, gas_price, gas_priority_fee) = match (
            req.gas_price,
            req.max_fee_per_gas,
            req.max_priority_fee_per_gas,
        ) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ExecError::InvalidCall(
                    "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"
                        .to_string(),
                ))
            }
            (Some(price), None, None) => (legacy_type, price, None),
            (None, Some(max), tip) => (2, max, Some(tip.unwrap_or(0))),
            (None, None, Some(tip)) => (2, u128::from(env.base_fee) + tip, Some(tip)),
            (None, None, None) => (legacy_type, 0, None),
        };
        let mut block = env.to_revm();
        if gas_price == 0 && gas_priority_fee.unwrap_or(0) == 0 {
            // geth: a call without a fee runs under a zero base fee.
            block.basefee = 0;
        }
        let access_list = AccessList(
            req.access_list
                .iter()
                .map(|(address, slots)| AccessListItem {
                    address: *address,
                    storage_keys: slots.iter().map(|s| B256::from(*s)).collect(),
                })
                .collect(),
        );
        let tx = TxEnv {
            tx_type,
            caller: req.from.unwrap_or(Address::ZERO),
            gas_limit,
            gas_price,
            kind: req.to.map_or(TxKind::Create, TxKind::Call),
            value: req.value.unwrap_or_default(),
            data: req.input.clone(),
            nonce: req.nonce.unwrap_or(0),
            chain_id: Some(self.config().chain_id),
            access_list,
            gas_priority_fee,
            blob_hashes: Vec::new(),
            max_fee_per_blob_gas: 0,
            authorization_list: Vec::new(),
        };
        Ok(Message { tx, block })
    }
}

fn succeeded(a: &Attempt) -> bool {
    matches!(a, Ok((outcome, _)) if outcome.is_success())
}

fn attempt(evm: &mut CallEvm<'_>, tx: TxEnv) -> Result<Attempt, ExecError> {
    match evm.transact(tx) {
        Ok(r) => {
            let spent = r.result.gas().total_gas_spent();
            Ok(Ok((outcome(r.result), spent)))
        }
        Err(EVMError::Transaction(e)) => Ok(Err(e.to_string())),
        Err(EVMError::Database(e)) => Err(e.0.into()),
        Err(e) => Err(ExecError::Internal(e.to_string())),
    }
}

pub(crate) fn outcome(result: ExecutionResult) -> CallOutcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, logs, .. } => CallOutcome::Success {
            output: output.into_data(),
            gas_used,
            logs,
        },
        ExecutionResult::Revert { output, .. } => CallOutcome::Revert { output, gas_used },
        ExecutionResult::Halt { reason, .. } => {
            let reason = match reason {
                HaltReason::OutOfGas(_) => "out of gas".to_string(),
                other => format!("{other:?}"),
            };
            CallOutcome::Halt { reason, gas_used }
        }
    }
}
