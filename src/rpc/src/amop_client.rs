//! A small blocking AMOP client over one WebSocket JSON-RPC connection (tungstenite): what
//! `bcos amop`, `loadgen amop` and the end-to-end tests (through `bcos amop`) use. Notifications that arrive while a call waits
//! for its response are kept, in order, for [`AmopClient::next_event`].

use anyhow::{anyhow, bail, Context};
use bcos_types::{Bytes, B256};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long one call waits for its response.
pub const AMOP_CALL_TIMEOUT_MS: u64 = 120_000;
/// Notifications kept while a call waits; past it the oldest are dropped (as a slow
/// subscriber's are at the node).
pub const AMOP_CLIENT_QUEUE_MAX: usize = 65_536;

/// One notification of `amop_subscription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub subscription: String,
    pub kind: String,
    pub id: B256,
    pub topic: String,
    pub data: Bytes,
}

pub struct AmopClient {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: VecDeque<Event>,
    pub url: String,
}

fn stream_of(ws: &mut WebSocket<MaybeTlsStream<TcpStream>>) -> Option<&mut TcpStream> {
    match ws.get_mut() {
        MaybeTlsStream::Plain(s) => Some(s),
        _ => None,
    }
}

impl AmopClient {
    /// `url` is `ws://host:port[/g/<group>]`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        if !url.starts_with("ws://") {
            bail!("AMOP needs a ws:// URL, not {url}");
        }
        let (ws, _) = tungstenite::connect(url).with_context(|| format!("cannot reach {url}"))?;
        Ok(AmopClient {
            ws,
            next_id: 1,
            events: VecDeque::new(),
            url: url.to_string(),
        })
    }

    fn set_timeout(&mut self, t: Option<Duration>) -> anyhow::Result<()> {
        if let Some(s) = stream_of(&mut self.ws) {
            s.set_read_timeout(t.map(|d| d.max(Duration::from_millis(1))))?;
        }
        Ok(())
    }

    /// Reads one JSON message; None when `timeout` passed first.
    fn read(&mut self, timeout: Option<Duration>) -> anyhow::Result<Option<Value>> {
        self.set_timeout(timeout)?;
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => return Ok(Some(serde_json::from_str(t.as_str())?)),
                Ok(Message::Close(_)) => bail!("{} closed the connection", self.url),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(anyhow!("{}: {e}", self.url)),
            }
        }
    }

    fn keep(&mut self, v: &Value) -> bool {
        if v.get("method").and_then(Value::as_str) != Some("amop_subscription") {
            return false;
        }
        let p = &v["params"];
        let r = &p["result"];
        let parsed = (|| -> Option<Event> {
            Some(Event {
                subscription: p["subscription"].as_str()?.to_string(),
                kind: r["kind"].as_str()?.to_string(),
                id: r["id"].as_str()?.parse().ok()?,
                topic: r["topic"].as_str()?.to_string(),
                data: r["data"].as_str()?.parse().ok()?,
            })
        })();
        if let Some(e) = parsed {
            if self.events.len() >= AMOP_CLIENT_QUEUE_MAX {
                self.events.pop_front();
            }
            self.events.push_back(e);
        }
        true
    }

    /// A JSON-RPC call: its result, or its error as (code, message).
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Result<Value, (i64, String)>> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.ws.send(Message::text(body.to_string()))?;
        let deadline = Instant::now() + Duration::from_millis(AMOP_CALL_TIMEOUT_MS);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{method}: no response from {} in time", self.url);
            }
            let Some(v) = self.read(Some(left))? else {
                continue;
            };
            if self.keep(&v) || v.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(e) = v.get("error") {
                let code = e["code"].as_i64().unwrap_or(0);
                let message = e["message"].as_str().unwrap_or_default().to_string();
                return Ok(Err((code, message)));
            }
            return Ok(Ok(v["result"].clone()));
        }
    }

    fn must(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.call(method, params)?
            .map_err(|(code, m)| anyhow!("{method}: {m} ({code})"))
    }

    /// Subscribes to `topic` (with `auth` for a private one): the subscription id.
    pub fn subscribe(&mut self, topic: &str, auth: Option<Value>) -> anyhow::Result<String> {
        let params = match auth {
            Some(a) => json!([topic, a]),
            None => json!([topic]),
        };
        let v = self.must("amop_subscribe", params)?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("amop_subscribe answered {v}"))
    }

    /// `(subscribers here, nodes elsewhere)` the message reached.
    pub fn publish(&mut self, topic: &str, data: &Bytes) -> anyhow::Result<(u64, u64)> {
        let v = self.must("amop_publish", json!([topic, data]))?;
        Ok((
            v["subscribers"].as_u64().unwrap_or(0),
            v["nodes"].as_u64().unwrap_or(0),
        ))
    }

    /// The answer, or the node's error (no subscriber, timeout) as (code, message).
    pub fn request(
        &mut self,
        topic: &str,
        data: &Bytes,
        timeout: Duration,
    ) -> anyhow::Result<Result<Bytes, (i64, String)>> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        Ok(match self.call("amop_request", json!([topic, data, ms]))? {
            Ok(v) => Ok(serde_json::from_value(v)?),
            Err(e) => Err(e),
        })
    }

    pub fn respond(&mut self, id: B256, data: &Bytes) -> anyhow::Result<()> {
        self.must("amop_respond", json!([id, data]))?;
        Ok(())
    }

    pub fn challenge(&mut self, topic: &str) -> anyhow::Result<B256> {
        Ok(serde_json::from_value(
            self.must("amop_challenge", json!([topic]))?,
        )?)
    }

    /// The next notification, waiting at most `timeout` (None: forever).
    pub fn next_event(&mut self, timeout: Option<Duration>) -> anyhow::Result<Option<Event>> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
            if let Some(v) = self.read(left)? {
                self.keep(&v);
                if let Some(e) = self.events.pop_front() {
                    return Ok(Some(e));
                }
            }
        }
    }
}
