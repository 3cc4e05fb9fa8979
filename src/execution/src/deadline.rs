//! The wall-clock limit of eth_call and eth_estimateGas (spec/execution.md §3.5, EXEC-R12).
//!
//! revm has no time limit of its own, and gas alone does not bound time: a cold storage read
//! costs a few thousand gas but can take a disk seek. [`Deadline`] is an inspector that reads
//! the clock every [`STEPS_PER_CLOCK_READ`] interpreter steps. Once the deadline has passed it
//! halts the running frame and sets the context error, which makes revm abandon the whole
//! message at the next frame boundary (`EVMError::Custom`) instead of letting the caller
//! frame carry on.

use revm::context_interface::{ContextError, ContextTr};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{InstructionResult, Interpreter};
use revm::Inspector;
use std::time::Instant;

/// Interpreter steps between two clock reads: a clock read costs about as much as a few
/// dozen cheap opcodes, so this keeps the check well under 1% of a call's time.
pub const STEPS_PER_CLOCK_READ: u32 = 1024;

/// Aborts execution once `at` has passed.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    at: Instant,
    /// `Instant::now`, or a scripted clock in tests.
    clock: fn() -> Instant,
    steps_left: u32,
    expired: bool,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Self {
        Self::with_clock(at, Instant::now)
    }

    pub(crate) fn with_clock(at: Instant, clock: fn() -> Instant) -> Self {
        // The first step reads the clock, so a deadline already past stops the first opcode.
        Deadline {
            at,
            clock,
            steps_left: 0,
            expired: false,
        }
    }

    pub(crate) fn expired(&self) -> bool {
        self.expired
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        if !self.expired {
            if self.steps_left > 0 {
                self.steps_left -= 1;
                return;
            }
            self.steps_left = STEPS_PER_CLOCK_READ;
            if (self.clock)() < self.at {
                return;
            }
            self.expired = true;
        }
        *context.error() = Err(ContextError::Custom("execution timeout".to_string()));
        interp.halt(InstructionResult::OutOfGas);
    }
}
