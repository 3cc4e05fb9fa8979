//! Seeded bugs `SendBeforePersist` and `AckBeforeDurable` (simulator only): work a correct
//! driver does at once is left for the start of its next step, so a crash between two steps
//! falls into the gap (a vote sent but not persisted; a block announced but not stored).

use crate::block_exec::Candidate;

pub struct Deferred<D> {
    pub persist: Option<D>,
    pub commit: Option<(Candidate, Vec<u8>)>,
}

impl<D> Default for Deferred<D> {
    fn default() -> Self {
        Deferred {
            persist: None,
            commit: None,
        }
    }
}
