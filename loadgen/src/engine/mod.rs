//! The load engine: sends one pre-signed transaction set at one load level — open loop at a
//! target rate (latency from each transaction's scheduled send time, so a stalled sender
//! cannot hide queueing: no coordinated omission) or closed loop at a fixed number in flight —
//! through a warm-up and a measured window, tracking every transaction's commit by polling
//! blocks. [`saturation`] steps the open-loop rate up to find the knee.

pub mod closed_loop;
pub mod commit_tracker;
pub mod open_loop;
pub mod saturation;
mod send;
mod summary;

pub use summary::{summarize, Summary};

use crate::progress::Progress;
use crate::workload::SignedTx;
use commit_tracker::{CommitTracker, TrackerConfig};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
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
/// loops steer by. Shared by senders, the commit tracker and the coordinator.
pub struct Timing {
    epoch: Instant,
    pub send_ns: Vec<AtomicU64>,
    pub commit_ns: Vec<AtomicU64>,
    pub sent: AtomicU64,
    pub committed: AtomicU64,
    pub refused: AtomicU64,
    /// Sent and neither committed nor refused (closed loop reserves slots here first).
    pub in_flight: AtomicI64,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Timing {
    pub fn new(count: usize, epoch: Instant) -> Timing {
        Timing {
            epoch,
            send_ns: (0..count).map(|_| AtomicU64::new(UNSET)).collect(),
            commit_ns: (0..count).map(|_| AtomicU64::new(UNSET)).collect(),
            sent: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
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
        for i in idx {
            if self.commit_ns[i]
                .compare_exchange(UNSET, now_ns, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                n += 1;
            }
        }
        if n > 0 {
            self.committed.fetch_add(n, Ordering::Relaxed);
            self.in_flight.fetch_sub(n as i64, Ordering::Relaxed);
            self.notify();
        }
    }

    pub fn mark_refused(&self, i: usize) {
        if self.commit_ns[i]
            .compare_exchange(UNSET, REFUSED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
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
    /// The closed loop used every pre-signed transaction before the window ended.
    pub ran_out: bool,
    /// Transactions sent, of `total` pre-signed (the closed loop leaves the rest unsent).
    pub sent: u64,
    pub total: usize,
}

/// Shared state of the sending threads.
pub struct Shared {
    pub txs: Vec<SignedTx>,
    pub timing: Arc<Timing>,
    pub stop: AtomicBool,
    /// Set on failure: also ends the open loop, which otherwise sends its whole schedule so
    /// that no sender's nonce sequence is left with a gap.
    pub abort: AtomicBool,
    /// Next unclaimed transaction of the closed loop.
    pub next: AtomicUsize,
    /// A sender hit an error (it is returned when the level ends).
    pub failed: AtomicBool,
    /// When the closed loop ran out of transactions (ns), or UNSET.
    pub ran_out_ns: AtomicU64,
    pub refusals: Mutex<HashMap<String, u64>>,
}

/// Runs one level: warm-up, window, drain. `on_edge` runs at the window's edges.
pub fn run_level(
    urls: &[String],
    txs: Vec<SignedTx>,
    spec: &LevelSpec,
    label: &str,
    on_edge: &mut dyn FnMut(Edge) -> anyhow::Result<()>,
) -> anyhow::Result<LevelOutcome> {
    anyhow::ensure!(!urls.is_empty(), "no node URL");
    let index: HashMap<_, u32> = txs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.hash, i as u32))
        .collect();
    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        timing: Arc::new(Timing::new(txs.len(), epoch)),
        txs,
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        ran_out_ns: AtomicU64::new(UNSET),
        refusals: Mutex::new(HashMap::new()),
    });
    let tracker = CommitTracker::spawn(
        &urls[0],
        Arc::new(index),
        shared.timing.clone(),
        spec.tracker,
    )?;
    let w0 = (spec.warmup_s * 1e9) as u64;
    let w1 = w0 + (spec.window_s * 1e9) as u64;
    let schedule = match spec.load {
        Load::Open { rate_per_s } => Some(Arc::new(open_loop::Schedule::new(
            rate_per_s,
            shared.txs.len(),
        ))),
        Load::Closed { .. } => None,
    };
    let senders: Vec<_> = (0..spec.connections)
        .map(|i| {
            let (shared, url, spec2, schedule) = (
                shared.clone(),
                urls[i % urls.len()].clone(),
                spec.clone(),
                schedule.clone(),
            );
            std::thread::Builder::new()
                .name(format!("sender-{i}"))
                .spawn(move || -> anyhow::Result<()> {
                    let result = (|| {
                        let mut sender = send::Sender::connect(&url)?;
                        match (spec2.load, schedule) {
                            (Load::Open { .. }, Some(s)) => {
                                let clock = open_loop::RealClock(&shared.timing);
                                open_loop::run_sender(
                                    &s,
                                    &clock,
                                    spec2.batch_max,
                                    &shared.abort,
                                    |r| sender.send(&shared, r),
                                )
                            }
                            (Load::Closed { concurrency }, _) => closed_loop::run_sender(
                                &shared,
                                concurrency,
                                spec2.batch_max,
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
        if !tracker.alive() || shared.failed.load(Ordering::Relaxed) {
            failure = Some("a sender or the commit tracker stopped early");
            shared.abort.store(true, Ordering::Relaxed);
            break;
        }
        let t = &shared.timing;
        let msg = format!(
            "sent {} committed {} refused {} in flight {}",
            t.sent.load(Ordering::Relaxed),
            t.committed.load(Ordering::Relaxed),
            t.refused.load(Ordering::Relaxed),
            t.in_flight.load(Ordering::Relaxed)
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
    while !shared.timing.settled() && Instant::now() < drain_deadline && tracker.alive() {
        shared.timing.wait_change(Duration::from_millis(TICK_MS));
    }
    let tracker_result = tracker.stop();
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
    Ok(LevelOutcome {
        summary,
        offered_tps,
        refusals,
        ran_out: ran_out_ns != UNSET,
        sent,
        total: shared.txs.len(),
    })
}
