//! Who runs what (EXEC-R17, EXEC-R20): speculating threads run transactions ahead on the
//! committed state; one committing thread takes the block in order.
//!
//! At each turn the committer either finds the transaction still unclaimed and runs it
//! serially on the overlay itself (no speculation needed: it is exactly the serial step),
//! or waits for its speculative run, validates it (EXEC-R18) and commits it, or runs the
//! transaction serially again when a read no longer holds. While it waits, it speculates
//! too, so no core idles. Because every transaction is committed by the serial step or by
//! a validated run that is equivalent to it, the result is the serial one whatever the
//! timing; the timing only decides how much work is saved.

use super::phases::{Clock, Phases, RunCounter};
use super::speculate::{spec_evm, speculate, Outcome, SpecEvm, Speculative};
use super::validate::{blind_fee_credit, learn_reads, reads_hold};
use super::{ParallelOptions, ParallelStats};
use crate::error::ExecError;
use crate::executor::{BlockEnv, BlockRun, ExecutedBlock, Executor};
use bcos_storage::StateReader;
use bcos_types::RecoveredTx;
use revm::context::result::ExecutionResult;
use revm::state::EvmState;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;

/// EXEC-R20: once this many speculative runs were checked, more than half of them failing
/// stops speculation for the rest of the block (each failure costs a serial run on top).
const ABORT_AFTER_CHECKS: usize = 16;

/// How long the committer waits for a speculative run before running the transaction
/// itself: a run that takes longer than a few transactions' time is usually on a thread
/// the OS has descheduled (a loaded machine), and waiting for it would be slower than the
/// serial path. Running it twice costs nothing in correctness: the late run is dropped.
const STEAL_AFTER: Duration = Duration::from_micros(50);
/// With `speculate_all` (tests of the equivalence) every run is waited for this long instead:
/// a speculating thread descheduled for more than [`STEAL_AFTER`] on a loaded machine would
/// otherwise send its transaction to the serial path and make the schedule depend on timing.
const SPECULATE_ALL_WAIT: Duration = Duration::from_secs(10);

/// How many transactions past the committing thread speculation may run, per thread. A run
/// far ahead is the most likely to be invalidated, and when the committing thread is slowed
/// (a hot block, or a loaded machine) unbounded speculation would burn the other cores on
/// runs that will all be redone; this also bounds the memory held in finished runs.
const AHEAD_PER_THREAD: usize = 32;

/// What the committing thread is done with but must not free itself: speculative runs are
/// allocated on other threads, and freeing them there contends for those threads'
/// allocator arenas while they work (glibc takes the arena's lock). The committing thread
/// hands them back in batches of [`SPENT_BATCH`], and a speculating thread frees them
/// between its runs, out of the committing thread's way (on 2 cores the committing thread
/// bounds the block, and freeing a block's runs at its end took ~0.37 ms of ~4.5).
#[derive(Default)]
struct Spent {
    // The boxes themselves came from the other threads.
    #[allow(clippy::vec_box)]
    runs: Vec<Box<Speculative>>,
    results: Vec<(ExecutionResult, EvmState)>,
}

impl Spent {
    fn append(&mut self, other: &mut Spent) {
        self.runs.append(&mut other.runs);
        self.results.append(&mut other.results);
    }

    fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.results.is_empty()
    }
}

/// Spent runs the committing thread collects before handing them back (see [`Spent`]): one
/// lock per batch, not per transaction.
const SPENT_BATCH: usize = 32;

enum Task {
    Run(usize),
    Wait,
    Done,
}

struct Slot {
    status: AtomicU8,
    /// Boxed: a block's slots then stay small (a few tens of KiB, no fresh pages per block)
    /// and a finished run moves by pointer.
    run: Mutex<Option<Box<Speculative>>>,
}

