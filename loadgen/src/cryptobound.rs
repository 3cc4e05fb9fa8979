//! The crypto bound: secp256k1 sender recoveries per second per core, timed at the start of a
//! run (about [`MEASURE_MS`]), between its workloads and at its end. Sender recovery is the
//! per-transaction bottleneck (about 93 % of a transfer's CPU cost,
//! shared/reference/machine-limits.md), so committed TPS × nodes ÷ (this × cores) says how
//! close the node gets to the hardware's limit.
//!
//! Every core measures at once and the figure is their sum ÷ cores: the machine's capacity
//! when all its cores work, which is what the node under load gets. One thread alone read
//! whichever core the scheduler gave it, and the cores of a shared guest differ: on a 2-vCPU
//! guest (2026-12-02) two threads measuring side by side read 12.2 k and 18.0 k, 11.7 k and
//! 19.1 k, 12.5 k and 20.1 k in three rounds, and one thread alone read 12-22 k from one
//! second to the next while the node's closed-loop throughput held at 19-21 k tx/s.

use alloy_primitives::{keccak256, B256};
use std::time::{Duration, Instant};

/// How long the start and end measurements run. 1 s was too short on a shared guest: eight
/// 1 s samples in a row on an idle 2-vCPU guest (2026-11-30) ranged from 13.4 k to 17.4 k
/// recoveries/s.
pub const MEASURE_MS: u64 = 3_000;
/// The shorter reading taken before each workload after the first (the nodes idle).
pub const BETWEEN_MEASURE_MS: u64 = 1_500;
/// Distinct signatures rotated through, so the loop does not run on one hot value.
const SAMPLES: usize = 256;

/// One measurement on every core at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The threads' recoveries per second summed ÷ the threads.
    pub per_core: f64,
    /// Each thread's own rate, for the log: how far the cores were apart.
    pub by_thread: Vec<f64>,
}

impl Reading {
    pub fn describe(&self) -> String {
        let each: Vec<String> = self
            .by_thread
            .iter()
            .map(|r| format!("{:.1} k", r / 1_000.0))
            .collect();
        format!(
            "{:.0} recoveries/s per core ({} threads at once: {})",
            self.per_core,
            self.by_thread.len(),
            each.join(", ")
        )
    }
}

/// Recoveries per second per core, `cores` threads (at least one) measuring at once.
pub fn recoveries_per_s_per_core(measure: Duration, cores: usize) -> anyhow::Result<Reading> {
    let by_thread = std::thread::scope(|s| {
        let threads: Vec<_> = (0..cores.max(1))
            .map(|_| s.spawn(|| recoveries_per_s(measure)))
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .map_err(|_| anyhow::anyhow!("a crypto bound thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<f64>>>()
    })?;
    let per_core = by_thread.iter().sum::<f64>() / by_thread.len() as f64;
    Ok(Reading {
        per_core,
        by_thread,
    })
}

/// Recoveries per second on the calling thread.
fn recoveries_per_s(measure: Duration) -> anyhow::Result<f64> {
    let key = bcos_crypto::dev_keys(bcos_crypto::TEST_MNEMONIC, 1)?.remove(0);
    let sigs: Vec<(B256, [u8; 64], u8)> = (0..SAMPLES)
        .map(|i| {
            let prehash = keccak256((i as u64).to_be_bytes());
            let sig = bcos_crypto::sign_prehash(prehash.0, &key);
            let mut compact = [0u8; 64];
            compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
            compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
            (prehash, compact, u8::from(sig.v()))
        })
        .collect();
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < measure {
        for (prehash, compact, parity) in &sigs {
            bcos_crypto::recover_address(*prehash, compact, *parity)
                .map_err(|e| anyhow::anyhow!("recovering a fresh signature failed: {e}"))?;
        }
        done += SAMPLES as u64;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn every_core_measures_and_the_figure_is_their_mean() {
        let r = super::recoveries_per_s_per_core(Duration::from_millis(20), 2).expect("measured");
        assert_eq!(r.by_thread.len(), 2);
        assert!(r.by_thread.iter().all(|t| *t > 0.0), "{r:?}");
        let mean = r.by_thread.iter().sum::<f64>() / 2.0;
        assert!((r.per_core - mean).abs() < 1e-9, "{r:?}");
        assert!(
            r.describe().contains("2 threads at once"),
            "{}",
            r.describe()
        );
    }

    #[test]
    fn zero_cores_still_measure_on_one_thread() {
        let r = super::recoveries_per_s_per_core(Duration::from_millis(20), 0).expect("measured");
        assert_eq!(r.by_thread.len(), 1);
        assert!(r.per_core > 0.0);
    }
}
