//! Read-only calls: eth_call and eth_estimateGas (spec/execution.md §3.5).
//!
//! A call runs one message against the committed state through an uncommitted overlay.
//! Unlike a block transaction it skips the nonce check and the EIP-3607 "sender has code"
//! check; without a fee it pays nothing and sees a zero BASEFEE, as in geth.
//!
//! Anyone who reaches the RPC port can ask for calls, so each is bounded (EXEC-R12): its gas
//! by [`CallLimits::gas_max`] (below the block gas limit), its time by
//! [`CallLimits::timeout`] (one clock for a whole estimateGas search, which runs ~28 calls).

use crate::db::StateDb;
use crate::deadline::Deadline;
use crate::error::ExecError;
use crate::executor::{BlockEnv, Executor};
use crate::system::{SystemContract, SystemEnv, SystemError, SystemState};
use bcos_storage::StateReader;
use bcos_types::{Address, Bytes, CallOutcome, CallRequest, U256};
use revm::context::result::{EVMError, ExecutionResult, HaltReason};
use revm::context::{BlockEnv as RevmBlockEnv, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database::CacheDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::{TxKind, B256};
use revm::{Context, InspectEvm, MainBuilder, MainContext};
use std::time::{Duration, Instant};

/// Gas the geth-style optimistic first guess adds for a value-carrying inner call.
const CALL_STIPEND: u64 = 2_300;

/// The deadline, and governance's rules on calls between contracts (REG-R8), so that a
/// call or an estimate reverts where the block would.
type CallEvm<'a> = MainnetEvm<
    MainnetContext<CacheDB<StateDb<'a>>>,
    (Deadline, crate::governance::inner::InnerCalls),
>;

/// Bounds on one eth_call, or one whole eth_estimateGas search (EXEC-R12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Most gas a call may use, whatever the request asks; the block gas limit and the
    /// fork's per-transaction cap apply as well.
    pub gas_max: u64,
    /// Wall-clock time after which the call is abandoned with [`ExecError::Timeout`].
    pub timeout: Duration,
}

