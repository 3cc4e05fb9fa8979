//! The trace hash: SHA-256 over everything a run did, in order (each event with its time
//! and frame bytes, each stored block, each violation). Same seed and same code give the
//! same hash; any divergence of a replay, however small, changes it.

use sha2::{Digest, Sha256};

pub struct Trace {
    h: Sha256,
}

impl Default for Trace {
    fn default() -> Self {
        Trace { h: Sha256::new() }
    }
}

impl Trace {
    pub fn u64(&mut self, x: u64) {
        self.h.update(x.to_le_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.h.update(b);
    }

    /// The first 16 bytes of the digest, in hex (what the run prints).
    pub fn finish(self) -> String {
        self.h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
