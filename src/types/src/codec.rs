//! Strict decoding helpers: every decoder in this crate consumes its whole input.

use alloy_rlp::Decodable;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("rlp: {0}")]
    Rlp(String),
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    #[error("empty input")]
    Empty,
    #[error("{0}")]
    Invalid(&'static str),
}

impl From<alloy_rlp::Error> for CodecError {
    fn from(e: alloy_rlp::Error) -> Self {
        CodecError::Rlp(e.to_string())
    }
}

/// Decodes exactly one RLP value from `bytes`, rejecting leftovers.
pub fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Empty);
    }
    let mut buf = bytes;
    let value = T::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(CodecError::TrailingBytes(buf.len()));
    }
    Ok(value)
}

/// Encodes any RLP value into a fresh vector.
pub fn encode<T: alloy_rlp::Encodable>(value: &T) -> Vec<u8> {
    alloy_rlp::encode(value)
}
