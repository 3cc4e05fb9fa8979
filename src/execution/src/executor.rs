//! Block execution (spec/execution.md §3, EXEC-R2..R9).
//!
//! One revm instance runs a whole block over a `CacheDB` overlay of the committed state, so
//! transaction k sees the effects of transaction k-1; the block's [`StateDiff`] is then read
//! off the overlay. Nothing is written to storage here.

use crate::config::ExecConfig;
use crate::db::{CodeCache, StateDb};
use crate::diff::ChangeTracker;
use crate::error::ExecError;
use crate::system::{SystemContract, SystemContracts, SystemEnv, SystemError, SystemState};
use crate::transfer::{TransferRules, TRANSFER_GAS};
use bcos_storage::StateReader;
use bcos_types::{Address, Log, Receipt, RecoveredTx, StateDiff, U256};
use revm::context::result::{EVMError, ExecutionResult};
use revm::context::{BlockEnv as RevmBlockEnv, CfgEnv, TxEnv};
use revm::database::CacheDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::precompile::{PrecompileSpecId, Precompiles};
use revm::state::EvmState;
use revm::{Context, DatabaseCommit, ExecuteEvm, InspectEvm, MainBuilder, MainContext};

/// The block-level inputs of execution, taken from the header being built or checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockEnv {
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
    /// Receives the priority fees (spec/execution.md §3.3).
    pub beneficiary: Address,
}

impl BlockEnv {
    pub(crate) fn to_revm(&self) -> RevmBlockEnv {
        RevmBlockEnv {
            number: U256::from(self.number),
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            beneficiary: self.beneficiary,
            // PREVRANDAO is 0 and there are no blobs (EXEC-R4); revm's defaults say exactly that.
            ..RevmBlockEnv::default()
        }
    }
}

/// The result of executing a candidate list of transactions as one block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutedBlock {
    /// Indices into the input of the transactions that are in the block, in order.
    pub included: Vec<usize>,
    /// Transactions invalid at their turn (EXEC-R6); they are not in the block.
    pub rejected: Vec<(usize, String)>,
    /// One per included transaction.
    pub receipts: Vec<Receipt>,
    /// Final values of everything the block changed.
    pub diff: StateDiff,
    pub gas_used: u64,
}

/// Executes blocks and calls. Cheap to share: `&self` methods only.
#[derive(Debug)]
pub struct Executor {
    config: ExecConfig,
    /// Built once: revm's gas tables for the fork are not free to set up.
    block_cfg: CfgEnv,
    pub(crate) codes: CodeCache,
    pub(crate) systems: SystemContracts,
    /// Governance is installed: every transaction passes its rules (REG-R5).
    pub(crate) governed: bool,
    /// Blocks still to run serially after one whose speculation aborted (EXEC-R20).
    pub(crate) parallel_backoff: std::sync::atomic::AtomicU32,
    /// The fork's precompiles: a transfer to one runs its code (EXEC-R21 leaves it to revm).
    precompiles: &'static Precompiles,
    /// Transactions applied by EXEC-R21 without revm in the blocks executed to their end
    /// since start (a metric, and how tests see that the path was taken).
    direct_transfers: std::sync::atomic::AtomicU64,
}

impl Executor {
    pub fn new(config: ExecConfig) -> Self {
        Self::with_system_contracts(config, SystemContracts::default())
    }

