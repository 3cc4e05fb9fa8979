//! Parallel execution within a block (spec/execution.md §3.6, EXEC-R17..R20): optimistic
//! speculation on the committed state, validated and committed in block order.
//!
//! - `readset.rs`: the database of speculative runs, which records every value read;
//! - `speculate.rs`: one speculative run, the beneficiary's fee held back;
//! - `validate.rs`: the commit-time check of a run's reads against the overlay;
//! - `schedule.rs`: the speculating threads and the committing thread;
//! - `phases.rs`: where a block's time went, when asked (benches).
//!
//! The result is exactly `Executor::execute_block`'s (EXEC-R17): the committing thread runs
//! the serial step itself for every transaction it does not take from a validated
//! speculative run. Contract authors declare nothing: conflicts are found from the values
//! each run actually read.

mod phases;
mod readset;
mod schedule;
mod speculate;
mod validate;

use crate::error::ExecError;
use crate::executor::{BlockEnv, ExecutedBlock, Executor};
use alloy_primitives::Address;
use bcos_storage::StateReader;
use bcos_types::RecoveredTx;
use std::sync::atomic::Ordering;

pub use phases::Phases;

/// Below this many transactions a block runs serially (EXEC-R20): starting threads costs
/// more than it saves.
pub const PARALLEL_TXS_MIN: usize = 8;
/// After a block whose speculation aborted (most runs conflicted), this many blocks run
/// serially before the next one tries again (EXEC-R20): a hot spot usually outlasts one
/// block, and each try costs the runs wasted before the abort.
pub const PARALLEL_BACKOFF_BLOCKS: u32 = 8;

/// How [`Executor::execute_block_parallel_with`] runs a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelOptions {
    /// Threads in all, the committing one included; 0 or 1 runs the block serially.
    pub threads: usize,
    /// EXEC-R20: run serially a block that a pre-scan shows to be contended, and stop
    /// speculating once most speculative runs fail. Default true.
    pub fallback: bool,
    /// Speculate every transaction before committing any, so that each goes through
    /// validation: slower, for tests of the equivalence. Default false.
    pub speculate_all: bool,
    /// Time the block's steps into [`ParallelStats::phases`] (benches). Default false: it
    /// reads the clock a few times per transaction.
    pub timed: bool,
}

impl ParallelOptions {
    pub fn new(threads: usize) -> Self {
        ParallelOptions {
            threads,
            fallback: true,
            speculate_all: false,
            timed: false,
        }
    }
}

/// How a block's transactions were committed (for metrics and tests; the result does not
/// depend on it). Transactions rejected before they run (EXEC-R6 1, EXEC-R13) are in none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParallelStats {
    /// Committed from a validated speculative run.
    pub speculative: usize,
    /// Speculated, but a read no longer held: run again serially.
    pub conflicts: usize,
    /// Run serially without speculation (not claimed yet at its turn, a system contract,
    /// after an abort).
    pub serial: usize,
    /// The block ran serially from the start (EXEC-R20 pre-scan, too few transactions or
    /// threads).
    pub serial_block: bool,
    /// Speculation stopped part-way because most runs conflicted (EXEC-R20).
    pub aborted: bool,
    /// Where the time went, with [`ParallelOptions::timed`] and a block not run serially
    /// from the start.
    pub phases: Option<Phases>,
}

impl Executor {
    /// [`Executor::execute_block`] or [`Executor::execute_block_parallel`], as
    /// `ExecConfig.parallel_threads` says (0, the default, is serial).
    pub fn execute_block_configured(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[RecoveredTx],
    ) -> Result<ExecutedBlock, ExecError> {
        self.execute_block_parallel(state, env, txs, self.config().parallel_threads)
    }

    /// The result of [`Executor::execute_block`] (EXEC-R17), computed on up to `threads`
    /// threads of the current rayon pool (EXEC-R18..R20); the calling thread waits.
    pub fn execute_block_parallel(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[RecoveredTx],
        threads: usize,
    ) -> Result<ExecutedBlock, ExecError> {
        self.execute_block_parallel_with(state, env, txs, ParallelOptions::new(threads))
            .map(|(block, _)| block)
    }

