//! Writing back the kernel's dirty page cache before the nodes are loaded.
//!
//! The kernel writes a dirty page back when it is `dirty_expire_centisecs` old (30 s by
//! default). A node commits a block with fdatasync on files that grow, and on ext4 each such
//! sync commits the journal, which first writes the data of every file whose blocks were
//! allocated in the same transaction. So when a large file written just before a run (the
//! node binary that certify built: over 500 MB with debug info) expires 30 s later, the
//! node's commits wait for all of it: measured on the 2-core CI machine (2026-11-30), 800 MB
//! of dirty pages synced under load stalled block commits for 1.06 s, and each of the 4
//! `ci-2core` certify runs whose build had compiled something failed its first saturation
//! step's p99 from such a stall (none of 50 without a build did). Writing that backlog back
//! before the first workload takes it out of the measured windows; the result records how
//! much there was.

use std::time::{Duration, Instant};

/// What [`settle`] wrote back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settled {
    /// Dirty and under-writeback page cache when it began (MiB).
    pub pending_mib: f64,
    pub took: Duration,
}

/// Writes back every dirty page of the machine (sync(2)) and says how much was pending.
pub fn settle() -> Settled {
    let pending_mib = pending_bytes(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default())
        as f64
        / (1024.0 * 1024.0);
    let started = Instant::now();
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    Settled {
        pending_mib,
        took: started.elapsed(),
    }
}

/// `Dirty` plus `Writeback` of a /proc/meminfo text, in bytes (0 for a field not there).
pub fn pending_bytes(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            if name != "Dirty" && name != "Writeback" {
                return None;
            }
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_counts_dirty_and_writeback_only() {
        let meminfo = "MemTotal:       24631192 kB\nDirty:            614420 kB\n\
                       Writeback:          1024 kB\nWritebackTmp:          7 kB\n";
        assert_eq!(pending_bytes(meminfo), (614_420 + 1024) * 1024);
        assert_eq!(pending_bytes("MemTotal: 1 kB\n"), 0);
        assert_eq!(pending_bytes("Dirty: lots kB\n"), 0);
    }
}