pub(crate) struct Block<'a> {
    exec: &'a Executor,
    state: &'a dyn StateReader,
    env: &'a BlockEnv,
    txs: &'a [RecoveredTx],
    opts: ParallelOptions,
    slots: Vec<Slot>,
    /// The next transaction a speculating thread tries to claim.
    next: AtomicUsize,
    /// The transaction the committing thread is at.
    turn: AtomicUsize,
    /// How far past `turn` speculation may run (see [`AHEAD_PER_THREAD`]).
    ahead_max: usize,
    /// No more speculation: the block is done, failed, or conflicts too much.
    stop: AtomicBool,
    clock: Clock,
    runs: RunCounter,
    /// Spent runs handed back by the committing thread, for a speculating thread to free.
    spent: Mutex<Spent>,
}

impl<'a> Block<'a> {
    pub(crate) fn new(
        exec: &'a Executor,
        state: &'a dyn StateReader,
        env: &'a BlockEnv,
        txs: &'a [RecoveredTx],
        opts: ParallelOptions,
    ) -> Self {
        let slots = txs
            .iter()
            .map(|_| Slot {
                status: AtomicU8::new(FREE),
                run: Mutex::new(None),
            })
            .collect();
        Block {
            exec,
            state,
            env,
            txs,
            opts,
            slots,
            next: AtomicUsize::new(0),
            turn: AtomicUsize::new(0),
            ahead_max: if opts.speculate_all {
                usize::MAX / 2
            } else {
                AHEAD_PER_THREAD * opts.threads.max(1)
            },
            stop: AtomicBool::new(false),
            clock: Clock { on: opts.timed },
            runs: RunCounter::default(),
            spent: Mutex::new(Spent::default()),
        }
    }

    fn claim(&self, index: usize) -> bool {
        self.slots[index]
            .status
            .compare_exchange(FREE, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn runs_serially(&self, index: usize) -> bool {
        self.exec.never_speculated(&self.txs[index])
    }

    /// Claims the next transaction worth speculating: `Task::Run`, or `Task::Wait` while
    /// the next one is more than [`AHEAD_MAX`] past the committing thread, or `Task::Done`.
    fn next_task(&self) -> Task {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Task::Done;
            }
            let index = self.next.load(Ordering::Relaxed);
            if index >= self.txs.len() {
                return Task::Done;
            }
            if index >= self.turn.load(Ordering::Relaxed) + self.ahead_max {
                return Task::Wait;
            }
            if self
                .next
                .compare_exchange_weak(index, index + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            if !self.runs_serially(index) && self.claim(index) {
                return Task::Run(index);
            }
        }
    }

    fn speculate_into(&self, evm: &mut SpecEvm<'a>, index: usize) {
        let start = self.clock.start();
        let run = speculate(evm, &self.txs[index]);
        self.runs.add(start);
        let slot = &self.slots[index];
        *slot.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(run));
        slot.status.store(DONE, Ordering::Release);
    }

    /// A speculating thread: runs transactions ahead until none is left or told to stop.
    /// Spins while speculation is [`AHEAD_PER_THREAD`] ahead, and gives up after
    /// [`STEAL_AFTER`] of it: the committing thread is then slow (conflicts) or descheduled,
    /// and a thread spinning or yielding on its core would only slow it down further.
    pub(crate) fn speculator(&self) {
        let mut evm = None;
        let mut waiting = Waiting::new(STEAL_AFTER);
        loop {
            match self.next_task() {
                Task::Run(index) => {
                    waiting = Waiting::new(STEAL_AFTER);
                    let evm = evm.get_or_insert_with(|| spec_evm(self.exec, self.state, self.env));
                    self.speculate_into(evm, index);
                    self.free_handed_back();
                }
                Task::Wait => {
                    if waiting.too_long() {
                        self.free_handed_back();
                        return;
                    }
                }
                Task::Done => {
                    self.free_handed_back();
                    return;
                }
            }
        }
    }

    /// Frees the spent runs handed back so far, unless the committing thread is handing
    /// some back right now (then they wait for the next look).
    fn free_handed_back(&self) {
        let spent = match self.spent.try_lock() {
            Ok(mut spent) if !spent.is_empty() => std::mem::take(&mut *spent),
            _ => return,
        };
        drop(spent);
    }

