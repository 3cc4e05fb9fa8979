//! Helpers shared by the model test files (each includes this module).
#![allow(dead_code)]

use bcos_models::protocols::{check, CheckRequest};
use bcos_models::{Faults, Outcome, RunOptions, Verdict};

/// A request on one checker thread, so unique state counts are deterministic.
pub fn req(f: impl FnOnce(&mut CheckRequest)) -> CheckRequest {
    let mut r = CheckRequest {
        run: RunOptions {
            threads: 1,
            ..RunOptions::default()
        },
        ..CheckRequest::default()
    };
    f(&mut r);
    r
}

/// The outcome of the single run `protocol` makes for `r`.
pub fn one_of(protocol: &str, r: &CheckRequest) -> Outcome {
    let report = check(protocol, r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.runs.len(), 1);
    report.runs[0].1.clone()
}

pub fn faults(s: &str) -> Option<Faults> {
    Some(s.parse().unwrap_or_else(|e| panic!("{e}")))
}

/// States in which the named probe held (0 if the run has no such probe).
pub fn probe(o: &Outcome, name: &str) -> usize {
    o.coverage
        .probes
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, k)| *k)
}

/// The counterexample of `property` in a failed run.
pub fn caught(o: &Outcome, property: &str) -> String {
    assert_eq!(o.verdict(), Verdict::Fail, "{}", o.render());
    o.failures
        .iter()
        .find(|f| f.property == property)
        .unwrap_or_else(|| panic!("{property} not violated:\n{}", o.render()))
        .trace
        .clone()
}