    /// An executor whose chain has the given system contracts (spec/execution.md §6).
    pub fn with_system_contracts(config: ExecConfig, systems: SystemContracts) -> Self {
        let mut block_cfg = CfgEnv::new()
            .with_spec_and_mainnet_gas_params(config.spec.spec_id())
            .with_chain_id(config.chain_id);
        block_cfg.tx_chain_id_check = true;
        let codes = CodeCache::new(config.code_cache_entries_max);
        let governed = systems
            .get(Some(bcos_types::governance::GOVERNANCE_ADDRESS))
            .is_some();
        let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(config.spec.spec_id()));
        Executor {
            governed,
            precompiles,
            direct_transfers: std::sync::atomic::AtomicU64::new(0),
            config,
            block_cfg,
            codes,
            systems,
            parallel_backoff: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// Transactions applied as plain transfers without revm (EXEC-R21) since start.
    pub fn direct_transfers(&self) -> u64 {
        self.direct_transfers
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// EXEC-R20: a transaction to a system contract is never speculated; its effect runs on
    /// the overlay (system.rs), so it runs serially at its turn. Nor is one that looks like a
    /// plain transfer when EXEC-R21 applies those directly: validating and committing its
    /// run would cost the committing thread about what applying it does, so speculating it
    /// only takes a core from the rest of the node.
    pub(crate) fn never_speculated(&self, tx: &RecoveredTx) -> bool {
        self.systems.get(tx.tx.to()).is_some() || self.direct_transfer_shape(tx)
    }

    /// Whether `tx` has the shape EXEC-R21 applies directly (a call without calldata) while
    /// the setting is on; its accounts decide at its turn whether it does.
    pub(crate) fn direct_transfer_shape(&self, tx: &RecoveredTx) -> bool {
        self.config.direct_transfers && tx.input().is_empty() && tx.to().is_some()
    }

    pub(crate) fn block_cfg(&self) -> &CfgEnv {
        &self.block_cfg
    }

    /// Executes `txs` in order on top of `state` (EXEC-R5..R8). Invalid transactions are
    /// skipped into `rejected`; the others form the block.
    pub fn execute_block(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[RecoveredTx],
    ) -> Result<ExecutedBlock, ExecError> {
        let mut run = BlockRun::new(self, state, env, txs.len());
        run.begin()?;
        for (index, tx) in txs.iter().enumerate() {
            if run.reject_early(index, tx)? {
                continue;
            }
            run.execute(index, tx)?;
        }
        Ok(run.finish())
    }
}

/// The block's EVM: one revm instance over the in-block overlay of the committed state.
pub(crate) type BlockEvm<'a> =
    MainnetEvm<MainnetContext<CacheDB<StateDb<'a>>>, crate::governance::inner::InnerCalls>;

/// One block being executed in order: the overlay, the diff tracker and the output so far.
/// The serial path ([`Executor::execute_block`]) and the commit phase of the parallel path
/// (`crate::parallel`, EXEC-R17) both go through it, so they cannot drift apart.
/// Accounts a block's overlay and change tracker are sized for, per transaction.
const BLOCK_ACCOUNTS_PER_TX: usize = 3;

pub(crate) struct BlockRun<'a> {
    exec: &'a Executor,
    env: &'a BlockEnv,
    pub(crate) evm: BlockEvm<'a>,
    tracker: ChangeTracker,
    out: ExecutedBlock,
    /// What governance's rules left to record for the transaction being run (REG-R3, R4).
    verdict: Option<crate::governance::Verdict>,
    /// Some rule is set: calls between contracts are checked too (REG-R8), through the
    /// inspector, at the cost of revm's inspecting loop. Set at the block's start.
    inner_rules: bool,
    /// Transactions this block applied by EXEC-R21, added to the executor's count once at
    /// the block's end rather than per transaction.
    direct: u64,
}

impl<'a> BlockRun<'a> {
    pub(crate) fn new(
        exec: &'a Executor,
        state: &'a dyn StateReader,
        env: &'a BlockEnv,
        txs: usize,
    ) -> Self {
        let mut db = CacheDB::new(StateDb::new(state, &exec.codes));
        // Sized for the block up front: a transaction touches about three accounts (sender,
        // recipient or contract, beneficiary), and growing the map rehashes it each time.
        db.cache
            .accounts
            .reserve(txs.saturating_mul(BLOCK_ACCOUNTS_PER_TX));
        let evm = Context::mainnet()
            .with_db(db)
            .with_cfg(exec.block_cfg.clone())
            .with_block(env.to_revm())
            .build_mainnet_with_inspector(crate::governance::inner::InnerCalls { active: true });
        BlockRun {
            exec,
            env,
            evm,
            tracker: ChangeTracker::with_capacity(txs.saturating_mul(BLOCK_ACCOUNTS_PER_TX)),
            out: ExecutedBlock {
                included: Vec::with_capacity(txs),
                receipts: Vec::with_capacity(txs),
                ..Default::default()
            },
            verdict: None,
            inner_rules: false,
            direct: 0,
        }
    }

