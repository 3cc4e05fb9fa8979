//! Minimal raw clients: HTTP/1.1 POST and a WebSocket (RFC 6455) text-frame client, written
//! against the wire so the tests see exactly what an external client sees.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A TCP connection to `addr` from the loopback address `from` (127.0.0.0/8 is all local
/// on Linux), so one test can act as several clients.
pub async fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// POSTs `body` and returns the HTTP status and the response body.
pub async fn post_raw(addr: SocketAddr, body: &str) -> (u16, String) {
    post_raw_from([127, 0, 0, 1], addr, body).await
}

/// [`post_raw`] from the loopback address `from`.
pub async fn post_raw_from(from: [u8; 4], addr: SocketAddr, body: &str) -> (u16, String) {
    post_raw_path_from(from, addr, "/", body).await
}

/// [`post_raw`] to `path` (a group's endpoint).
pub async fn post_raw_path(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    post_raw_path_from([127, 0, 0, 1], addr, path, body).await
}

/// One call to `path`; returns the HTTP status and the parsed answer.
pub async fn call_path(addr: SocketAddr, path: &str, method: &str, params: Value) -> (u16, Value) {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, text) = post_raw_path(addr, path, &body.to_string()).await;
    (status, serde_json::from_str(&text).unwrap())
}

/// One request on an open keep-alive connection; returns the HTTP status and the body
/// (which must come with a Content-Length, as jsonrpsee's do).
pub async fn post_on(stream: &mut TcpStream, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

async fn post_raw_path_from(
    from: [u8; 4],
    addr: SocketAddr,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut s = connect_from(from, addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

/// POSTs a JSON value and parses the JSON answer.
pub async fn post(addr: SocketAddr, body: &Value) -> Value {
    let (_, text) = post_raw(addr, &body.to_string()).await;
    serde_json::from_str(&text).unwrap()
}

/// One call; returns the whole response object.
pub async fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    call_from([127, 0, 0, 1], addr, method, params).await
}

/// [`call`] from the loopback address `from`.
pub async fn call_from(from: [u8; 4], addr: SocketAddr, method: &str, params: Value) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (_, text) = post_raw_from(from, addr, &body.to_string()).await;
    serde_json::from_str(&text).unwrap()
}

/// One call that must succeed; returns its `result`.
pub async fn result(addr: SocketAddr, method: &str, params: Value) -> Value {
    let rp = call(addr, method, params).await;
    assert!(rp.get("error").is_none(), "{method} failed: {rp}");
    rp["result"].clone()
}

pub struct Ws {
    stream: TcpStream,
}

impl Ws {
    pub async fn connect(addr: SocketAddr) -> Ws {
        Self::connect_from([127, 0, 0, 1], addr).await
    }

    pub async fn connect_from(from: [u8; 4], addr: SocketAddr) -> Ws {
        let stream = connect_from(from, addr).await.unwrap();
        match Self::handshake(stream, addr, "/").await {
            Ok(ws) => ws,
            Err(head) => panic!("handshake failed: {head}"),
        }
    }

    /// A WebSocket to `path` (a group's endpoint).
    pub async fn connect_path(addr: SocketAddr, path: &str) -> Ws {
        let stream = connect_from([127, 0, 0, 1], addr).await.unwrap();
        match Self::handshake(stream, addr, path).await {
            Ok(ws) => ws,
            Err(head) => panic!("handshake failed: {head}"),
        }
    }

    /// The upgrade request to `path`; the response head if the server refused it.
    pub async fn handshake(
        mut stream: TcpStream,
        addr: SocketAddr,
        path: &str,
    ) -> Result<Ws, String> {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        // Read the handshake byte by byte so no frame byte is consumed with it.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        Ok(Ws { stream })
    }

    pub async fn send(&mut self, v: &Value) {
        let payload = v.to_string().into_bytes();
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Reads text messages until the server closes the connection; returns how many.
    pub async fn count_until_closed(&mut self) -> usize {
        let mut n = 0;
        loop {
            let mut head = [0u8; 2];
            if self.stream.read_exact(&mut head).await.is_err() {
                return n;
            }
            let len = match head[1] & 0x7f {
                126 => match self.stream.read_u16().await {
                    Ok(l) => u64::from(l),
                    Err(_) => return n,
                },
                127 => match self.stream.read_u64().await {
                    Ok(l) => l,
                    Err(_) => return n,
                },
                l => u64::from(l),
            };
            let mut payload = vec![0u8; len as usize];
            if self.stream.read_exact(&mut payload).await.is_err() {
                return n;
            }
            match head[0] & 0x0f {
                0x1 => n += 1,
                0x8 => return n,
                _ => {}
            }
        }
    }

    /// The next text message (pings and other control frames are skipped).
    pub async fn recv(&mut self) -> Value {
        loop {
            let b0 = self.stream.read_u8().await.unwrap();
            let b1 = self.stream.read_u8().await.unwrap();
            let len = match b1 & 0x7f {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            if b0 & 0x0f == 0x1 {
                return serde_json::from_slice(&payload).unwrap();
            }
        }
    }
}
