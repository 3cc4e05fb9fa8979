//! `loadgen amop`: AMOP round trips between two nodes (issue 16's bench). An echo responder
//! subscribes on one node (`--responder`), `--clients` requesters on another (`--rpc`) each
//! send `--count` requests of `--size` bytes one after another; the result is the
//! round-trip latency (p50, p99, max, from an HDR histogram) and the answered requests per
//! second of all clients together. Every answer is checked against its request.

use anyhow::{bail, Context};
use bcos_rpc::amop_client::AmopClient;
use bcos_types::Bytes;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct AmopArgs {
    /// Where the requesters attach (ws://host:port[/g/<group>]).
    #[arg(long)]
    pub rpc: String,
    /// Where the echo responder attaches (another node of the group, for a cross-node
    /// measure; the same node measures without the P2P hop).
    #[arg(long)]
    pub responder: String,
    #[arg(long, default_value = "loadgen-amop")]
    pub topic: String,
    /// Requesters, each on its own connection.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Requests per requester.
    #[arg(long, default_value_t = 2000)]
    pub count: u64,
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// How long the requesters wait for the responder's topic to be reachable.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn responder(
    url: &str,
    topic: &str,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let mut c = AmopClient::connect(url)?;
    c.subscribe(topic, None)?;
    Ok(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match c.next_event(Some(Duration::from_millis(50))) {
                Ok(Some(e)) if e.kind == "request" => {
                    if let Err(err) = c.respond(e.id, &e.data) {
                        eprintln!("amop responder: {err:#}");
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    eprintln!("amop responder: {err:#}");
                    return;
                }
            }
        }
    }))
}

struct Outcome {
    latencies_us: Histogram<u64>,
    failed: u64,
    wrong: u64,
    first_error: Option<String>,
}

fn requester(a: &AmopArgs, who: usize) -> anyhow::Result<Outcome> {
    let mut c = AmopClient::connect(&a.rpc)?;
    let mut out = Outcome {
        latencies_us: Histogram::new(3)?,
        failed: 0,
        wrong: 0,
        first_error: None,
    };
    let timeout = Duration::from_millis(a.timeout_ms);
    for i in 0..a.count {
        let mut data = vec![0u8; a.size];
        let tag = ((who as u64) << 40 | i).to_be_bytes();
        let n = tag.len().min(a.size);
        data[..n].copy_from_slice(&tag[..n]);
        let data = Bytes::from(data);
        let t = Instant::now();
        match c.request(&a.topic, &data, timeout)? {
            Ok(answer) => {
                out.latencies_us
                    .record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                if answer != data {
                    out.wrong += 1;
                }
            }
            Err((code, m)) => {
                out.failed += 1;
                out.first_error.get_or_insert(format!("{m} ({code})"));
            }
        }
    }
    Ok(out)
}

pub fn run(a: &AmopArgs) -> anyhow::Result<()> {
    if a.clients == 0 || a.count == 0 {
        bail!("--clients and --count must be positive");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let echo = responder(&a.responder, &a.topic, stop.clone()).context("the responder")?;
    // The responder's node announces the topic within an interval: wait for an answer.
    let mut probe = AmopClient::connect(&a.rpc)?;
    let ready = Instant::now();
    while probe
        .request(
            &a.topic,
            &Bytes::from_static(b"ready"),
            Duration::from_secs(2),
        )?
        .is_err()
    {
        if ready.elapsed() > READY_TIMEOUT {
            bail!(
                "no subscriber of {} became reachable from {}",
                a.topic,
                a.rpc
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let start = Instant::now();
    let outcomes: Vec<anyhow::Result<Outcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients)
            .map(|who| s.spawn(move || requester(a, who)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a requester panicked")))
            })
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    let mut all = Histogram::<u64>::new(3)?;
    let (mut failed, mut wrong, mut first_error) = (0, 0, None);
    for o in outcomes {
        let o = o?;
        all.add(&o.latencies_us)?;
        failed += o.failed;
        wrong += o.wrong;
        first_error = first_error.or(o.first_error);
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "topic": a.topic,
            "clients": a.clients,
            "requests": a.count * a.clients as u64,
            "answered": all.len(),
            "wrongAnswers": wrong,
            "failed": failed,
            "firstError": first_error,
            "sizeBytes": a.size,
            "p50Ms": ms(0.50),
            "p99Ms": ms(0.99),
            "maxMs": all.max() as f64 / 1000.0,
            "answeredPerS": all.len() as f64 / secs,
        })
    );
    if failed > 0 || wrong > 0 {
        bail!("{failed} requests failed and {wrong} answers were wrong");
    }
    Ok(())
}
