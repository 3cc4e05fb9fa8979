//! Runs a checker on a model: progress about once a second, then the totals, the coverage
//! (states with commits, with commits at two nodes, the highest height), the verdict and,
//! for each violated property, the counterexample path.
//!
//! Verdicts (models/README.md "Verdicts"): `FAIL` (a property is violated); `INCONCLUSIVE`
//! (a state or time limit stopped the search, or no checked state had commits at two honest
//! nodes, so agreement was checked on nothing); `BOUNDED (depth D)` (every state within D
//! steps checked, deeper ones exist and were not); `SAMPLED` (random walks, no claim of
//! completeness); `PASS` (every reachable state within the model's bounds checked).

use crate::core::ModelCore;
use crate::stats::{Coverage, CoverageReport, COVERAGE};
use crate::system::{Macro, Step};
use crate::system::{SysState, SystemModel};
use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Chooser, Expectation, HasDiscoveries, Model, Path, Property};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Breadth first: shortest counterexamples; with a depth bound, every state within it.
    Bfs,
    /// Depth first: memory for fingerprints only. Complete without a depth bound; with one,
    /// a state first met near the bound is not expanded again when met higher up, so the
    /// bound is not a guarantee.
    Dfs,
    /// Random walks from the initial state (stateright's simulation checker, choosing with
    /// [`DeliveryBiased`]), each at most `depth_max` steps; a tier beside the exhaustive
    /// one, for depth.
    Simulation { seed: u64 },
}

/// How to search and when to stop.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Check every state within this many steps (`None`: the whole reachable space).
    pub depth_max: Option<usize>,
    /// Checker threads (default 2: the machine is shared).
    pub threads: usize,
    pub search: Search,
    /// Stop after generating this many states (memory guard).
    pub states_max: Option<usize>,
    /// Give up after this many seconds. A run cut short proves nothing about the states it
    /// did not reach.
    pub time_limit_s: Option<u64>,
    /// Stop at the first violated property instead of exploring everything.
    pub stop_on_failure: bool,
    /// Print progress lines (to stderr) while checking.
    pub progress: bool,
    /// Steps an earlier scripted stage took to reach the initial state (rendered) and how
    /// many: counterexamples are printed as prefix + own path, numbered on.
    pub trace_prefix: Option<(String, usize)>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            depth_max: None,
            threads: 2,
            search: Search::Bfs,
            time_limit_s: None,
            states_max: None,
            stop_on_failure: true,
            progress: false,
            trace_prefix: None,
        }
    }
}

/// A depth as the CLI gives it (`Some(0)`: the whole space) with `default` for `None`.
pub fn depth_or(given: Option<usize>, default: Option<usize>) -> Option<usize> {
    match given {
        None => default,
        Some(0) => None,
        d => d,
    }
}

/// A violated `always`/`eventually` property.
#[derive(Debug, Clone)]
pub struct Failure {
    pub property: &'static str,
    /// The counterexample, one step a line, ending with the state that violates it.
    pub trace: String,
    /// Steps of the counterexample (the model's own steps, silent ones included).
    pub steps: usize,
}

/// The verdict of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Fail,
    Inconclusive(&'static str),
    Bounded(usize),
    Sampled,
    Pass,
}

impl Verdict {
    /// Whether the run did what it set out to do (exit code 0).
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Bounded(_) | Verdict::Sampled)
    }
}

/// What one check found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// States generated (with repeats).
    pub states: usize,
    /// Distinct states generated (simulation: distinct per walk only, so = `states`).
    pub unique_states: usize,
    pub depth_reached: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    /// `sometimes` properties with an example.
    pub examples: Vec<&'static str>,
    /// `sometimes` properties without one.
    pub unreached: Vec<&'static str>,
    /// The state or time limit stopped the search early.
    pub cut_short: bool,
    /// Some state lay beyond the depth bound (so the space was not exhausted).
    pub depth_cut: Option<usize>,
    pub search: Search,
    pub coverage: CoverageReport,
    /// Nodes in the model: with one (solo) there is no second node to agree with, and a
    /// state with a commit is what the run must reach.
    pub nodes: usize,
}

impl Outcome {
    /// No property violated (says nothing about coverage: see [`Outcome::verdict`]).
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn verdict(&self) -> Verdict {
        if !self.failures.is_empty() {
            Verdict::Fail
        } else if self.cut_short {
            Verdict::Inconclusive("stopped by the state/time limit before the search finished")
        } else if self.nodes >= 2 && self.coverage.two_node_commit == 0 {
            Verdict::Inconclusive("no checked state has commits at two honest nodes")
        } else if self.coverage.with_commit == 0 {
            Verdict::Inconclusive("no checked state has a commit")
        } else if matches!(self.search, Search::Simulation { .. }) {
            Verdict::Sampled
        } else if let Some(d) = self.depth_cut {
            Verdict::Bounded(d)
        } else {
            Verdict::Pass
        }
    }

