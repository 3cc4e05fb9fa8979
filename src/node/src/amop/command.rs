//! `bcos amop sub|pub|req|bench`: AMOP from the command line. Output is JSON, one value
//! per line (`sub` prints one line per message), for scripts and the tests.

use super::private::personal_hash;
use anyhow::Context;
use bcos_rpc::amop::amop_auth_message;
use bcos_rpc::amop_client::AmopClient;
use bcos_types::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
pub struct AmopArgs {
    #[command(subcommand)]
    pub command: AmopCommand,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Respond {
    /// Print requests; answer none.
    None,
    /// Answer every request with its own data.
    Echo,
}

#[derive(Subcommand)]
pub enum AmopCommand {
    /// Subscribe to TOPIC and print each message and request as a JSON line. Several --rpc
    /// attach the same subscriber to several nodes (a request then reaches it through any
    /// of them that is alive).
    Sub {
        topic: String,
        #[arg(long, default_value = "ws://127.0.0.1:8545")]
        rpc: Vec<String>,
        #[arg(long, value_enum, default_value = "none")]
        respond: Respond,
        /// A private topic: the hex secret key of an authorised address.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Exit after this many events (0: run until killed).
        #[arg(long, default_value_t = 0)]
        count: u64,
    },
    /// Multicast DATA (0x-hex, or text) to every subscriber of TOPIC in the group.
    Pub {
        topic: String,
        data: String,
        #[arg(long, default_value = "ws://127.0.0.1:8545")]
        rpc: String,
    },
    /// Send DATA to one subscriber of TOPIC and print its answer.
    Req {
        topic: String,
        data: String,
        #[arg(long, default_value = "ws://127.0.0.1:8545")]
        rpc: String,
        #[arg(long, default_value_t = bcos_rpc::amop::AMOP_REQUEST_TIMEOUT_MS_DEFAULT)]
        timeout_ms: u64,
    },
    /// COUNT requests of SIZE bytes, one after another, to a subscriber that echoes: the
    /// round-trip latency (p50, p99) and requests per second; every failure is reported.
    Bench {
        topic: String,
        #[arg(long, default_value = "ws://127.0.0.1:8545")]
        rpc: String,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, default_value_t = bcos_rpc::amop::AMOP_REQUEST_TIMEOUT_MS_DEFAULT)]
        timeout_ms: u64,
    },
}

/// 0x-hex as bytes; anything else as its UTF-8 text.
fn data_of(text: &str) -> anyhow::Result<Bytes> {
    if text.starts_with("0x") {
        return text.parse().context("DATA starts with 0x but is not hex");
    }
    Ok(Bytes::copy_from_slice(text.as_bytes()))
}

fn print(v: serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

fn auth(
    client: &mut AmopClient,
    topic: &str,
    key_file: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let key = crate::keyfile::read_secret_key(key_file)?;
    let nonce = client.challenge(topic)?;
    let sig = bcos_crypto::sign_prehash(personal_hash(&amop_auth_message(topic, &nonce)).0, &key);
    Ok(json!({
        "address": bcos_crypto::address_of(&key),
        "nonce": nonce,
        "signature": Bytes::from(sig.as_bytes().to_vec()),
    }))
}

pub fn run(args: AmopArgs) -> anyhow::Result<()> {
    match args.command {
        AmopCommand::Sub {
            topic,
            rpc,
            respond,
            key_file,
            count,
        } => {
            let mut clients = Vec::new();
            for url in &rpc {
                let mut c = AmopClient::connect(url)?;
                let a = key_file
                    .as_deref()
                    .map(|k| auth(&mut c, &topic, k))
                    .transpose()?;
                c.subscribe(&topic, a)?;
                clients.push(c);
            }
            print(json!({ "subscribed": topic, "nodes": rpc }))?;
            let mut seen = 0u64;
            // A dead node's connection errors; the others keep serving.
            let mut alive: Vec<bool> = vec![true; clients.len()];
            loop {
                for (i, c) in clients.iter_mut().enumerate() {
                    if !alive[i] {
                        continue;
                    }
                    let event = match c.next_event(Some(Duration::from_millis(20))) {
                        Ok(Some(e)) => e,
                        Ok(None) => continue,
                        Err(e) => {
                            eprintln!("{}: {e:#}", c.url);
                            alive[i] = false;
                            continue;
                        }
                    };
                    print(json!({
                        "node": c.url, "kind": event.kind, "id": event.id,
                        "topic": event.topic, "data": event.data,
                    }))?;
                    if respond == Respond::Echo && event.kind == "request" {
                        if let Err(e) = c.respond(event.id, &event.data) {
                            eprintln!("{}: respond: {e:#}", c.url);
                        }
                    }
                    seen += 1;
                    if count > 0 && seen >= count {
                        return Ok(());
                    }
                }
                anyhow::ensure!(alive.iter().any(|a| *a), "every node connection closed");
            }
        }
        AmopCommand::Pub { topic, data, rpc } => {
            let mut c = AmopClient::connect(&rpc)?;
            let (subscribers, nodes) = c.publish(&topic, &data_of(&data)?)?;
            print(json!({ "subscribers": subscribers, "nodes": nodes }))
        }
        AmopCommand::Req {
            topic,
            data,
            rpc,
            timeout_ms,
        } => {
            let mut c = AmopClient::connect(&rpc)?;
            match c.request(&topic, &data_of(&data)?, Duration::from_millis(timeout_ms))? {
                Ok(answer) => print(json!({
                    "data": answer,
                    "text": String::from_utf8_lossy(&answer),
                })),
                Err((code, message)) => anyhow::bail!("{message} ({code})"),
            }
        }
        AmopCommand::Bench {
            topic,
            rpc,
            count,
            size,
            timeout_ms,
        } => bench(&rpc, &topic, count, size, Duration::from_millis(timeout_ms)),
    }
}

fn bench(rpc: &str, topic: &str, count: u64, size: usize, timeout: Duration) -> anyhow::Result<()> {
    let mut c = AmopClient::connect(rpc)?;
    let mut latencies_us: Vec<u64> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut wrong = 0u64;
    let start = Instant::now();
    for i in 0..count {
        let mut data = vec![0u8; size];
        for (k, b) in i.to_be_bytes().iter().enumerate().take(size) {
            data[k] = *b;
        }
        let data = Bytes::from(data);
        let t = Instant::now();
        match c.request(topic, &data, timeout)? {
            Ok(answer) => {
                latencies_us.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                if answer != data {
                    wrong += 1;
                }
            }
            Err((code, m)) => errors.push(format!("request {i}: {m} ({code})")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let k = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
        latencies_us[k] as f64 / 1000.0
    };
    print(json!({
        "topic": topic,
        "count": count,
        "ok": latencies_us.len(),
        "wrongAnswers": wrong,
        "failed": errors.len(),
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
        "p50Ms": pct(0.50),
        "p99Ms": pct(0.99),
        "maxMs": pct(1.0),
        "requestsPerS": if secs > 0.0 { latencies_us.len() as f64 / secs } else { 0.0 },
        "sizeBytes": size,
    }))
}
