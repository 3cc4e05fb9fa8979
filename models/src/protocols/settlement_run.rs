//! The settlement model's coverage counters and runner: the same options, verdicts and
//! [`Outcome`] as `runner::run`, which is written for `SystemModel`.

use super::settlement_actors::{XsState, CHAINS};
use super::settlement_model::{Move, XsModel};
use crate::runner::{limited, totals, Extent, Failure, Outcome, Progress, RunOptions, Search};
use crate::stats::{CoverageReport, COVERAGE};
use stateright::{Checker, Expectation, Model, Path, Property, UniformChooser};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// What a refused step was refused for (the real code's answer, by rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NothingToSettle,
    BlockHasRecord,
    UnknownChain,
    Certificate,
    NotIncluded,
    WrongChainOrBlock,
    Replay,
    Gap,
    Inconsistent,
    Malformed,
}

impl Refused {
    pub const ALL: [Refused; 10] = [
        Refused::NothingToSettle,
        Refused::BlockHasRecord,
        Refused::UnknownChain,
        Refused::Certificate,
        Refused::NotIncluded,
        Refused::WrongChainOrBlock,
        Refused::Replay,
        Refused::Gap,
        Refused::Inconsistent,
        Refused::Malformed,
    ];

    /// The coverage line (steps, not states).
    pub fn label(self) -> &'static str {
        match self {
            Refused::NothingToSettle => "settle() refused by XS-R1, nothing to settle (steps)",
            Refused::BlockHasRecord => "settle() refused by XS-R1, block has a record (steps)",
            Refused::UnknownChain => "submissions refused by XS-R4, unregistered chain (steps)",
            Refused::Certificate => "submissions refused by XS-R5, certificate (steps)",
            Refused::NotIncluded => "submissions refused by XS-R6, not in receipts root (steps)",
            Refused::WrongChainOrBlock => "submissions refused by XS-R7, chain or block (steps)",
            Refused::Replay => "submissions refused by XS-R8, replay (steps)",
            Refused::Gap => "submissions refused by XS-R8, gap (steps)",
            Refused::Inconsistent => "submissions refused by XS-R9, inconsistent (steps)",
            Refused::Malformed => "submissions refused as malformed (steps)",
        }
    }
}

/// Coverage counters: states with a credit, the highest credited sequence number, probes
/// (states) and refusals (steps the real code refused, by [`Refused`]).
#[derive(Debug, Default)]
pub struct XsCoverage {
    checked: AtomicUsize,
    with_credit: AtomicUsize,
    max_seq: AtomicU64,
    probes: Vec<(&'static str, AtomicUsize)>,
    refusals: [AtomicUsize; Refused::ALL.len()],
}

impl XsCoverage {
    fn new(probes: &[&'static str]) -> Self {
        XsCoverage {
            probes: probes.iter().map(|p| (*p, AtomicUsize::new(0))).collect(),
            ..XsCoverage::default()
        }
    }

    /// Counts one refused step.
    pub fn refused(&self, why: Refused) {
        self.refusals[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// As the other models report it: "with a commit" = states where the merchant chain
    /// credited a record; "highest height" = the highest credited sequence number; the
    /// probes, then one line per refusal.
    pub fn report(&self) -> CoverageReport {
        let probes = self
            .probes
            .iter()
            .map(|(n, c)| (*n, c.load(Ordering::Relaxed)))
            .chain(Refused::ALL.iter().map(|r| {
                (
                    r.label(),
                    self.refusals[*r as usize].load(Ordering::Relaxed),
                )
            }))
            .collect();
        CoverageReport {
            checked: self.checked.load(Ordering::Relaxed),
            with_commit: self.with_credit.load(Ordering::Relaxed),
            two_node_commit: 0,
            max_height: self.max_seq.load(Ordering::Relaxed),
            probes,
        }
    }
}

/// The counting property's condition: counts `s`, always holds.
fn record(m: &XsModel, s: &XsState) -> bool {
    let c = &m.coverage;
    c.checked.fetch_add(1, Ordering::Relaxed);
    if s.credits() > 0 {
        c.with_credit.fetch_add(1, Ordering::Relaxed);
    }
    let top = (0..CHAINS.len())
        .map(|i| s.credited_seq(i))
        .max()
        .unwrap_or(0);
    c.max_seq.fetch_max(top, Ordering::Relaxed);
    for ((_, probe), (_, counter)) in m.probes.iter().zip(&c.probes) {
        if probe(m, s) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    true
}

/// Checks `model` as `runner::run` checks a `SystemModel`: the same options, verdicts and
/// [`Outcome`]; `describe` renders the state a counterexample ends in.
pub fn run(
    mut model: XsModel,
    opts: &RunOptions,
    describe: fn(&XsModel, &XsState) -> String,
) -> Outcome {
    let probes: Vec<&'static str> = model.probes.iter().map(|(n, _)| *n).collect();
    model.coverage = Arc::new(XsCoverage::new(&probes));
    model.properties.push(Property::always(COVERAGE, record));
    let properties = model.properties();
    let (builder, target) = limited(model.clone().checker(), opts);
    let start = std::time::Instant::now();
    let mut reporter = Progress {
        enabled: opts.progress,
    };
    let (states, unique, depth, discoveries) = match opts.search {
        Search::Dfs => totals(builder.spawn_dfs().join_and_report(&mut reporter)),
        Search::Bfs => totals(builder.spawn_bfs().join_and_report(&mut reporter)),
        Search::Simulation { seed } => totals(
            builder
                .spawn_simulation(seed, UniformChooser)
                .join_and_report(&mut reporter),
        ),
    };
    let elapsed = start.elapsed();
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut unreached = Vec::new();
    for p in properties.iter().filter(|p| p.name != COVERAGE) {
        match (&p.expectation, discoveries.get(p.name)) {
            (Expectation::Sometimes, Some(_)) => examples.push(p.name),
            (Expectation::Sometimes, None) => unreached.push(p.name),
            (_, Some(path)) => failures.push(Failure {
                property: p.name,
                trace: render_path(&model, path, describe),
                steps: path.clone().into_actions().len(),
            }),
            (_, None) => {}
        }
    }
    let extent = Extent::of(opts, target, (states, unique, depth), elapsed, &failures);
    Outcome {
        states,
        unique_states: extent.unique_states,
        depth_reached: extent.depth_reached,
        elapsed,
        failures,
        examples,
        unreached,
        cut_short: extent.cut_short,
        depth_cut: extent.depth_cut,
        search: opts.search,
        coverage: model.coverage.report(),
        // One committer (the merchant chain): the run must reach a state with a credit.
        nodes: 1,
    }
}

fn render_path(
    model: &XsModel,
    path: &Path<XsState, Move>,
    describe: fn(&XsModel, &XsState) -> String,
) -> String {
    let mut s = String::new();
    for (k, action) in path.clone().into_actions().iter().enumerate() {
        let _ = writeln!(s, "  {:>3}. {}", k + 1, model.format_action(action));
    }
    let _ = writeln!(s, "  final state:\n{}", describe(model, path.last_state()));
    s
}
