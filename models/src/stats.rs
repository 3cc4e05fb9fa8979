//! Coverage of a run: how many checked states hold a commit, commits of one height at two
//! or more honest nodes, the highest height committed, and protocol probes (pbft: a view
//! change carrying a lock). A run whose states never hold commits at two nodes checked
//! agreement on nothing, and says so (runner: INCONCLUSIVE).
//!
//! Counting rides on an `always` property that always holds ([`COVERAGE`]): stateright
//! evaluates properties once on every state it checks, and the runner leaves this one out
//! of its report.

use crate::core::ModelCore;
use crate::properties::honest;
use crate::system::{SysState, SystemModel};
use bcos_types::Height;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The name of the counting property.
pub const COVERAGE: &str = "coverage (counts states; always holds)";

/// Counters of one run.
#[derive(Debug, Default)]
pub struct Coverage {
    checked: AtomicUsize,
    with_commit: AtomicUsize,
    two_node_commit: AtomicUsize,
    max_height: AtomicU64,
    probes: Vec<(&'static str, AtomicUsize)>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageReport {
    /// States the properties were checked on (every state a search visited within its
    /// bound; a simulation counts a state once per walk that visits it).
    pub checked: usize,
    /// ... holding at least one honest commit.
    pub with_commit: usize,
    /// ... where two or more honest nodes committed the same height.
    pub two_node_commit: usize,
    /// The highest height an honest node committed.
    pub max_height: Height,
    /// Protocol probes: name → states where the probe held.
    pub probes: Vec<(&'static str, usize)>,
}

impl Coverage {
    pub fn new(probes: &[&'static str]) -> Self {
        Coverage {
            probes: probes.iter().map(|p| (*p, AtomicUsize::new(0))).collect(),
            ..Coverage::default()
        }
    }

    pub fn report(&self) -> CoverageReport {
        CoverageReport {
            checked: self.checked.load(Ordering::Relaxed),
            with_commit: self.with_commit.load(Ordering::Relaxed),
            two_node_commit: self.two_node_commit.load(Ordering::Relaxed),
            max_height: self.max_height.load(Ordering::Relaxed),
            probes: self
                .probes
                .iter()
                .map(|(n, c)| (*n, c.load(Ordering::Relaxed)))
                .collect(),
        }
    }
}

/// The counting property's condition: counts `s`, always holds.
pub fn record<P: ModelCore>(m: &SystemModel<P>, s: &SysState<P>) -> bool {
    let c = &m.coverage;
    c.checked.fetch_add(1, Ordering::Relaxed);
    let mut per_height: BTreeMap<Height, usize> = BTreeMap::new();
    for (_, node) in honest(m, s) {
        for h in node.commits.keys() {
            *per_height.entry(*h).or_default() += 1;
        }
    }
    if let Some(top) = per_height.keys().next_back() {
        c.with_commit.fetch_add(1, Ordering::Relaxed);
        c.max_height.fetch_max(*top, Ordering::Relaxed);
    }
    if per_height.values().any(|k| *k >= 2) {
        c.two_node_commit.fetch_add(1, Ordering::Relaxed);
    }
    for ((_, probe), (_, counter)) in m.probes.iter().zip(&c.probes) {
        if probe(m, s) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    true
}
