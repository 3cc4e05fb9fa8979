//! The synchronisation primitives the sender cache is built on: `loom`'s model-checked types
//! under `cfg(loom)`, `parking_lot` otherwise. Only this file names a concrete implementation,
//! so the loom test (tests/loom_sender_cache.rs) checks the very code production runs.

#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(loom)]
pub(crate) use loom_impl::Mutex;

#[cfg(loom)]
mod loom_impl {
    /// A `loom` mutex with parking_lot's non-poisoning `lock()` signature.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            // Shard state is kept consistent before any call that could panic, so a poisoned
            // lock still guards valid data (the same contract parking_lot gives).
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}
