//! The load engine: sends one pre-signed transaction set at one load level — open loop at a
//! target rate (latency from each transaction's scheduled send time, so a stalled sender
//! cannot hide queueing: no coordinated omission) or closed loop at a fixed number in flight —
//! through a warm-up and a measured window, tracking every transaction's commit by polling
//! blocks. [`saturation`] steps the open-loop rate up to find the knee.
//!
//! A level may span several groups (chains of one cluster, [`crate::groups`]): each group's
//! transactions occupy a contiguous range of one index with one epoch, so the level's
//! latency percentiles and TPS timeline are those of the aggregate; each group has its own
//! share of the load (its own open-loop schedule or closed-loop slots), its own sender
//! connections and its own commit tracker following that group's blocks.

pub mod closed_loop;
pub mod commit_tracker;
pub mod open_loop;
pub mod saturation;
mod send;
mod summary;

pub use summary::{summarize, Summary};

use crate::progress::Progress;
use crate::workload::SignedTx;
use anyhow::Context;
pub use commit_tracker::{pack_position, unpack_position, Committed};
use commit_tracker::{CommitTracker, TrackerConfig};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `send_ns`/`commit_ns` value of a transaction not sent or not committed yet.
pub const UNSET: u64 = u64::MAX;
/// `commit_ns` value of a transaction the node refused (or whose batch failed).
pub const REFUSED: u64 = u64::MAX - 1;
/// How often the coordinator updates progress and checks the window edges.
const TICK_MS: u64 = 100;

