//! Saturation search: offer rate r, r·f, r·f², … (open loop) until committed TPS stops
//! following the offered rate (committed < follow_ratio × offered) or p99 latency exceeds
//! the limit. The knee is the highest offered rate that still followed — when a step did stop
//! following. A search that ran out of steps (`steps_max`) first found no knee, only a lower
//! bound for it, and says so ([`SaturationEnd::StepsExhausted`]).

pub use crate::results::SaturationEnd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub offered_tps: f64,
    pub committed_tps: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct SearchSpec {
    pub start_tps: f64,
    pub step_factor: f64,
    pub steps_max: usize,
    pub follow_ratio: f64,
    /// p99 above this stops the search; 0 = no latency limit.
    pub p99_ms_max: f64,
}

impl SearchSpec {
    /// Whether a step's committed throughput and latency still follow the offer.
    pub fn follows(&self, s: &Step) -> bool {
        s.committed_tps >= self.follow_ratio * s.offered_tps
            && (self.p99_ms_max <= 0.0 || s.p99_ms <= self.p99_ms_max)
    }

    /// Offered rate of step `k` (0-based).
    pub fn rate(&self, k: usize) -> f64 {
        self.start_tps * self.step_factor.powi(k as i32)
    }
}

/// The highest offered rate among the steps before the first that stopped following; None
/// when even the first step did not follow.
pub fn knee(spec: &SearchSpec, steps: &[Step]) -> Option<f64> {
    steps
        .iter()
        .take_while(|s| spec.follows(s))
        .last()
        .map(|s| s.offered_tps)
}

/// How a search over `steps` ended: only a step that stopped following locates the knee.
pub fn end(spec: &SearchSpec, steps: &[Step]) -> SaturationEnd {
    match steps.iter().position(|s| !spec.follows(s)) {
        Some(0) => SaturationEnd::FirstStepSaturated,
        Some(_) => SaturationEnd::KneeFound,
        None => SaturationEnd::StepsExhausted,
    }
}

/// What a search measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub steps: Vec<Step>,
    /// The highest offered rate that followed (a lower bound when `end` is StepsExhausted).
    pub knee: Option<f64>,
    pub end: SaturationEnd,
}

/// Runs steps with `run_step(rate)` until one stops following or `steps_max` is reached.
pub fn search(
    spec: &SearchSpec,
    mut run_step: impl FnMut(usize, f64) -> anyhow::Result<Step>,
) -> anyhow::Result<Outcome> {
    let mut steps = Vec::new();
    for k in 0..spec.steps_max.max(1) {
        let step = run_step(k, spec.rate(k))?;
        steps.push(step);
        if !spec.follows(&step) {
            break;
        }
    }
    Ok(Outcome {
        knee: knee(spec, &steps),
        end: end(spec, &steps),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SearchSpec {
        SearchSpec {
            start_tps: 1000.0,
            step_factor: 1.25,
            steps_max: 20,
            follow_ratio: 0.9,
            p99_ms_max: 500.0,
        }
    }

    /// A synthetic node: commits min(offered, capacity), latency explodes near capacity.
    fn node(capacity: f64) -> impl FnMut(usize, f64) -> anyhow::Result<Step> {
        move |_, offered| {
            let committed = offered.min(capacity);
            let p99_ms = if offered < capacity * 0.95 {
                50.0
            } else {
                2000.0
            };
            Ok(Step {
                offered_tps: offered,
                committed_tps: committed,
                p99_ms,
            })
        }
    }

    #[test]
    fn finds_the_last_rate_below_capacity() {
        let Outcome { steps, knee, end } =
            search(&spec(), node(5000.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(end, SaturationEnd::KneeFound);
        // Rates 1000, 1250, 1562.5, 1953.1, 2441.4, 3051.8, 3814.7, 4768.4 (> 0.95·cap: p99 fails).
        let knee = knee.unwrap_or(0.0);
        assert!((knee - 3814.697).abs() < 0.01, "{knee}");
        assert_eq!(steps.len(), 8);
        assert!(!spec().follows(steps.last().unwrap_or(&steps[0])));
    }

    #[test]
    fn throughput_shortfall_alone_stops_the_search() {
        let s = SearchSpec {
            p99_ms_max: 0.0,
            ..spec()
        };
        let steps = [
            Step {
                offered_tps: 1000.0,
                committed_tps: 1000.0,
                p99_ms: 9e9,
            },
            Step {
                offered_tps: 1250.0,
                committed_tps: 1200.0,
                p99_ms: 9e9,
            },
            Step {
                offered_tps: 1562.5,
                committed_tps: 1300.0,
                p99_ms: 9e9,
            },
            Step {
                offered_tps: 1953.0,
                committed_tps: 1953.0,
                p99_ms: 9e9,
            },
        ];
        assert_eq!(knee(&s, &steps), Some(1250.0));
    }

    #[test]
    fn no_knee_when_the_first_step_fails_and_steps_are_bounded() {
        let o = search(&spec(), node(500.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (o.steps.len(), o.knee, o.end),
            (1, None, SaturationEnd::FirstStepSaturated)
        );
    }

    /// A node that keeps up with every step: the search stops at `steps_max`, and the last
    /// step is a lower bound of the knee, not the knee.
    #[test]
    fn a_search_capped_before_saturation_reaches_no_knee() {
        let s = SearchSpec {
            steps_max: 3,
            ..spec()
        };
        let o = search(&s, node(1e9)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.steps.len(), 3);
        assert_eq!(o.knee, Some(1562.5));
        assert_eq!(o.end, SaturationEnd::StepsExhausted);
    }
}
