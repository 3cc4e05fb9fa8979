//! Tests only: a JSON-RPC server on a free local port that answers each call (single or in a
//! batch) with a handler's result or error and counts the calls per method, to check what
//! loadgen asks of a node that is not bcos.

use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A handler's answer: a result, or a JSON-RPC error (code, message).
pub type Answer = Result<Value, (i64, String)>;

pub struct FakeNode {
    pub url: String,
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

impl FakeNode {
    /// Serves until the test process ends (each connection on its own thread).
    pub fn start(handler: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let calls = Arc::new(Mutex::new(HashMap::new()));
        let handler = Arc::new(handler);
        let counted = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (handler, counted) = (handler.clone(), counted.clone());
                std::thread::spawn(move || serve(stream, &*handler, &counted));
            }
        });
        FakeNode { url, calls }
    }

    /// Calls of `method` so far.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.lock().get(method).copied().unwrap_or(0)
    }
}

/// The answer anvil gives to any `bcos_*` method.
pub fn method_not_found() -> Answer {
    Err((-32601, "Method not found".into()))
}

fn serve(
    stream: TcpStream,
    handler: &(dyn Fn(&str, &Value) -> Answer + Send + Sync),
    calls: &Mutex<HashMap<String, usize>>,
) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut len = 0usize;
        let mut line = String::new();
        // Request line, then headers up to the blank line.
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut one = |r: &Value| {
            let method = r["method"].as_str().unwrap_or_default();
            *calls.lock().entry(method.to_string()).or_default() += 1;
            match handler(method, &r["params"]) {
                Ok(v) => json!({"jsonrpc": "2.0", "id": r["id"], "result": v}),
                Err((code, message)) => {
                    json!({"jsonrpc": "2.0", "id": r["id"], "error": {"code": code, "message": message}})
                }
            }
        };
        let resp = match &req {
            Value::Array(items) => Value::Array(items.iter().map(&mut one).collect()),
            r => one(r),
        };
        let out = serde_json::to_vec(&resp).unwrap_or_default();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            out.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&out).is_err() {
            return;
        }
    }
}