    /// The closing summary: totals, coverage, verdict, counterexamples.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let c = &self.coverage;
        let _ = writeln!(
            s,
            "states generated: {}\nunique states:    {}\nstates checked:   {}\n  with a commit:  {}\n  two nodes committed one height: {}\n  highest height committed: {}",
            self.states, self.unique_states, c.checked, c.with_commit, c.two_node_commit, c.max_height
        );
        for (probe, k) in &c.probes {
            let _ = writeln!(s, "  {probe}: {k}");
        }
        let _ = writeln!(
            s,
            "max depth:        {}\ntime:             {:.2} s",
            self.depth_reached,
            self.elapsed.as_secs_f64()
        );
        for e in &self.examples {
            let _ = writeln!(s, "example found:    {e}");
        }
        for u in &self.unreached {
            let _ = writeln!(s, "NOT reached:      {u}");
        }
        for f in &self.failures {
            let _ = writeln!(
                s,
                "\nVIOLATED: {} — counterexample of {} steps:\n{}",
                f.property, f.steps, f.trace
            );
        }
        let verdict = match self.verdict() {
            Verdict::Fail => "FAIL".to_string(),
            Verdict::Inconclusive(why) => format!("INCONCLUSIVE: {why}"),
            Verdict::Bounded(d) => format!(
                "BOUNDED (depth {d}): no violation in any state within {d} steps; deeper states exist and were not checked"
            ),
            Verdict::Sampled => format!(
                "SAMPLED: no violation on {} states visited by random walks (not exhaustive)",
                c.checked
            ),
            Verdict::Pass => {
                "PASS: every reachable state within the model's bounds checked, no violation"
                    .to_string()
            }
        };
        let _ = writeln!(s, "verdict:          {verdict}");
        s
    }
}

/// Chooses a walk's next step at random, a delivery eight times as likely as a timeout,
/// restart or loss: uniform choices spend most of a walk on faults and rarely reach a
/// decision. Deterministic for a seed (splitmix64).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryBiased;

/// The chooser's random state.
pub struct WalkRng(u64);

impl WalkRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const DELIVERY_WEIGHT: u64 = 8;

impl<P: ModelCore> Chooser<SystemModel<P>> for DeliveryBiased {
    type State = WalkRng;

    fn new_state(&self, seed: u64) -> WalkRng {
        WalkRng(seed)
    }

    fn choose_initial_state(&self, _: &mut WalkRng, _: &[SysState<P>]) -> usize {
        0
    }

    fn choose_action(&self, rng: &mut WalkRng, _: &SysState<P>, actions: &[Macro<P>]) -> usize {
        let weight = |a: &Macro<P>| match a.steps.first() {
            Some(Step::Deliver(_)) => DELIVERY_WEIGHT,
            _ => 1,
        };
        let total: u64 = actions.iter().map(weight).sum();
        let mut pick = rng.next() % total.max(1);
        for (i, a) in actions.iter().enumerate() {
            let w = weight(a);
            if pick < w {
                return i;
            }
            pick -= w;
        }
        actions.len().saturating_sub(1)
    }
}

/// Prints the checker's progress about once a second when `enabled`.
pub(crate) struct Progress {
    pub enabled: bool,
}

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, d: ReportData) {
        if self.enabled && !d.done {
            let _ = writeln!(
                std::io::stderr(),
                "[{:>6.1}s] {} states ({} unique), depth {}",
                d.duration.as_secs_f64(),
                d.total_states,
                d.unique_states,
                d.max_depth
            );
        }
    }
    fn report_discoveries(&mut self, _: &M, _: BTreeMap<&'static str, ReportDiscovery<M>>) {}
}

pub(crate) type Totals<M> = (
    usize,
    usize,
    usize,
    HashMap<&'static str, Path<<M as Model>::State, <M as Model>::Action>>,
);

pub(crate) fn totals<M, C>(c: C) -> Totals<M>
where
    M: Model,
    M::State: Clone + PartialEq,
    M::Action: Clone + PartialEq,
    C: Checker<M>,
{
    (
        c.state_count(),
        c.unique_state_count(),
        c.max_depth(),
        c.discoveries(),
    )
}