    /// Hands `spent` back for a speculating thread to free, once it holds a batch and unless
    /// a speculating thread is taking the last batch right now.
    fn hand_back(&self, spent: &mut Spent) {
        if spent.runs.len() < SPENT_BATCH {
            return;
        }
        if let Ok(mut shared) = self.spent.try_lock() {
            shared.append(spent);
        }
    }

    /// The committing thread: the block in order, as `Executor::execute_block` would do it.
    pub(crate) fn commit(&self) -> Result<(ExecutedBlock, ParallelStats), ExecError> {
        let result = self.commit_in_order();
        // Whatever happened, the speculators have nothing more to do.
        self.stop.store(true, Ordering::Relaxed);
        result
    }

    /// The speculative runs of every thread, into `phases` (once they have all stopped).
    pub(crate) fn runs_into(&self, phases: &mut Phases) {
        self.runs.write_to(phases);
    }

    fn commit_in_order(&self) -> Result<(ExecutedBlock, ParallelStats), ExecError> {
        let clock = self.clock;
        let mut phases = Phases::default();
        let start = clock.start();
        let mut run = BlockRun::new(self.exec, self.state, self.env, self.txs.len());
        run.begin()?;
        Clock::stop(start, &mut phases.beginning_ns);
        let mut evm: Option<SpecEvm<'a>> = None;
        if self.opts.speculate_all {
            // Every transaction speculated before any is committed: every non-system
            // transaction then goes through validation (the equivalence tests use this).
            while let Task::Run(index) = self.next_task() {
                let evm = evm.get_or_insert_with(|| spec_evm(self.exec, self.state, self.env));
                self.speculate_into(evm, index);
            }
        }
        let mut stats = ParallelStats::default();
        let mut spent = Spent::default();
        for (index, tx) in self.txs.iter().enumerate() {
            self.turn.store(index, Ordering::Relaxed);
            if run.reject_early(index, tx)? {
                // Nobody needs to speculate it any more.
                self.claim(index);
                continue;
            }
            // Unclaimed at its turn (the committing thread claims it here), never speculated,
            // or its run not finished in time: the serial step.
            let serial = self.runs_serially(index) || run.inner_rules() || self.claim(index);
            let spec = if serial {
                None
            } else {
                self.wait_for(index, &mut evm, &mut phases)
            };
            let Some(mut spec) = spec else {
                stats.serial += 1;
                let start = clock.start();
                run.execute(index, tx)?;
                Clock::stop(start, &mut phases.serial_ns);
                continue;
            };
            let outcome = std::mem::replace(&mut spec.outcome, Outcome::Retry);
            let db = &mut run.evm.ctx.journaled_state.database;
            let start = clock.start();
            let holds = reads_hold(&spec.reads, db);
            Clock::stop(start, &mut phases.validating_ns);
            let start = clock.start();
            if !holds {
                stats.conflicts += 1;
                let checked = stats.conflicts + stats.speculative;
                if self.opts.fallback
                    && checked >= ABORT_AFTER_CHECKS
                    && stats.conflicts * 2 > checked
                    && !self.stop.swap(true, Ordering::Relaxed)
                {
                    stats.aborted = true;
                    tracing::debug!(
                        index,
                        ?stats,
                        "parallel execution: conflicts, serial from here"
                    );
                }
                run.execute(index, tx)?;
                spent.runs.push(spec);
                Clock::stop(start, &mut phases.serial_ns);
                continue;
            }
            stats.speculative += 1;
            match outcome {
                Outcome::Included {
                    mut result,
                    state,
                    blind_fee,
                } => {
                    learn_reads(&spec.reads, db);
                    let beneficiary = self.env.beneficiary;
                    let fee = match blind_fee {
                        Some(fee) => Some(blind_fee_credit(db, beneficiary, fee)?),
                        None => None,
                    };
                    let gas = result.tx_gas_used();
                    let (success, logs) = match &mut result {
                        ExecutionResult::Success { logs, .. } => (true, std::mem::take(logs)),
                        ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => {
                            (false, Vec::new())
                        }
                    };
                    let changes = state
                        .iter()
                        .chain(fee.iter().map(|account| (&beneficiary, account)));
                    run.commit_state_copied(gas, changes)?;
                    run.push_receipt(index, tx, success, logs)?;
                    spent.results.push((result, state));
                }
                Outcome::Rejected(reason) => run.reject(index, tx, reason),
                Outcome::Retry => run.execute(index, tx)?,
            }
            spent.runs.push(spec);
            self.hand_back(&mut spent);
            Clock::stop(start, &mut phases.applying_ns);
        }
        let start = clock.start();
        // What no speculating thread freed: one of them, idle by now, frees it (most was
        // allocated in its arena) while the diff is read, on the threads left.
        if let Ok(mut shared) = self.spent.lock() {
            spent.append(&mut shared);
        }
        let out = rayon::in_place_scope(|scope| {
            scope.spawn(move |_| drop(spent));
            run.finish_on(self.opts.threads)
        });
        Clock::stop(start, &mut phases.finishing_ns);
        stats.phases = clock.on.then_some(phases);
        Ok((out, stats))
    }

