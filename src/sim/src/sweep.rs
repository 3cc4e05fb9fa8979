//! Many seeds in a row: which failed, how fast it went.

use crate::config::SimConfig;
use crate::report::Report;
use std::time::Instant;

/// The outcome of a sweep.
#[derive(Debug, Default)]
pub struct SweepResult {
    pub runs: u64,
    /// Failing runs, with their first violation (an inconclusive run is not one).
    pub failures: Vec<Report>,
    pub blocks: u64,
    pub wall_s: f64,
}

impl SweepResult {
    pub fn seeds_per_min(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.runs as f64 * 60.0 / self.wall_s
        } else {
            0.0
        }
    }

    pub fn blocks_per_s(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.blocks as f64 / self.wall_s
        } else {
            0.0
        }
    }
}

/// Runs `base` with each seed of `seeds`; `each` sees every report as it comes (progress
/// output). Stops after `stop_after` failures when given.
pub fn sweep(
    base: &SimConfig,
    seeds: std::ops::Range<u64>,
    stop_after: Option<usize>,
    mut each: impl FnMut(&Report),
) -> anyhow::Result<SweepResult> {
    let started = Instant::now();
    let mut out = SweepResult::default();
    for seed in seeds {
        let cfg = SimConfig {
            seed,
            ..base.clone()
        };
        let r = crate::run(&cfg)?;
        out.runs += 1;
        out.blocks += r.height;
        each(&r);
        if r.failed() {
            out.failures.push(r);
            if stop_after.is_some_and(|k| out.failures.len() >= k) {
                break;
            }
        }
    }
    out.wall_s = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Parses `A..B` (B excluded).
pub fn parse_seed_range(s: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("--seeds {s:?}: expected A..B"))?;
    let a: u64 = a.parse().map_err(|_| format!("--seeds {s:?}: bad start"))?;
    let b: u64 = b.parse().map_err(|_| format!("--seeds {s:?}: bad end"))?;
    if b <= a {
        return Err(format!("--seeds {s:?}: empty range"));
    }
    Ok(a..b)
}