/// `builder` with the limits of `opts` (threads, depth, states, time, stop on failure), and
/// the depth target stateright was given: it checks a state only below its depth target,
/// and the initial state has depth 1, so a state k steps deep is checked iff k + 1 < target.
pub(crate) fn limited<M: Model>(
    mut builder: stateright::CheckerBuilder<M>,
    opts: &RunOptions,
) -> (stateright::CheckerBuilder<M>, Option<usize>) {
    builder = builder.threads(opts.threads.max(1));
    let target = opts.depth_max.map(|d| d + 2);
    if let Some(t) = target {
        builder = builder.target_max_depth(t);
    }
    if let Some(n) = opts.states_max {
        builder = builder.target_state_count(n);
    }
    if let Some(t) = opts.time_limit_s {
        builder = builder.timeout(Duration::from_secs(t));
    }
    if opts.stop_on_failure {
        builder = builder.finish_when(HasDiscoveries::AnyFailures);
    }
    (builder, target)
}

/// How far a finished search got, as an [`Outcome`] reports it.
pub(crate) struct Extent {
    pub unique_states: usize,
    pub depth_reached: usize,
    pub cut_short: bool,
    pub depth_cut: Option<usize>,
}

impl Extent {
    /// From the checker's totals (states, unique states, max depth).
    pub(crate) fn of(
        opts: &RunOptions,
        target: Option<usize>,
        (states, unique, depth): (usize, usize, usize),
        elapsed: Duration,
        failures: &[Failure],
    ) -> Extent {
        let simulation = matches!(opts.search, Search::Simulation { .. });
        let cut_short = !simulation
            && failures.is_empty()
            && (opts.states_max.is_some_and(|n| states >= n)
                || opts.time_limit_s.is_some_and(|t| elapsed.as_secs() >= t));
        let depth_cut = match (target, simulation) {
            (Some(t), false) if depth >= t => opts.depth_max,
            _ => None,
        };
        Extent {
            unique_states: if simulation { states } else { unique },
            // stateright counts the initial state as depth 1 in its searches, as 0 in walks.
            depth_reached: if simulation {
                depth
            } else {
                depth.saturating_sub(1)
            },
            cut_short,
            depth_cut,
        }
    }
}

/// Checks `model`; `describe` renders the violating state at the end of a counterexample.
pub fn run<P: ModelCore>(
    mut model: SystemModel<P>,
    opts: &RunOptions,
    describe: fn(&SystemModel<P>, &SysState<P>) -> String,
) -> Outcome {
    if matches!(opts.search, Search::Simulation { .. }) {
        // A walk takes one step at a time: fusing would compute every silent continuation
        // of every choice only to keep one.
        model.env.fuse_silent = false;
    }
    let probes: Vec<&'static str> = model.probes.iter().map(|(n, _)| *n).collect();
    model.coverage = Arc::new(Coverage::new(&probes));
    model
        .properties
        .push(Property::always(COVERAGE, crate::stats::record::<P>));
    let properties = model.properties();
    let (builder, target) = limited(model.clone().checker(), opts);
    let start = std::time::Instant::now();
    let mut reporter = Progress {
        enabled: opts.progress,
    };
    let (states, unique, depth, discoveries) = match (opts.search, opts.progress) {
        (Search::Dfs, true) => totals(builder.spawn_dfs().join_and_report(&mut reporter)),
        (Search::Dfs, false) => totals(builder.spawn_dfs().join()),
        (Search::Bfs, true) => totals(builder.spawn_bfs().join_and_report(&mut reporter)),
        (Search::Bfs, false) => totals(builder.spawn_bfs().join()),
        (Search::Simulation { seed }, true) => totals(
            builder
                .spawn_simulation(seed, DeliveryBiased)
                .join_and_report(&mut reporter),
        ),
        (Search::Simulation { seed }, false) => {
            totals(builder.spawn_simulation(seed, DeliveryBiased).join())
        }
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
                trace: render_path(&model, path, describe, opts.trace_prefix.as_ref()),
                steps: path
                    .clone()
                    .into_actions()
                    .iter()
                    .map(|a| a.steps.len())
                    .sum::<usize>()
                    + opts.trace_prefix.as_ref().map_or(0, |(_, n)| *n),
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
        nodes: model.specs.len(),
    }
}

fn render_path<P: ModelCore>(
    model: &SystemModel<P>,
    path: &Path<SysState<P>, crate::system::Macro<P>>,
    describe: fn(&SystemModel<P>, &SysState<P>) -> String,
    prefix: Option<&(String, usize)>,
) -> String {
    let mut s = String::new();
    let mut k = prefix.map_or(0, |(text, n)| {
        s.push_str(text);
        *n
    });
    for action in path.clone().into_actions() {
        for step in &action.steps {
            k += 1;
            let _ = writeln!(s, "  {k:>3}. {}", model.format_step(step));
        }
    }
    let _ = writeln!(s, "  final state:\n{}", describe(model, path.last_state()));
    s
}