    /// The speculative run of `index` (claimed by someone), speculating on later
    /// transactions while it is not finished; None if it is not finished within
    /// [`STEAL_AFTER`] of waiting, and the caller runs the transaction serially instead.
    fn wait_for(
        &self,
        index: usize,
        evm: &mut Option<SpecEvm<'a>>,
        phases: &mut Phases,
    ) -> Option<Box<Speculative>> {
        let start = self.clock.start();
        let speculated_before_ns = phases.speculating_ns;
        let spec = self.wait_for_run(index, evm, phases);
        if start.is_some() {
            let mut waited_ns = 0;
            Clock::stop(start, &mut waited_ns);
            let speculated_ns = phases.speculating_ns.saturating_sub(speculated_before_ns);
            phases.waiting_ns = phases
                .waiting_ns
                .saturating_add(waited_ns.saturating_sub(speculated_ns));
        }
        spec
    }

    fn wait_for_run(
        &self,
        index: usize,
        evm: &mut Option<SpecEvm<'a>>,
        phases: &mut Phases,
    ) -> Option<Box<Speculative>> {
        let slot = &self.slots[index];
        let patience = if self.opts.speculate_all {
            SPECULATE_ALL_WAIT
        } else {
            STEAL_AFTER
        };
        let mut waiting = Waiting::new(patience);
        while slot.status.load(Ordering::Acquire) != DONE {
            if let Task::Run(other) = self.next_task() {
                let evm = evm.get_or_insert_with(|| spec_evm(self.exec, self.state, self.env));
                let start = self.clock.start();
                self.speculate_into(evm, other);
                Clock::stop(start, &mut phases.speculating_ns);
                waiting = Waiting::new(patience);
            } else if waiting.too_long() {
                return None;
            }
        }
        slot.run.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A bounded busy wait: spinning (not yielding: a yielding thread can keep the CPU from the
/// thread it waits for on a loaded machine) until [`STEAL_AFTER`] has passed; past it, a
/// longer `limit` (only `speculate_all`'s) yields between looks.
struct Waiting {
    spins: u32,
    since: Option<Instant>,
    limit: Duration,
}

impl Waiting {
    fn new(limit: Duration) -> Self {
        Waiting {
            spins: 0,
            since: None,
            limit,
        }
    }

    fn too_long(&mut self) -> bool {
        self.spins += 1;
        std::hint::spin_loop();
        // The clock is read every 64 spins, about a microsecond.
        if !self.spins.is_multiple_of(64) {
            return false;
        }
        let waited = self.since.get_or_insert_with(Instant::now).elapsed();
        if waited > STEAL_AFTER && waited <= self.limit {
            std::thread::yield_now();
        }
        waited > self.limit
    }
}