    /// The system contracts' block-start step (GOV-R5), before the first transaction.
    pub(crate) fn begin(&mut self) -> Result<(), ExecError> {
        let env = SystemEnv {
            chain_id: self.exec.config.chain_id,
            block: self.env.number,
            caller: Address::ZERO,
        };
        for contract in self.exec.systems.iter() {
            let db = &mut self.evm.ctx.journaled_state.database;
            let mut state = SystemState::new(db);
            match contract.begin_block(&mut state, &env) {
                Ok(()) => {}
                Err(SystemError::Db(e)) => return Err(e.into()),
                Err(SystemError::Revert(reason)) => {
                    return Err(ExecError::Internal(format!(
                        "block start of system contract {}: {reason}",
                        contract.address()
                    )))
                }
            }
            let changes = state.into_changes();
            if !changes.is_empty() {
                self.tracker.record(db, &changes)?;
                db.commit(changes);
            }
        }
        if self.exec.governed {
            let db = &mut self.evm.ctx.journaled_state.database;
            self.inner_rules = crate::governance::policy::rules_set(db)?;
        }
        Ok(())
    }

    /// Whether calls between contracts are checked in this block (REG-R8): the parallel
    /// path runs such blocks' transactions serially.
    pub(crate) fn inner_rules(&self) -> bool {
        self.inner_rules
    }

