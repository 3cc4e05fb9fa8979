//! Facts the nodes report about themselves in `bcos_getNodeInfo` that a report records as
//! what ran, rather than what the settings asked for (a setting of `io_backend = "auto"` says
//! nothing about which backend the node chose); and whether a node is a bcos node at all
//! ([`NodeKind`]): loadgen also measures other Ethereum JSON-RPC nodes (anvil, for
//! `loadgen compare-anvil`), which have none of the `bcos_*` methods.

use crate::rpc_client::{RpcClient, RpcError};
use serde_json::{json, Value};

/// Recorded for a node that did not report a fact (unreachable, or a build without it).
pub const UNKNOWN: &str = "unknown";

/// JSON-RPC's "method not found" error code.
pub const METHOD_NOT_FOUND: i64 = -32601;

/// What answers at a URL, detected once per target ([`detect`]) so that no `bcos_*` call is
/// made, and failed, on every snapshot of a node that lacks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A bcos node: stage metrics, peers and facts from `bcos_getNodeInfo`.
    Bcos,
    /// Another Ethereum JSON-RPC node (`client` is its `web3_clientVersion`, or
    /// [`UNKNOWN`]): stages and facts are recorded as absent, commits come from `eth_*`.
    Foreign { client: String },
}

impl NodeKind {
    pub fn is_bcos(&self) -> bool {
        matches!(self, NodeKind::Bcos)
    }

    /// "bcos", or the foreign node's client version.
    pub fn describe(&self) -> &str {
        match self {
            NodeKind::Bcos => "bcos",
            NodeKind::Foreign { client } => client,
        }
    }
}

/// Whether a JSON-RPC error says the method does not exist: code -32601, or the wording
/// nodes use with another code ("the method X does not exist/is not available", "Method X is
/// not supported", "unknown method").
pub fn method_missing(e: &RpcError) -> bool {
    if e.code == METHOD_NOT_FOUND {
        return true;
    }
    let m = e.message.to_ascii_lowercase();
    m.contains("method")
        && [
            "not found",
            "does not exist",
            "not available",
            "not supported",
            "unsupported",
            "unknown",
        ]
        .iter()
        .any(|w| m.contains(w))
}

/// The kind of node from its answer to `bcos_getNodeInfo`: a result, or an error other than
/// "method not found" (the method exists but failed; its later calls report why), is a bcos
/// node; a missing method makes a foreign node named by `client_version` (its
/// `web3_clientVersion`, asked only then).
pub fn classify(
    info: &Result<Value, RpcError>,
    client_version: impl FnOnce() -> Option<String>,
) -> NodeKind {
    match info {
        Err(e) if method_missing(e) => NodeKind::Foreign {
            client: client_version()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| UNKNOWN.to_string()),
        },
        _ => NodeKind::Bcos,
    }
}

/// Asks the node at `url` once: one `bcos_getNodeInfo` call (plus `web3_clientVersion` on a
/// foreign node). A transport failure is an error.
pub fn detect(url: &str) -> anyhow::Result<NodeKind> {
    let mut c = RpcClient::connect(url)?;
    let info = c.call("bcos_getNodeInfo", json!([]))?;
    Ok(classify(&info, || {
        c.call("web3_clientVersion", json!([]))
            .ok()?
            .ok()?
            .as_str()
            .map(str::to_string)
    }))
}

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

    fn err(code: i64, message: &str) -> Result<Value, RpcError> {
        Err(RpcError {
            code,
            message: message.into(),
        })
    }

    #[test]
    fn a_missing_bcos_method_makes_a_foreign_node() {
        let anvil = || Some("anvil/v1.7.1".to_string());
        // anvil, reth, besu: -32601.
        assert_eq!(
            classify(&err(-32601, "Method not found"), anvil),
            NodeKind::Foreign {
                client: "anvil/v1.7.1".into()
            }
        );
        // geth and hardhat spell it out, and not every node uses -32601.
        for msg in [
            "the method bcos_getNodeInfo does not exist/is not available",
            "Method bcos_getNodeInfo is not supported",
            "unknown method bcos_getNodeInfo",
        ] {
            assert!(method_missing(&RpcError {
                code: -32000,
                message: msg.into()
            }));
            assert!(!classify(&err(-32000, msg), || None).is_bcos(), "{msg}");
        }
        assert_eq!(
            classify(&err(-32601, "Method not found"), || Some("  ".into())),
            NodeKind::Foreign {
                client: UNKNOWN.into()
            }
        );
    }

    #[test]
    fn a_bcos_node_is_not_asked_its_client_version() {
        let never = || -> Option<String> { panic!("web3_clientVersion asked of a bcos node") };
        assert_eq!(classify(&Ok(json!({"stages": {}})), never), NodeKind::Bcos);
        // The method exists but failed: still bcos (its later calls say why).
        assert_eq!(
            classify(&err(-32603, "internal error: storage busy"), never),
            NodeKind::Bcos
        );
        assert_eq!(NodeKind::Bcos.describe(), "bcos");
    }

    #[test]
    fn an_unreachable_node_is_recorded_as_unknown() {
        let got = io_backends(&["not-a-url".to_string()]);
        assert_eq!(got, [UNKNOWN]);
    }
}
