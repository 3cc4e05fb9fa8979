//! Synchronisation primitives, swapped for loom's under `--cfg loom` so the hand-off between
//! the pool and the sealer can be model-checked (see `doorbell`).

#[cfg(loom)]
pub use loom::sync::{Arc, Condvar, Mutex};
#[cfg(not(loom))]
pub use std::sync::{Arc, Condvar, Mutex};
