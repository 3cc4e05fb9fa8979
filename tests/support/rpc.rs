//! A minimal blocking JSON-RPC 2.0 client over HTTP/1.1 (std `TcpStream`, one connection per
//! request), so the tests depend on no client library of the project and can send malformed
//! bodies on purpose.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one request may take before the test fails: generous, since a loaded 2-core
/// machine may stall, but bounded so a hung node fails the test instead of hanging it.
pub const REQUEST_TIMEOUT_MS: u64 = 120_000;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcErr {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl std::fmt::Display for RpcErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)?;
        if let Some(d) = &self.data {
            write!(f, " (data: {d})")?;
        }
        Ok(())
    }
}

impl RpcErr {
    fn from_json(v: &Value) -> RpcErr {
        RpcErr {
            code: v.get("code").and_then(Value::as_i64).unwrap_or(i64::MIN),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            data: v.get("data").cloned(),
        }
    }
}

/// An HTTP JSON-RPC endpoint on loopback.
#[derive(Debug, Clone)]
pub struct Rpc {
    addr: SocketAddr,
    /// The request path: `/`, or `/g/<group>` for a group of a multi-group node.
    path: String,
}

impl Rpc {
    /// `url` is `http://IP:PORT[/PATH]` (as the node prints it); only loopback is accepted.
    pub fn new(url: &str) -> Rpc {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("RPC url {url:?} is not http://"));
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let addr: SocketAddr = hostport
            .parse()
            .unwrap_or_else(|e| panic!("RPC url {url:?}: {e}"));
        assert!(
            addr.ip().is_loopback(),
            "tests talk to loopback only, got {addr}"
        );
        Rpc { addr, path }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The same node's endpoint for group `g` (`/g/<g>`).
    pub fn group(&self, g: u32) -> Rpc {
        Rpc {
            addr: self.addr,
            path: format!("/g/{g}"),
        }
    }

    /// The same node at another path (for routing tests).
    pub fn at_path(&self, path: &str) -> Rpc {
        Rpc {
            addr: self.addr,
            path: path.to_string(),
        }
    }

    /// POSTs `body` as-is; returns the HTTP status and the response body.
    pub fn post_raw(&self, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let timeout = Duration::from_millis(REQUEST_TIMEOUT_MS);
        let mut s = TcpStream::connect_timeout(&self.addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.path,
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        parse_http_response(&buf)
    }

    /// POSTs `body` and parses the answer as JSON; transport failures fail the test.
    pub fn post_json(&self, body: &str) -> Value {
        let (status, bytes) = self
            .post_raw(body.as_bytes())
            .unwrap_or_else(|e| panic!("HTTP request to {} failed: {e}", self.addr));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "HTTP {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    /// One call; `Err` carries the JSON-RPC error object.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp = self.post_json(&req.to_string());
        into_result(method, &resp)
    }

    /// One call that must succeed.
    pub fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params.clone())
            .unwrap_or_else(|e| panic!("{method}({params}) failed: {e}"))
    }

    /// A batch; answers are returned in the order of `calls`, matched by id.
    pub fn batch(&self, calls: &[(&str, Value)]) -> Vec<Result<Value, RpcErr>> {
        if calls.is_empty() {
            return Vec::new();
        }
        let reqs: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
            .collect();
        let resp = self.post_json(&Value::Array(reqs).to_string());
        let items = resp
            .as_array()
            .unwrap_or_else(|| panic!("batch answer is not an array: {resp}"));
        assert_eq!(items.len(), calls.len(), "batch answer count: {resp}");
        let mut out: Vec<Option<Result<Value, RpcErr>>> = vec![None; calls.len()];
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_u64)
                .filter(|&i| (i as usize) < calls.len())
                .unwrap_or_else(|| panic!("batch answer with a bad id: {item}"));
            let slot = &mut out[id as usize];
            assert!(slot.is_none(), "duplicate id {id} in batch answer");
            *slot = Some(into_result(calls[id as usize].0, item));
        }
        out.into_iter()
            .map(|r| r.expect("every id answered (checked by count)"))
            .collect()
    }
}

fn into_result(method: &str, resp: &Value) -> Result<Value, RpcErr> {
    if let Some(err) = resp.get("error") {
        return Err(RpcErr::from_json(err));
    }
    match resp.get("result") {
        Some(v) => Ok(v.clone()),
        None => panic!("{method}: answer has neither result nor error: {resp}"),
    }
}

fn parse_http_response(buf: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of HTTP headers"))?;
    let head = std::str::from_utf8(&buf[..split]).map_err(|_| bad("headers not UTF-8"))?;
    let body = &buf[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        } else if k == "content-length" {
            length = v.parse::<usize>().ok();
        }
    }
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or_else(|| bad("body shorter than Content-Length"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            parse_http_response(plain).expect("plain"),
            (200, b"{}".to_vec())
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(
            parse_http_response(chunked).expect("chunked"),
            (200, b"[1,2]".to_vec())
        );
        assert!(parse_http_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
