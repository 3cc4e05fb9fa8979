//! JSON-RPC error objects with the codes and messages geth and anvil use, so unchanged clients
//! (ethers, web3.py, cast) recognise them.

use crate::api::ApiError;
use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;

/// Failure to start the server.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot bind JSON-RPC server to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot register method: {0}")]
    Register(String),
    /// [`crate::RpcHandle::add_group`] (or `start_groups`) for a group already served.
    #[error("group {0} is already served")]
    GroupExists(u32),
    /// A group was added after the server stopped.
    #[error("the JSON-RPC server has stopped")]
    Stopped,
    /// The group admin server may change what this node runs, so it binds only loopback
    /// addresses unless the operator says otherwise.
    #[error(
        "refusing to bind the group admin server to {addr}: not a loopback address \
         (set rpc.admin_allow_non_loopback to allow it)"
    )]
    AdminNotLoopback { addr: std::net::SocketAddr },
}

pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// jsonrpsee serializes a handler's `Result`; plain values must be wrapped.
pub fn ok<T>(value: T) -> RpcResult<T> {
    Ok(value)
}

pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL: i32 = -32603;
/// geth's generic server error: rejected transactions, unavailable state, halted calls.
pub const SERVER_ERROR: i32 = -32000;
/// geth/anvil: the EVM executed REVERT.
pub const EXECUTION_REVERTED: i32 = 3;
/// Infura/erigon: a query hit a configured limit.
pub const LIMIT_EXCEEDED: i32 = -32005;
/// EIP-1474 "resource not found": the request's path names no group this node serves
/// (never added, removed, or not a group path at all). Sent with HTTP 404 and `id: null`,
/// since the request is refused before its body is read.
pub const GROUP_NOT_FOUND: i32 = -32001;

pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, msg, None::<()>)
}

pub fn server_error(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, msg, None::<()>)
}

pub fn limit_exceeded(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED, msg, None::<()>)
}

pub fn internal_error(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, format!("internal error: {msg}"), None::<()>)
}

pub fn api_error(e: ApiError) -> ErrorObjectOwned {
    match e {
        ApiError::TxRejected(m) | ApiError::Unavailable(m) => server_error(m),
        ApiError::InvalidParams(m) => invalid_params(m),
        ApiError::Internal(m) => internal_error(m),
    }
}

/// Selector of `Error(string)`.
const ERROR_STRING_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];

/// Code 3, "execution reverted[: reason]", data = the revert bytes as 0x-hex: what geth and
/// anvil send, and what ethers parses custom errors from.
pub fn reverted(output: &Bytes) -> ErrorObjectOwned {
    let message = match decode_error_string(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_owned(),
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(output.to_string()))
}

/// ABI-decodes `Error(string)` revert data; None for anything else (custom errors, panics,
/// malformed data).
pub fn decode_error_string(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&ERROR_STRING_SELECTOR)?;
    let word = |i: usize| -> Option<usize> {
        let w = body.get(i..i.checked_add(32)?)?;
        if w[..24].iter().any(|b| *b != 0) {
            return None;
        }
        Some(u64::from_be_bytes(w[24..].try_into().ok()?) as usize)
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_string(msg: &str) -> Vec<u8> {
        let mut d = ERROR_STRING_SELECTOR.to_vec();
        let mut w = [0u8; 32];
        w[31] = 32;
        d.extend_from_slice(&w);
        w[31] = msg.len() as u8;
        d.extend_from_slice(&w);
        let mut body = msg.as_bytes().to_vec();
        body.resize(msg.len().div_ceil(32) * 32, 0);
        d.extend_from_slice(&body);
        d
    }

    #[test]
    fn decodes_error_string_and_rejects_garbage() {
        assert_eq!(
            decode_error_string(&error_string("nope")).as_deref(),
            Some("nope")
        );
        assert_eq!(decode_error_string(&[0x08, 0xc3, 0x79, 0xa0, 1, 2]), None);
        assert_eq!(decode_error_string(&[0xde, 0xad, 0xbe, 0xef]), None);
        let mut huge = error_string("x");
        huge[4 + 32 + 24] = 0xff; // length word beyond u64 range check
        assert_eq!(decode_error_string(&huge), None);
    }

    #[test]
    fn revert_object_matches_geth() {
        let data = Bytes::from(error_string("nope"));
        let e = reverted(&data);
        assert_eq!(e.code(), 3);
        assert_eq!(e.message(), "execution reverted: nope");
        let custom = Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]);
        let e = reverted(&custom);
        assert_eq!(e.message(), "execution reverted");
        assert_eq!(e.data().map(|d| d.get()), Some("\"0xdeadbeef\""));
    }
}