/// Per-transaction send and commit times (ns since the level's epoch) and the counters the
/// loops steer by. Shared by senders, the commit trackers and the coordinator. Group g's
/// transactions are the positions `groups()[g]`.
pub struct Timing {
    epoch: Instant,
    pub send_ns: Vec<AtomicU64>,
    pub commit_ns: Vec<AtomicU64>,
    /// Where each committed transaction landed ([`pack_position`]), or UNSET.
    pub position: Vec<AtomicU64>,
    pub sent: AtomicU64,
    pub committed: AtomicU64,
    pub refused: AtomicU64,
    /// Per group: sent and neither committed nor refused (closed loop reserves slots here
    /// first).
    pub in_flight: Vec<AtomicI64>,
    groups: Vec<Range<usize>>,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Timing {
    /// One group of `count` transactions.
    pub fn new(count: usize, epoch: Instant) -> Timing {
        Timing::grouped(&[count], epoch)
    }

    /// Groups of `sizes[g]` transactions each, laid out one after the other.
    pub fn grouped(sizes: &[usize], epoch: Instant) -> Timing {
        let mut groups = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &n in sizes {
            groups.push(start..start + n);
            start += n;
        }
        Timing {
            epoch,
            send_ns: (0..start).map(|_| AtomicU64::new(UNSET)).collect(),
            commit_ns: (0..start).map(|_| AtomicU64::new(UNSET)).collect(),
            position: (0..start).map(|_| AtomicU64::new(UNSET)).collect(),
            sent: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            in_flight: sizes.iter().map(|_| AtomicI64::new(0)).collect(),
            groups,
            lock: Mutex::new(()),
            changed: Condvar::new(),
        }
    }

    /// Each group's positions.
    pub fn groups(&self) -> &[Range<usize>] {
        &self.groups
    }

    /// The group transaction `i` belongs to.
    pub fn group_of(&self, i: usize) -> usize {
        self.groups
            .partition_point(|r| r.end <= i)
            .min(self.groups.len().saturating_sub(1))
    }

    /// In flight over all groups.
    pub fn in_flight_total(&self) -> i64 {
        self.in_flight
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .sum()
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Group `group`'s transactions committed at `w0..w1`, with where they landed.
    pub fn commits_in(&self, group: usize, w0: u64, w1: u64) -> Vec<Committed> {
        let range = self.groups.get(group).cloned().unwrap_or_default();
        let start = range.start;
        range
            .filter_map(|i| {
                let ns = self.commit_ns[i].load(Ordering::Relaxed);
                let (block, index) = unpack_position(self.position[i].load(Ordering::Relaxed))?;
                (ns < REFUSED && (w0..w1).contains(&ns)).then_some(Committed {
                    tx: i - start,
                    block,
                    index,
                    ns,
                })
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.send_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.send_ns.is_empty()
    }

    /// Records that `range` was sent, with the time latency is measured from.
    pub fn mark_sent(&self, range: std::ops::Range<usize>, send_ns: impl Fn(usize) -> u64) {
        let n = range.len() as u64;
        for i in range {
            self.send_ns[i].store(send_ns(i), Ordering::Relaxed);
        }
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn mark_committed(&self, idx: impl Iterator<Item = usize>, now_ns: u64) {
        let mut n = 0;
        // (group, newly committed) of the current run of one group: a block's transactions
        // are all of one group, so this is one in-flight update per block.
        let mut run: Option<(usize, i64)> = None;
        for i in idx {
            if self.commit_ns[i]
                .compare_exchange(UNSET, now_ns, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                n += 1;
                let g = self.group_of(i);
                match &mut run {
                    Some((rg, k)) if *rg == g => *k += 1,
                    _ => {
                        if let Some((rg, k)) = run.replace((g, 1)) {
                            self.in_flight[rg].fetch_sub(k, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        if let Some((g, k)) = run {
            self.in_flight[g].fetch_sub(k, Ordering::Relaxed);
        }
        if n > 0 {
            self.committed.fetch_add(n, Ordering::Relaxed);
            self.notify();
        }
    }

    pub fn mark_refused(&self, i: usize) {
        if self.commit_ns[i]
            .compare_exchange(UNSET, REFUSED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            self.in_flight[self.group_of(i)].fetch_sub(1, Ordering::Relaxed);
            self.notify();
        }
    }

    fn notify(&self) {
        let _g = self.lock.lock();
        self.changed.notify_all();
    }

    /// Waits until something commits or is refused, at most `timeout`.
    pub fn wait_change(&self, timeout: Duration) {
        let mut g = self.lock.lock();
        self.changed.wait_for(&mut g, timeout);
    }

    /// True when every sent transaction is committed or refused.
    pub fn settled(&self) -> bool {
        let done = self.committed.load(Ordering::Relaxed) + self.refused.load(Ordering::Relaxed);
        done >= self.sent.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Load {
    Open { rate_per_s: f64 },
    Closed { concurrency: usize },
}

#[derive(Debug, Clone)]
pub struct LevelSpec {
    pub load: Load,
    pub warmup_s: f64,
    pub window_s: f64,
    pub drain_s: f64,
    pub batch_max: usize,
    pub connections: usize,
    pub tracker: TrackerConfig,
}

/// Edges of the measured window, for snapshots of node metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    WindowStart,
    WindowEnd,
}

#[derive(Debug, Clone)]
pub struct LevelOutcome {
    pub summary: Summary,
    pub offered_tps: f64,
    /// Refusal messages with counts (the first few distinct ones).
    pub refusals: Vec<(String, u64)>,
    /// The closed loop used every pre-signed transaction (of some group) before the window
    /// ended.
    pub ran_out: bool,
    /// Transactions sent, of `total` pre-signed (the closed loop leaves the rest unsent).
    pub sent: u64,
    pub total: usize,
    /// The level's epoch: every `*_ns` time is measured from it.
    pub epoch: Instant,
    /// Per group, the transactions committed in the window and where they landed.
    pub window_commits: Vec<Vec<Committed>>,
}

/// One group's part of a level: the group's endpoint on each node (`/g/<g>` when the level
/// spans several groups) and its pre-signed transactions, whose request ids are their
/// positions in `txs`.
pub struct GroupLevel {
    pub urls: Vec<String>,
    pub txs: Vec<SignedTx>,
    /// This group's share of the level's load ([`crate::groups::split_load`]).
    pub load: Load,
}

/// What the senders of one group share.
pub struct GroupShared {
    /// The group's positions in [`Shared::txs`].
    pub range: Range<usize>,
    /// Next unclaimed transaction of the closed loop (relative to `range.start`).
    pub next: AtomicUsize,
}

/// Shared state of the sending threads.
pub struct Shared {
    /// Every group's transactions, group after group (see [`Timing::groups`]).
    pub txs: Vec<SignedTx>,
    pub groups: Vec<GroupShared>,
    pub timing: Arc<Timing>,
    pub stop: AtomicBool,
    /// Set on failure: also ends the open loop, which otherwise sends its whole schedule so
    /// that no sender's nonce sequence is left with a gap.
    pub abort: AtomicBool,
    /// A sender hit an error (it is returned when the level ends).
    pub failed: AtomicBool,
    /// When the closed loop ran out of transactions (ns), or UNSET.
    pub ran_out_ns: AtomicU64,
    pub refusals: Mutex<HashMap<String, u64>>,
}

/// Runs one level over one or more groups: warm-up, window, drain. `on_edge` runs at the
/// window's edges. Connections are spread over the groups and nodes by
/// [`crate::groups::assign_connections`]; each group's commit tracker polls the group's
/// endpoint on the first node, every `tracker.poll_interval_ms × groups` ms, so all the
/// trackers together poll as often as one does in a single-group level.
pub fn run_level(
    levels: Vec<GroupLevel>,
    spec: &LevelSpec,
    label: &str,
    on_edge: &mut dyn FnMut(Edge) -> anyhow::Result<()>,
) -> anyhow::Result<LevelOutcome> {
    anyhow::ensure!(!levels.is_empty(), "no group");
    anyhow::ensure!(levels.iter().all(|l| !l.urls.is_empty()), "no node URL");
    let groups = levels.len();
    let sizes: Vec<usize> = levels.iter().map(|l| l.txs.len()).collect();
    let epoch = Instant::now();
    let timing = Arc::new(Timing::grouped(&sizes, epoch));
    let mut txs = Vec::with_capacity(timing.len());
    let mut urls = Vec::with_capacity(groups);
    let mut loads = Vec::with_capacity(groups);
    for l in levels {
        txs.extend(l.txs);
        urls.push(l.urls);
        loads.push(l.load);
    }
    let shared = Arc::new(Shared {
        groups: timing
            .groups()
            .iter()
            .map(|r| GroupShared {
                range: r.clone(),
                next: AtomicUsize::new(0),
            })
            .collect(),
        timing,
        txs,
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        failed: AtomicBool::new(false),
        ran_out_ns: AtomicU64::new(UNSET),
        refusals: Mutex::new(HashMap::new()),
    });
    let tracker_config = TrackerConfig {
        poll_interval_ms: spec.tracker.poll_interval_ms * groups as u64,
        ..spec.tracker
    };
    let trackers = shared
        .groups
        .iter()
        .enumerate()
        .map(|(g, gs)| {
            let index: HashMap<_, u32> = gs
                .range
                .clone()
                .map(|i| (shared.txs[i].hash, i as u32))
                .collect();
            CommitTracker::spawn(
                &urls[g][0],
                g,
                Arc::new(index),
                shared.timing.clone(),
                tracker_config,
            )
            .with_context(|| format!("starting the commit tracker of group {g}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let w0 = (spec.warmup_s * 1e9) as u64;
    let w1 = w0 + (spec.window_s * 1e9) as u64;
    let schedules: Vec<Option<Arc<open_loop::Schedule>>> = loads
        .iter()
        .zip(&shared.groups)
        .map(|(load, gs)| match *load {
            Load::Open { rate_per_s } => Some(Arc::new(open_loop::Schedule::for_range(
                rate_per_s,
                gs.range.clone(),
            ))),
            Load::Closed { .. } => None,
        })
        .collect();
    let nodes = urls.iter().map(Vec::len).max().unwrap_or(1);
    let senders: Vec<_> = crate::groups::assign_connections(spec.connections, groups, nodes)
        .into_iter()
        .enumerate()
        .map(|(i, (g, node))| {
            let (shared, url, batch_max, load, schedule) = (
                shared.clone(),
                urls[g][node % urls[g].len()].clone(),
                spec.batch_max,
                loads[g],
                schedules[g].clone(),
            );
            std::thread::Builder::new()
                .name(format!("sender-{i}"))
                .spawn(move || -> anyhow::Result<()> {
                    let result = (|| {
                        let offset = shared.groups[g].range.start;
                        let mut sender = send::Sender::connect(&url, offset)?;
                        match (load, schedule) {
                            (Load::Open { .. }, Some(s)) => {
                                let clock = open_loop::RealClock(&shared.timing);
                                open_loop::run_sender(&s, &clock, batch_max, &shared.abort, |r| {
                                    sender.send(&shared, r)
                                })
                            }
                            (Load::Closed { concurrency }, _) => closed_loop::run_sender(
                                &shared,
                                g,
                                concurrency,
                                batch_max,
                                &mut sender,
                            ),
                            _ => Ok(()),
                        }
                    })();
                    if result.is_err() {
                        shared.failed.store(true, Ordering::Relaxed);
                        shared.abort.store(true, Ordering::Relaxed);
                    }
                    result
                })
        })
        .collect::<Result<_, _>>()?;

    let alive = |trackers: &[CommitTracker]| trackers.iter().all(CommitTracker::alive);
    let mut progress = Progress::start(label, w1 / 1_000_000);
    let mut in_window = false;
    let mut failure = None;
    loop {
        let now = shared.timing.now_ns();
        let ran_out = shared.ran_out_ns.load(Ordering::Relaxed);
        if !in_window && now >= w0 {
            in_window = true;
            on_edge(Edge::WindowStart)?;
        }
        if now >= w1 || (ran_out != UNSET && now >= w0) {
            break;
        }
        if !alive(&trackers) || shared.failed.load(Ordering::Relaxed) {
            failure = Some("a sender or a commit tracker stopped early");
            shared.abort.store(true, Ordering::Relaxed);
            break;
        }
        let t = &shared.timing;
        let msg = format!(
            "sent {} committed {} refused {} in flight {}",
            t.sent.load(Ordering::Relaxed),
            t.committed.load(Ordering::Relaxed),
            t.refused.load(Ordering::Relaxed),
            t.in_flight_total()
        );
        progress.update(now / 1_000_000, &msg);
        std::thread::sleep(Duration::from_millis(TICK_MS));
    }
    let end_ns = shared.timing.now_ns();
    shared.stop.store(true, Ordering::Relaxed);
    if in_window {
        on_edge(Edge::WindowEnd)?;
    }
    let mut sender_error = None;
    for s in senders {
        match s.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => sender_error = Some(e),
            Err(_) => sender_error = Some(anyhow::anyhow!("a sender thread panicked")),
        }
    }
    let drain_deadline = Instant::now() + Duration::from_secs_f64(spec.drain_s);
    while !shared.timing.settled() && Instant::now() < drain_deadline && alive(&trackers) {
        shared.timing.wait_change(Duration::from_millis(TICK_MS));
    }
    let mut tracker_result = Ok(());
    for (g, tracker) in trackers.into_iter().enumerate() {
        let r = tracker.stop();
        if tracker_result.is_ok() {
            tracker_result = r.with_context(|| format!("the commit tracker of group {g}"));
        }
    }
    progress.finish(&format!(
        "committed {}",
        shared.timing.committed.load(Ordering::Relaxed)
    ));
    tracker_result?;
    if let Some(e) = sender_error {
        return Err(e.context("sending transactions"));
    }
    if let Some(f) = failure {
        anyhow::bail!(f);
    }
    let ran_out_ns = shared.ran_out_ns.load(Ordering::Relaxed);
    let w1_eff = end_ns.min(w1).max(w0 + 1);
    let summary = summarize(&shared.timing, w0, w1_eff);
    let offered_tps = match spec.load {
        Load::Open { rate_per_s } => rate_per_s,
        Load::Closed { .. } => summary.submitted as f64 / summary.window_s,
    };
    let mut refusals: Vec<(String, u64)> = shared
        .refusals
        .lock()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    refusals.sort_by_key(|r| std::cmp::Reverse(r.1));
    let sent = shared.timing.sent.load(Ordering::Relaxed);
    let window_commits = (0..groups)
        .map(|g| shared.timing.commits_in(g, w0, w1_eff))
        .collect();
    Ok(LevelOutcome {
        summary,
        offered_tps,
        refusals,
        ran_out: ran_out_ns != UNSET,
        sent,
        total: shared.txs.len(),
        epoch: shared.timing.epoch(),
        window_commits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_consecutive_ranges_of_one_index() {
        let t = Timing::grouped(&[3, 0, 2], Instant::now());
        assert_eq!(t.len(), 5);
        assert_eq!(t.groups(), [0..3, 3..3, 3..5]);
        let of: Vec<usize> = (0..5).map(|i| t.group_of(i)).collect();
        assert_eq!(of, [0, 0, 0, 2, 2]);
        let one = Timing::new(4, Instant::now());
        assert_eq!(one.groups().to_vec(), vec![0..4]);
        assert_eq!(one.group_of(3), 0);
    }

    #[test]
    fn positions_pack_and_commits_in_the_window_keep_them() {
        assert_eq!(
            unpack_position(pack_position(123_456, 9_999)),
            Some((123_456, 9_999))
        );
        assert_eq!(unpack_position(UNSET), None);
        let t = Timing::grouped(&[2, 2], Instant::now());
        t.mark_sent(0..4, |_| 1);
        t.position[2].store(pack_position(7, 3), Ordering::Relaxed);
        t.mark_committed([2].into_iter(), 50);
        t.position[3].store(pack_position(9, 0), Ordering::Relaxed);
        t.mark_committed([3].into_iter(), 500);
        assert_eq!(
            t.commits_in(1, 10, 100),
            [Committed {
                tx: 0,
                block: 7,
                index: 3,
                ns: 50
            }]
        );
        assert!(t.commits_in(0, 0, 1000).is_empty());
    }

    #[test]
    fn commits_and_refusals_settle_their_own_group() {
        let t = Timing::grouped(&[4, 4], Instant::now());
        for g in 0..2 {
            t.in_flight[g].fetch_add(4, Ordering::Relaxed);
        }
        t.mark_sent(0..8, |_| 1);
        // One block of group 1, then one of group 0 (a tracker marks one block at a time);
        // a repeated commit counts once.
        t.mark_committed([4, 5, 6].into_iter(), 10);
        t.mark_committed([0, 4].into_iter(), 11);
        t.mark_refused(7);
        t.mark_refused(7);
        assert_eq!(t.in_flight[0].load(Ordering::Relaxed), 3);
        assert_eq!(t.in_flight[1].load(Ordering::Relaxed), 0);
        assert_eq!(t.in_flight_total(), 3);
        assert_eq!(t.committed.load(Ordering::Relaxed), 4);
        assert_eq!(t.refused.load(Ordering::Relaxed), 1);
        assert!(!t.settled());
        t.mark_committed([1, 2, 3].into_iter(), 12);
        assert!(t.settled());
    }
}