    /// The checks made before a transaction runs at its turn; true if it was rejected.
    pub(crate) fn reject_early(
        &mut self,
        index: usize,
        tx: &RecoveredTx,
    ) -> Result<bool, ExecError> {
        self.verdict = None;
        // EXEC-R6: the block's gas limit bounds the sum of the transactions' gas limits
        // as they are added, as in Ethereum.
        let remaining = self.env.gas_limit.saturating_sub(self.out.gas_used);
        if tx.gas_limit() > remaining {
            self.out.rejected.push((
                index,
                format!(
                    "gas limit {} exceeds remaining block gas {remaining}",
                    tx.gas_limit()
                ),
            ));
            return Ok(true);
        }
        // EXEC-R13
        if self.exec.systems.get(tx.tx.to()).is_some() && !tx.value().is_zero() {
            self.out
                .rejected
                .push((index, crate::system::NO_VALUE.to_string()));
            return Ok(true);
        }
        if self.exec.governed {
            // REG-R5: the rules again, on the block's state at this transaction's turn.
            let db = &mut self.evm.ctx.journaled_state.database;
            let facts = crate::governance::TxFacts::of(tx);
            match crate::governance::policy::check(db, &facts, self.env.number)? {
                Ok(verdict) => self.verdict = (!verdict.is_empty()).then_some(verdict),
                Err(interception) => {
                    self.reject(index, tx, interception.to_string());
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// A rejection found by revm (EXEC-R6 2).
    pub(crate) fn reject(&mut self, index: usize, tx: &RecoveredTx, reason: String) {
        tracing::debug!(index, tx = %tx.hash(), %reason, "transaction rejected");
        self.out.rejected.push((index, reason));
    }

    /// Runs `tx` on the overlay, after [`Self::reject_early`] let it through.
    pub(crate) fn execute(&mut self, index: usize, tx: &RecoveredTx) -> Result<(), ExecError> {
        if self.direct_transfer(tx)? {
            return self.push_receipt(index, tx, true, Vec::new());
        }
        let result = if self.inner_rules {
            self.evm.inspect_tx(tx_env(tx))
        } else {
            self.evm.transact(tx_env(tx))
        };
        match result {
            Ok(r) => {
                let (gas, success, logs) = self.commit(r.result, r.state)?;
                let (success, logs) = match self.exec.systems.get(tx.tx.to()) {
                    Some(contract) if success => self.system_effect(contract, tx, gas, logs)?,
                    _ => (success, logs),
                };
                self.push_receipt(index, tx, success, logs)?;
            }
            Err(EVMError::Transaction(e)) => self.reject(index, tx, e.to_string()),
            Err(EVMError::Database(e)) => return Err(e.0.into()),
            Err(e) => return Err(ExecError::Internal(e.to_string())),
        }
        Ok(())
    }

    /// EXEC-R21: applies `tx` without revm if it is a plain transfer that revm would run to
    /// success here; false (nothing changed) leaves it to revm. Calls to system contracts
    /// (EXEC-R14) and blocks whose inner calls are checked (REG-R8) always go to revm.
    fn direct_transfer(&mut self, tx: &RecoveredTx) -> Result<bool, ExecError> {
        if !self.exec.config.direct_transfers
            || self.inner_rules
            || self.exec.systems.get(tx.tx.to()).is_some()
        {
            return Ok(false);
        }
        let rules = TransferRules {
            cfg: &self.exec.block_cfg,
            env: self.env,
            precompiles: self.exec.precompiles,
        };
        let db = &mut self.evm.ctx.journaled_state.database;
        let Some(changes) = rules.apply(db, tx)? else {
            return Ok(false);
        };
        self.commit_state_copied(
            TRANSFER_GAS,
            changes.iter().map(|(a, account)| (a, account)),
        )?;
        self.direct += 1;
        Ok(true)
    }

    /// Commits one included transaction's state changes and counts its gas; returns its
    /// gas, status and logs.
    pub(crate) fn commit(
        &mut self,
        result: ExecutionResult,
        state: EvmState,
    ) -> Result<(u64, bool, Vec<Log>), ExecError> {
        let gas = result.tx_gas_used();
        self.commit_state(gas, state)?;
        Ok(match result {
            ExecutionResult::Success { logs, .. } => (gas, true, logs),
            ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => {
                (gas, false, Vec::new())
            }
        })
    }

    /// Commits one included transaction's state changes and counts its `gas`.
    pub(crate) fn commit_state(&mut self, gas: u64, state: EvmState) -> Result<(), ExecError> {
        let db = &mut self.evm.ctx.journaled_state.database;
        self.tracker.record(db, &state)?;
        db.commit(state);
        self.out.gas_used = self.out.gas_used.saturating_add(gas);
        Ok(())
    }

    /// [`Self::commit_state`] for changes that another thread made (a speculative run's,
    /// crate::parallel): the overlay copies them (`db::commit_copy`) and
    /// the run keeps its maps, to be freed after the block. Taking them would free them
    /// here, in the other thread's allocator arena while that thread works in it.
    pub(crate) fn commit_state_copied<'s>(
        &mut self,
        gas: u64,
        changes: impl Iterator<Item = (&'s Address, &'s revm::state::Account)> + Clone,
    ) -> Result<(), ExecError> {
        let db = &mut self.evm.ctx.journaled_state.database;
        self.tracker.record_each(db, changes.clone())?;
        for (address, account) in changes {
            crate::db::commit_copy(db, *address, account);
        }
        self.out.gas_used = self.out.gas_used.saturating_add(gas);
        Ok(())
    }

    /// EXEC-R14, EXEC-R15: a successful plain call to a system contract, then its effect.
    fn system_effect(
        &mut self,
        contract: &dyn SystemContract,
        tx: &RecoveredTx,
        gas: u64,
        mut logs: Vec<Log>,
    ) -> Result<(bool, Vec<Log>), ExecError> {
        let env = self.env;
        let sys_env = SystemEnv {
            chain_id: self.exec.config.chain_id,
            block: env.number,
            caller: tx.sender,
        };
        let db = &mut self.evm.ctx.journaled_state.database;
        // EXEC-R14, EXEC-R15: the contract's own gas is charged whether its
        // effect succeeds or not, like any execution gas.
        let extra = contract.gas(tx.input());
        let left = tx.gas_limit().saturating_sub(gas);
        let charged = extra.min(left);
        let mut fee = SystemState::new(db);
        charge_gas(&mut fee, tx, env, charged)?;
        let changes = fee.into_changes();
        self.tracker.record(db, &changes)?;
        db.commit(changes);
        self.out.gas_used = self.out.gas_used.saturating_add(charged);
        let mut state = SystemState::new(db);
        let effect = if charged < extra {
            Err(SystemError::Revert(format!(
                "out of gas: the system contract needs {extra} gas beyond the \
                 plain call, {left} left"
            )))
        } else {
            contract.call(&mut state, &sys_env, tx.input())
        };
        match effect {
            Ok(out) => {
                let changes = state.into_changes();
                self.tracker.record(db, &changes)?;
                db.commit(changes);
                logs.extend(out.logs);
                Ok((true, logs))
            }
            Err(SystemError::Revert(reason)) => {
                tracing::debug!(tx = %tx.hash(), %reason, "system call reverted");
                Ok((false, logs))
            }
            Err(SystemError::Db(e)) => Err(e.into()),
        }
    }

    pub(crate) fn push_receipt(
        &mut self,
        index: usize,
        tx: &RecoveredTx,
        success: bool,
        mut logs: Vec<Log>,
    ) -> Result<(), ExecError> {
        // REG-R3, REG-R4: a successful transaction's alerts and velocity; a reverted one
        // moved nothing.
        if let Some(verdict) = self.verdict.take().filter(|_| success) {
            let db = &mut self.evm.ctx.journaled_state.database;
            let mut state = SystemState::new(db);
            crate::governance::record(&mut state, &verdict)?;
            let changes = state.into_changes();
            self.tracker.record(db, &changes)?;
            db.commit(changes);
            logs.extend(verdict.alerts.iter().map(crate::governance::alert_log));
        }
        self.out.receipts.push(Receipt {
            tx_type: tx.tx_type(),
            success,
            cumulative_gas_used: self.out.gas_used,
            logs,
        });
        self.out.included.push(index);
        Ok(())
    }

    pub(crate) fn finish(self) -> ExecutedBlock {
        self.finish_on(1)
    }

    /// [`Self::finish`], the diff read from the overlay on up to `threads` threads of the
    /// current rayon pool (the parallel path's, idle by the block's end).
    pub(crate) fn finish_on(mut self, threads: usize) -> ExecutedBlock {
        self.exec
            .direct_transfers
            .fetch_add(self.direct, std::sync::atomic::Ordering::Relaxed);
        self.out.diff = self
            .tracker
            .into_diff_on(&self.evm.ctx.journaled_state.database, threads);
        self.out
    }
}

/// Charges `gas` more at the transaction's effective price: the sender pays, the
/// beneficiary gets the tip, the base fee is burnt (spec/execution.md §3.3).
fn charge_gas(
    state: &mut SystemState<'_, '_>,
    tx: &RecoveredTx,
    env: &BlockEnv,
    gas: u64,
) -> Result<(), ExecError> {
    use alloy_consensus::Transaction as _;
    if gas == 0 {
        return Ok(());
    }
    let price = tx.envelope().effective_gas_price(Some(env.base_fee));
    let tip = price.saturating_sub(u128::from(env.base_fee));
    let cost = U256::from(gas) * U256::from(price);
    let balance = state.balance(tx.sender)?;
    // revm made the sender hold gas_limit x max_fee up front, so what is left covers it.
    let after = balance
        .checked_sub(cost)
        .ok_or_else(|| ExecError::Internal("sender cannot pay system gas".into()))?;
    state.set_balance(tx.sender, after)?;
    if tip > 0 {
        let paid = state.balance(env.beneficiary)? + U256::from(gas) * U256::from(tip);
        state.set_balance(env.beneficiary, paid)?;
    }
    Ok(())
}

/// The revm view of a signed transaction, with the sender recovered at admission.
pub(crate) fn tx_env(tx: &RecoveredTx) -> TxEnv {
    use alloy_consensus::Transaction as _;
    let envelope = tx.envelope();
    TxEnv {
        tx_type: tx.tx_type(),
        caller: tx.sender,
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    }
}