    /// [`Executor::execute_block_parallel`] with every option, and how it went.
    pub fn execute_block_parallel_with(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[RecoveredTx],
        opts: ParallelOptions,
    ) -> Result<(ExecutedBlock, ParallelStats), ExecError> {
        let serial = opts.threads <= 1
            || txs.len() < PARALLEL_TXS_MIN
            || (opts.fallback
                && (self.backing_off() || self.few_speculable(txs) || contended(txs)));
        if serial {
            let stats = ParallelStats {
                serial_block: true,
                ..Default::default()
            };
            return Ok((self.execute_block(state, env, txs)?, stats));
        }
        let block = schedule::Block::new(self, state, env, txs, opts);
        // The calling thread commits and pool threads speculate (schedule.rs). Handing the
        // committing part to the pool too (`rayon::scope`) made the caller wake one pool
        // thread, which then woke the next: the kernel often put both woken threads on one
        // core, the speculating one queued behind the committing one for 1-5 ms, and in
        // about half of 300 rounds of `parallel_ab 300 2 erc20_transfer` speculation started
        // only after most of the block was committed serially (2-vCPU guest, 2026-12-02).
        let mut out = rayon::in_place_scope(|scope| {
            for _ in 1..opts.threads {
                scope.spawn(|_| block.speculator());
            }
            block.commit()
        });
        if let Ok((_, stats)) = &mut out {
            if let Some(phases) = &mut stats.phases {
                block.runs_into(phases);
            }
            if stats.aborted {
                self.parallel_backoff
                    .store(PARALLEL_BACKOFF_BLOCKS, Ordering::Relaxed);
            }
        }
        out
    }

    /// EXEC-R20: fewer than [`PARALLEL_TXS_MIN`] transactions would be speculated (the rest
    /// are never, `Executor::never_speculated`), so the scheduler could only cost: a block of
    /// plain transfers, applied directly (EXEC-R21), ran 0.65-0.75x serial through it.
    fn few_speculable(&self, txs: &[RecoveredTx]) -> bool {
        txs.iter()
            .filter(|tx| !self.never_speculated(tx))
            .nth(PARALLEL_TXS_MIN - 1)
            .is_none()
    }

    /// True (and one block fewer to go) while blocks run serially after an abort. Which
    /// path runs never changes the result (EXEC-R17), so replicas may disagree on it.
    fn backing_off(&self) -> bool {
        self.parallel_backoff
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// How much of a call's calldata the pre-scan compares (EXEC-R20): a selector and the first
/// argument, e.g. ERC20 `transfer(to, amount)` up to `to`.
pub const CALL_PREFIX_BYTES: usize = 36;

/// EXEC-R20's pre-scan: more than half the block from one sender (each nonce depends on
/// the previous transaction), paying one account with a plain transfer (each reads the
/// balance the previous one wrote), or calling one contract with the same first
/// [`CALL_PREFIX_BYTES`] of calldata (a token transfer to one merchant: each reads the
/// balance slot the previous one wrote). Such a block runs serially without trying.
fn contended(txs: &[RecoveredTx]) -> bool {
    majority(txs.iter().map(|tx| tx.sender)).is_some()
        || matches!(majority(txs.iter().map(call_target)), Some(Some(_)))
}

/// What a transaction calls, for the pre-scan: a plain transfer's payee with no calldata, or
/// a contract with the first [`CALL_PREFIX_BYTES`] of its calldata (never empty, so the two
/// never meet); `None` for a creation or a call with a shorter calldata.
fn call_target(tx: &RecoveredTx) -> Option<(Address, &[u8])> {
    let to = tx.tx.to()?;
    let input = tx.input();
    match input.len() {
        0 => Some((to, &input[..])),
        n if n >= CALL_PREFIX_BYTES => Some((to, &input[..CALL_PREFIX_BYTES])),
        _ => None,
    }
}

/// The value that more than half of `items` equal, if one does: Boyer-Moore's majority
/// vote, two passes and no map. Counting senders and targets in hash maps took 157-177 µs
/// for a block of 1,000 transfers, the majority vote 26-27 µs; the block's serial execution
/// takes ~1.3 ms (2-core machine, 2026-12-01).
fn majority<T: PartialEq>(items: impl ExactSizeIterator<Item = T> + Clone) -> Option<T> {
    let len = items.len();
    let mut candidate = None;
    let mut votes = 0usize;
    for item in items.clone() {
        if votes == 0 {
            candidate = Some(item);
            votes = 1;
        } else if candidate.as_ref() == Some(&item) {
            votes += 1;
        } else {
            votes -= 1;
        }
    }
    let candidate = candidate?;
    let equal = items.filter(|item| *item == candidate).count();
    (equal > len / 2).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::majority;
    use proptest::prelude::*;

    fn counted_majority(items: &[u8]) -> Option<u8> {
        items
            .iter()
            .copied()
            .find(|x| items.iter().filter(|y| *y == x).count() > items.len() / 2)
    }

    #[test]
    fn majority_needs_more_than_half() {
        assert_eq!(majority([1, 2, 1, 2].into_iter()), None);
        assert_eq!(majority([1, 2, 1, 2, 1].into_iter()), Some(1));
        assert_eq!(majority([2, 1, 1].into_iter()), Some(1));
        assert_eq!(majority(std::iter::empty::<u8>()), None);
    }

    proptest! {
        #[test]
        fn majority_equals_counting(items in prop::collection::vec(0u8..4, 0..40)) {
            prop_assert_eq!(majority(items.iter().copied()), counted_majority(&items));
        }
    }
}
