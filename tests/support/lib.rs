//! Support for the end-to-end tests (DESIGN.md "Checking tiers" 4 and 5): the real `bcos`
//! binary as a child process on loopback ([`node`]), a dependency-free JSON-RPC client
//! ([`rpc`]), transaction signing with the dev accounts' published keys ([`tx`]) and the
//! chain queries the tests share ([`chain`]).
//!
//! The binary is `$BCOS_BIN` or `target/release/bcos` next to the test executables; a test
//! that cannot start it fails (it never skips).

pub mod cast;
pub mod chain;
pub mod client;
pub mod cluster;
pub mod node;
pub mod relay;
pub mod rpc;
pub mod tx;

pub use chain::*;
pub use node::{bcos_bin, Node};
pub use rpc::{Rpc, RpcErr};
pub use tx::*;

pub use alloy_primitives::{Address, U256};
pub use serde_json::{json, Value};

/// Writes `text` as `name` in `dir` and returns the path (for `--config`).
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}
