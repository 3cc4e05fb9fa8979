//! Watches the merchant chain credit records: a thread polls the merchant chain's
//! `bcos_getSettlementStatus` every [`MONITOR_POLL_MS`] and stamps, per user chain, each new
//! `creditedSeq` with the time it was first seen (so a credit time is late by at most one
//! poll plus one RPC). [`super::lag::credit_times`] turns the stamps into per-record times.

use super::status;
use crate::rpc_client::RpcClient;
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pause between polls.
pub const MONITOR_POLL_MS: u64 = 20;
/// Consecutive failed polls after which the monitor gives up (about 10 s).
const FAILED_POLLS_MAX: u32 = 500;

/// What the monitor saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// chain id -> `creditedSeq` at the first poll (before the level).
    pub first: BTreeMap<u64, u64>,
    /// chain id -> (`creditedSeq`, when first seen) for each change, in order.
    pub changes: BTreeMap<u64, Vec<(u64, Instant)>>,
}

pub struct Monitor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<anyhow::Result<Seen>>>,
}

impl Monitor {
    /// Takes the first reading now (an error if the merchant chain does not answer), then
    /// polls in the background.
    pub fn start(merchant_url: &str) -> anyhow::Result<Monitor> {
        let url = merchant_url.to_string();
        let mut client = RpcClient::connect(&url)?;
        let first = status::merchant(&mut client).context("the merchant chain's status")?;
        let mut seen = Seen {
            first: first
                .chains
                .iter()
                .map(|c| (c.chain_id, c.credited_seq))
                .collect(),
            changes: BTreeMap::new(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("settlement-monitor".into())
            .spawn(move || -> anyhow::Result<Seen> {
                let mut last = seen.first.clone();
                let mut failed = 0u32;
                while !stop2.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(MONITOR_POLL_MS));
                    let s = match status::merchant(&mut client) {
                        Ok(s) => s,
                        Err(e) => {
                            failed += 1;
                            if failed >= FAILED_POLLS_MAX {
                                return Err(e.context(format!(
                                    "polling the merchant chain's status ({failed} polls failed in a row)"
                                )));
                            }
                            if let Ok(c) = RpcClient::connect(&url) {
                                client = c;
                            }
                            continue;
                        }
                    };
                    failed = 0;
                    let now = Instant::now();
                    for c in &s.chains {
                        let prev = last.entry(c.chain_id).or_insert(0);
                        if c.credited_seq > *prev {
                            *prev = c.credited_seq;
                            seen.changes
                                .entry(c.chain_id)
                                .or_default()
                                .push((c.credited_seq, now));
                        }
                    }
                }
                Ok(seen)
            })?;
        Ok(Monitor {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops polling and returns what was seen.
    pub fn stop(mut self) -> anyhow::Result<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the settlement monitor panicked"),
            None => Ok(Seen::default()),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
