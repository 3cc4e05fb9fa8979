//! Runs the checker on a model: progress about once a second, then the totals, the verdict
//! and, for each violated property, the counterexample path.

use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path};
use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Write as _};
use std::hash::Hash;
use std::io::Write;
use std::time::Duration;

/// How to search.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop exploring below this depth (`None`: the whole reachable state space).
    pub depth_max: Option<usize>,
    /// Checker threads (default 2: the machine is shared).
    pub threads: usize,
    /// Depth-first instead of breadth-first (BFS finds the shortest counterexample).
    pub dfs: bool,
    /// Stop after generating this many states (repeats included). Memory guard: a PBFT state
    /// costs kilobytes, and 4 nodes blow past the machine's RAM within a minute unbounded.
    pub states_max: Option<usize>,
    /// Give up after this many seconds (`None`: no limit). A run cut short proves nothing about the states it did not reach.
    pub time_limit_s: Option<u64>,
    /// Stop at the first violated property instead of exploring everything.
    pub stop_on_failure: bool,
    /// Print progress lines (to stderr) while checking.
    pub progress: bool,
    /// Steps an earlier scripted stage took to reach the initial state (rendered, numbered
    /// from 1) and how many: counterexamples are printed as prefix + own path, numbered on.
    pub trace_prefix: Option<(String, usize)>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            depth_max: None,
            threads: 2,
            dfs: false,
            time_limit_s: None,
            states_max: None,
            stop_on_failure: true,
            progress: false,
            trace_prefix: None,
        }
    }
}

/// A violated `always`/`eventually` property.
#[derive(Debug, Clone)]
pub struct Failure {
    pub property: &'static str,
    /// The counterexample, one step a line, ending with the state that violates it.
    pub trace: String,
    pub steps: usize,
}

/// What one check found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub states: usize,
    pub unique_states: usize,
    pub depth_reached: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    /// `sometimes` properties with an example.
    pub examples: Vec<&'static str>,
    /// `sometimes` properties without one (vacuous model, or the depth bound cut it off).
    pub unreached: Vec<&'static str>,
    /// The state or time limit stopped the search before the space (within the depth
    /// bound) was exhausted.
    pub cut_short: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The closing summary: totals, verdict, counterexamples.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "states explored: {}\nunique states:   {}\nmax depth:       {}\ntime:            {:.2} s",
            self.states,
            self.unique_states,
            self.depth_reached,
            self.elapsed.as_secs_f64()
        );
        for e in &self.examples {
            let _ = writeln!(s, "example found:   {e}");
        }
        for u in &self.unreached {
            let _ = writeln!(s, "NOT reached:     {u} (no example within the bound)");
        }
        for f in &self.failures {
            let _ = writeln!(
                s,
                "\nVIOLATED: {} — counterexample of {} steps:\n{}",
                f.property, f.steps, f.trace
            );
        }
        let verdict = match (self.passed(), self.cut_short) {
            (false, _) => "FAIL",
            (true, false) => "PASS: no property violated",
            (true, true) => {
                "INCONCLUSIVE: no violation in the states explored before the state/time limit"
            }
        };
        let _ = writeln!(s, "verdict:         {verdict}");
        s
    }
}

struct Progress {
    enabled: bool,
}

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, d: ReportData) {
        if self.enabled && !d.done {
            let _ = writeln!(
                std::io::stderr(),
                "[{:>6.1}s] explored {} states ({} unique), depth {}",
                d.duration.as_secs_f64(),
                d.total_states,
                d.unique_states,
                d.max_depth
            );
        }
    }
    fn report_discoveries(&mut self, _: &M, _: BTreeMap<&'static str, ReportDiscovery<M>>) {}
}

/// Checks `model`; `describe` renders the violating state at the end of a counterexample.
pub fn run<M>(model: M, opts: &RunOptions, describe: fn(&M::State) -> String) -> Outcome
where
    M: Model + Send + Sync + Clone + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let properties = model.properties();
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    if let Some(d) = opts.depth_max {
        builder = builder.target_max_depth(d);
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
    let start = std::time::Instant::now();
    let mut reporter = Progress {
        enabled: opts.progress,
    };
    // join_and_report waits at least one reporting interval, so quiet runs (tests) join.
    let (states, unique, depth, discoveries) = {
        match (opts.dfs, opts.progress) {
            (true, true) => totals(builder.spawn_dfs().join_and_report(&mut reporter)),
            (true, false) => totals(builder.spawn_dfs().join()),
            (false, true) => totals(builder.spawn_bfs().join_and_report(&mut reporter)),
            (false, false) => totals(builder.spawn_bfs().join()),
        }
    };
    let elapsed = start.elapsed();
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut unreached = Vec::new();
    for p in &properties {
        match (&p.expectation, discoveries.get(p.name)) {
            (Expectation::Sometimes, Some(_)) => examples.push(p.name),
            (Expectation::Sometimes, None) => unreached.push(p.name),
            (_, Some(path)) => failures.push(Failure {
                property: p.name,
                trace: render_path(&model, path, describe, opts.trace_prefix.as_ref()),
                steps: path.clone().into_actions().len()
                    + opts.trace_prefix.as_ref().map_or(0, |(_, n)| *n),
            }),
            (_, None) => {}
        }
    }
    let cut_short = opts.states_max.is_some_and(|n| states >= n)
        || opts.time_limit_s.is_some_and(|t| elapsed.as_secs() >= t);
    Outcome {
        states,
        unique_states: unique,
        depth_reached: depth,
        elapsed,
        failures,
        examples,
        unreached,
        cut_short,
    }
}

type Totals<M> = (
    usize,
    usize,
    usize,
    HashMap<&'static str, Path<<M as Model>::State, <M as Model>::Action>>,
);

fn totals<M, C>(c: C) -> Totals<M>
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

fn render_path<M>(
    model: &M,
    path: &Path<M::State, M::Action>,
    describe: fn(&M::State) -> String,
    prefix: Option<&(String, usize)>,
) -> String
where
    M: Model,
    M::State: Clone + Debug,
    M::Action: Clone + Debug,
{
    let mut s = String::new();
    let offset = prefix.map_or(0, |(text, n)| {
        s.push_str(text);
        *n
    });
    for (i, action) in path.clone().into_actions().iter().enumerate() {
        let _ = writeln!(
            s,
            "  {:>3}. {}",
            offset + i + 1,
            model.format_action(action)
        );
    }
    let _ = writeln!(s, "  final state:\n{}", describe(path.last_state()));
    s
}