impl Default for CallLimits {
    /// 50 M gas (below the default 300 M block gas limit) and 5 s (geth's RPC EVM timeout).
    fn default() -> Self {
        CallLimits {
            gas_max: 50_000_000,
            timeout: Duration::from_secs(5),
        }
    }
}

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
        limits: &CallLimits,
    ) -> Result<CallOutcome, ExecError> {
        let outcome = self.call_until(state, env, request, limits, deadline(limits))?;
        match (self.systems.get(request.to), &outcome) {
            (Some(contract), CallOutcome::Success { gas_used, .. }) => {
                self.system_call(state, env, request, contract, *gas_used)
            }
            _ => Ok(outcome),
        }
    }

    /// EXEC-R16: the effect of a system contract call that passed as a plain call: its
    /// logs and return data, or its refusal as a revert with an `Error(string)` reason, as Solidity gives.
    fn system_call(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        request: &CallRequest,
        contract: &dyn SystemContract,
        gas_used: u64,
    ) -> Result<CallOutcome, ExecError> {
        if request.value.is_some_and(|v| !v.is_zero()) {
            return Ok(CallOutcome::Revert {
                output: revert_output(crate::system::NO_VALUE),
                gas_used,
            });
        }
        let mut db = CacheDB::new(StateDb::new(state, &self.codes));
        let sys_env = SystemEnv {
            chain_id: self.config().chain_id,
            block: env.number,
            caller: request.from.unwrap_or_default(),
        };
        let gas_used = gas_used.saturating_add(contract.gas(&request.input));
        let mut view = SystemState::new(&mut db);
        match contract.call(&mut view, &sys_env, &request.input) {
            Ok(out) => Ok(CallOutcome::Success {
                output: out.output,
                gas_used,
                logs: out.logs,
            }),
            Err(SystemError::Revert(reason)) => Ok(CallOutcome::Revert {
                output: revert_output(&reason),
                gas_used,
            }),
            Err(SystemError::Db(e)) => Err(e.into()),
        }
    }

    fn call_until(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        request: &CallRequest,
        limits: &CallLimits,
        deadline: Deadline,
    ) -> Result<CallOutcome, ExecError> {
        let msg = self.message(env, request, limits)?;
        let mut evm = self.call_evm(state, msg.block, deadline);
        match attempt(&mut evm, msg.tx, limits)? {
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
        limits: &CallLimits,
    ) -> Result<Result<u64, CallOutcome>, ExecError> {
        let evm = self.estimate_evm_gas(state, env, request, limits)?;
        let Some(contract) = self.systems.get(request.to) else {
            return Ok(evm);
        };
        let Ok(gas) = evm else {
            return Ok(evm);
        };
        // EXEC-R16: a system call whose effect would refuse has no gas that makes it
        // succeed; the estimate fails with the refusal, as a reverting contract's does.
        match self.system_call(state, env, request, contract, gas)? {
            CallOutcome::Success { gas_used, .. } => Ok(Ok(gas_used)),
            refused => Ok(Err(refused)),
        }
    }

    fn estimate_evm_gas(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        request: &CallRequest,
        limits: &CallLimits,
    ) -> Result<Result<u64, CallOutcome>, ExecError> {
        let deadline = deadline(limits);
        let msg = self.message(env, request, limits)?;
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
        let mut evm = self.call_evm(state, msg.block, deadline);
        let mut run = |gas: u64| {
            let mut tx = msg.tx.clone();
            tx.gas_limit = gas;
            attempt(&mut evm, tx, limits)
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

    fn call_evm<'a>(
        &'a self,
        state: &'a dyn StateReader,
        block: RevmBlockEnv,
        deadline: Deadline,
    ) -> CallEvm<'a> {
        let mut cfg = self.block_cfg().clone();
        cfg.disable_nonce_check = true;
        cfg.disable_eip3607 = true;
        cfg.tx_chain_id_check = false;
        Context::mainnet()
            .with_db(CacheDB::new(StateDb::new(state, &self.codes)))
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet_with_inspector((
                deadline,
                crate::governance::inner::InnerCalls::on(state, self.governed),
            ))
    }

    fn message(
        &self,
        env: &BlockEnv,
        req: &CallRequest,
        limits: &CallLimits,
    ) -> Result<Message, ExecError> {
        let cap = env
            .gas_limit
            .min(self.config().spec.tx_gas_limit_cap())
            .min(limits.gas_max);
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
            (None, None, Some(tip)) => {
                // The tip comes from the caller: a sum past u128 is refused, not wrapped.
                let fee = u128::from(env.base_fee).checked_add(tip).ok_or_else(|| {
                    ExecError::InvalidCall(
                        "maxPriorityFeePerGas plus the base fee overflows".to_string(),
                    )
                })?;
                (2, fee, Some(tip))
            }
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

/// When a call that starts now must be over. A timeout too large for the clock means none.
fn deadline(limits: &CallLimits) -> Deadline {
    let now = Instant::now();
    let at = now
        .checked_add(limits.timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
    Deadline::new(at)
}

fn attempt(evm: &mut CallEvm<'_>, tx: TxEnv, limits: &CallLimits) -> Result<Attempt, ExecError> {
    if evm.inspector.0.expired() {
        return Err(ExecError::Timeout(limits.timeout));
    }
    let result = evm.inspect_tx(tx);
    if evm.inspector.0.expired() {
        return Err(ExecError::Timeout(limits.timeout));
    }
    match result {
        Ok(r) => {
            let spent = r.result.gas().total_gas_spent();
            Ok(Ok((outcome(r.result), spent)))
        }
        Err(EVMError::Transaction(e)) => Ok(Err(e.to_string())),
        Err(EVMError::Database(e)) => Err(e.0.into()),
        Err(e) => Err(ExecError::Internal(e.to_string())),
    }
}

/// ABI `Error(string)`: what `revert("reason")` returns in Solidity.
pub fn revert_output(reason: &str) -> Bytes {
    let mut out = vec![0x08, 0xc3, 0x79, 0xa0];
    let mut word = [0u8; 32];
    word[31] = 0x20;
    out.extend_from_slice(&word);
    let len = U256::from(reason.len());
    out.extend_from_slice(&len.to_be_bytes::<32>());
    out.extend_from_slice(reason.as_bytes());
    out.resize(4 + 64 + reason.len().div_ceil(32) * 32, 0);
    out.into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExecConfig;
    use bcos_storage::StorageError;
    use bcos_types::{Account, Bytes, B256};
    use std::cell::Cell;
    use std::sync::OnceLock;

    struct EmptyState;

    impl StateReader for EmptyState {
        fn account(&self, _: &Address) -> Result<Option<Account>, StorageError> {
            Ok(None)
        }
        fn storage(&self, _: &Address, _: &U256) -> Result<U256, StorageError> {
            Ok(U256::ZERO)
        }
        fn code(&self, _: &B256) -> Result<Option<Bytes>, StorageError> {
            Ok(None)
        }
    }

    static START: OnceLock<Instant> = OnceLock::new();
    thread_local! {
        static READS: Cell<u64> = const { Cell::new(0) };
    }

    /// A clock one millisecond later at every read: the deadline falls at a known step.
    fn scripted_clock() -> Instant {
        let n = READS.with(|r| {
            r.set(r.get() + 1);
            r.get()
        });
        *START.get_or_init(Instant::now) + Duration::from_millis(n)
    }

    /// Init code that CREATEs a child whose init code loops forever, then stores 1 in slot 0
    /// and stops: if the child's abort did not end the whole message, it would succeed.
    fn create_a_looping_child() -> Bytes {
        let child = [0x5b, 0x60, 0x00, 0x56]; // JUMPDEST PUSH1 0 JUMP
        let mut code = vec![0x63];
        code.extend_from_slice(&child);
        code.extend_from_slice(&[0x60, 0xe0, 0x1b]); // shl(224): child at memory 0..4
        code.extend_from_slice(&[0x60, 0x00, 0x52]); // mstore(0, ..)
        code.extend_from_slice(&[0x60, 0x04, 0x60, 0x00, 0x60, 0x00, 0xf0]); // create(0, 0, 4)
        code.extend_from_slice(&[0x50, 0x60, 0x01, 0x60, 0x00, 0x55, 0x00]); // pop; sstore(0,1); stop
        Bytes::from(code)
    }

    /// A deadline that passes inside a nested frame ends the whole message with a timeout;
    /// the caller frame does not carry on (it would, were only the child frame halted).
    #[test]
    fn a_deadline_passing_in_a_child_frame_aborts_the_whole_call() {
        let exec = Executor::new(ExecConfig::default());
        let env = BlockEnv {
            number: 1,
            gas_limit: 30_000_000,
            ..Default::default()
        };
        let request = CallRequest {
            input: create_a_looping_child(),
            ..Default::default()
        };
        let limits = CallLimits {
            gas_max: 10_000_000,
            timeout: Duration::from_millis(3),
        };
        READS.with(|r| r.set(0));
        let at = *START.get_or_init(Instant::now) + limits.timeout;
        let deadline = Deadline::with_clock(at, scripted_clock);
        let out = exec.call_until(&EmptyState, &env, &request, &limits, deadline);
        assert!(
            matches!(out, Err(ExecError::Timeout(t)) if t == limits.timeout),
            "{out:?}"
        );
        // The clock was read in the child's loop, past the few steps of the parent.
        assert!(READS.with(Cell::get) >= 3);

        // Without a deadline in reach the same message runs out of gas in the child, and
        // the parent finishes.
        let out = exec.call(&EmptyState, &env, &request, &CallLimits::default());
        assert!(matches!(out, Ok(CallOutcome::Success { .. })), "{out:?}");
    }
}
