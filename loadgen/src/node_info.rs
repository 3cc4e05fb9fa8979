//! Facts the nodes report about themselves in `bcos_getNodeInfo` that a report records as
//! what ran, rather than what the settings asked for (a setting of `io_backend = "auto"` says
//! nothing about which backend the node chose).

use crate::rpc_client::RpcClient;
use serde_json::{json, Value};

/// Recorded for a node that did not report a fact (unreachable, or a build without it).
pub const UNKNOWN: &str = "unknown";

/// The storage I/O backend each node at `urls` reports, in order.
pub fn io_backends(urls: &[String]) -> Vec<String> {
    urls.iter()
        .map(|url| {
            RpcClient::connect(url)
                .and_then(|mut c| c.must("bcos_getNodeInfo", json!([])))
                .ok()
                .and_then(|info| io_backend(&info))
                .unwrap_or_else(|| UNKNOWN.to_string())
        })
        .collect()
}

/// `ioBackend` from a `bcos_getNodeInfo` answer, in the config's spelling (`io_uring`, `std`)
/// whichever way the node spells it; another value is kept as given, None without one.
pub fn io_backend(info: &Value) -> Option<String> {
    let raw = info.get("ioBackend")?.as_str()?.trim();
    if raw.is_empty() {
        return None;
    }
    let squashed: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match squashed.as_str() {
        "iouring" => "io_uring".to_string(),
        "std" => "std".to_string(),
        _ => raw.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_backend_is_read_in_the_config_spelling() {
        // The node prints its resolved backend with Debug today ("IoUring", "Std").
        assert_eq!(
            io_backend(&json!({"ioBackend": "IoUring"})).as_deref(),
            Some("io_uring")
        );
        assert_eq!(
            io_backend(&json!({"ioBackend": "io_uring"})).as_deref(),
            Some("io_uring")
        );
        assert_eq!(
            io_backend(&json!({"ioBackend": "Std"})).as_deref(),
            Some("std")
        );
        assert_eq!(
            io_backend(&json!({"ioBackend": "spdk"})).as_deref(),
            Some("spdk")
        );
        assert_eq!(io_backend(&json!({"ioBackend": ""})), None);
        assert_eq!(io_backend(&json!({"ioBackend": 3})), None);
        assert_eq!(io_backend(&json!({"version": "x"})), None);
    }

    #[test]
    fn an_unreachable_node_is_recorded_as_unknown() {
        let got = io_backends(&["not-a-url".to_string()]);
        assert_eq!(got, [UNKNOWN]);
    }
}
