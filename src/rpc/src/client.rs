//! A small blocking JSON-RPC client over one keep-alive HTTP/1.1 connection.
//!
//! Used by loadgen, `bcos relay` and `bcos etl`. Deliberately minimal: the load generator must spend
//! its CPU on sending, not on an HTTP stack, and both only ever talk to a bcos node's
//! JSON-RPC endpoint.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest response body accepted.
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;
/// How long one request may take before the connection is declared dead.
pub const IO_TIMEOUT_MS: u64 = 120_000;

pub struct RpcClient {
    host: String,
    /// The request path: `/`, or the URL's (`/g/<g>` addresses a group of a node).
    path: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u64,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl RpcClient {
    /// `url` is `http://host:port[/path]`; requests go to the path (default `/`), so
    /// `http://host:port/g/2` talks to group 2 of a node that runs several (spec/groups.md).
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_timeout(url, Duration::from_millis(IO_TIMEOUT_MS))
    }

    /// [`Self::connect`] where connecting, and each read and write, may take `timeout`.
    pub fn connect_timeout(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("only http:// URLs are supported: {url}"))?;
        let (host, path) = split_host_path(rest);
        let (host, path) = (host.to_string(), path.to_string());
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve the host of {url}"))?
            .next()
            .ok_or_else(|| anyhow!("cannot resolve the host of {url}"))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("cannot reach {url}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        Ok(RpcClient {
            host,
            path,
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        })
    }

    fn post(&mut self, body: &[u8]) -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&self.post_bytes(body)?)?)
    }

    /// Posts a JSON body and returns the raw response body; lets hot paths skip building a
    /// `Value` tree (engine/ sends pre-serialized batches and parses only ids and errors).
    pub fn post_bytes(&mut self, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        let mut status = String::new();
        if self.reader.read_line(&mut status)? == 0 {
            bail!("connection closed by the node");
        }
        let mut len = None;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in headers");
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = Some(v.trim().parse::<usize>()?);
                }
            }
        }
        let len = len.ok_or_else(|| anyhow!("response without Content-Length"))?;
        if len > RESPONSE_BYTES_MAX {
            bail!("response of {len} bytes exceeds {RESPONSE_BYTES_MAX}");
        }
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf)?;
        // Read whole first, so the connection stays usable after an error status.
        if !status.starts_with("HTTP/1.1 200") {
            bail!(
                "HTTP error: {}: {}",
                status.trim(),
                String::from_utf8_lossy(&buf[..buf.len().min(300)])
            );
        }
        Ok(buf)
    }

    /// One call; a JSON-RPC error becomes `Ok(Err(..))`, a transport failure `Err`.
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Result<Value, RpcError>> {
        let id = self.next_id;
        self.next_id += 1;
        let body =
            serde_json::to_vec(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))?;
        Ok(parse_one(self.post(&body)?))
    }

    /// A call whose error is fatal to the caller.
    pub fn must(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.call(method, params)?
            .map_err(|e| anyhow!("{method}: {e}"))
    }

    /// A batch of calls; results come back in request order.
    pub fn batch(
        &mut self,
        calls: &[(&str, Value)],
    ) -> anyhow::Result<Vec<Result<Value, RpcError>>> {
        let first = self.next_id;
        let reqs: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc":"2.0","id":first + i as u64,"method":m,"params":p}))
            .collect();
        self.next_id += calls.len() as u64;
        let resp = self.post(&serde_json::to_vec(&reqs)?)?;
        let mut items = match resp {
            Value::Array(items) => items,
            other => bail!("batch answered with a non-array: {other}"),
        };
        items.sort_by_key(|v| v.get("id").and_then(Value::as_u64).unwrap_or(u64::MAX));
        if items.len() != calls.len() {
            bail!(
                "batch of {} answered with {} items",
                calls.len(),
                items.len()
            );
        }
        Ok(items.into_iter().map(parse_one).collect())
    }
}

/// `host:port` and the request path (`/` when the URL has none) of a URL without its scheme.
fn split_host_path(rest: &str) -> (&str, &str) {
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

fn parse_one(v: Value) -> Result<Value, RpcError> {
    if let Some(err) = v.get("error") {
        return Err(RpcError {
            code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(v.get("result").cloned().unwrap_or(Value::Null))
}

pub fn hex_u64(v: &Value) -> anyhow::Result<u64> {
    let s = v
        .as_str()
        .ok_or_else(|| anyhow!("expected a hex string, got {v}"))?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_path_is_the_request_path() {
        assert_eq!(split_host_path("127.0.0.1:8545"), ("127.0.0.1:8545", "/"));
        assert_eq!(split_host_path("127.0.0.1:8545/"), ("127.0.0.1:8545", "/"));
        assert_eq!(
            split_host_path("127.0.0.1:8545/g/3"),
            ("127.0.0.1:8545", "/g/3")
        );
    }
}
