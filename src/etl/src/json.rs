//! Reading the node's JSON answers: quantities, hashes, addresses and byte strings, each
//! failing with the field's name.

use alloy_primitives::hex;
use anyhow::{anyhow, Context};
use serde_json::Value;

pub fn field<'a>(v: &'a Value, name: &str) -> anyhow::Result<&'a Value> {
    v.get(name)
        .ok_or_else(|| anyhow!("field {name} missing in {}", short(v)))
}

pub fn str_field<'a>(v: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| anyhow!("field {name} is not a string in {}", short(v)))
}

/// A hex quantity (`0x1a`) or a JSON number.
pub fn quantity(v: &Value) -> anyhow::Result<u64> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v.as_str().ok_or_else(|| anyhow!("not a quantity: {v}"))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| anyhow!("quantity without 0x: {s}"))?;
    u64::from_str_radix(h, 16).with_context(|| format!("quantity {s}"))
}

pub fn u64_field(v: &Value, name: &str) -> anyhow::Result<u64> {
    quantity(field(v, name)?).with_context(|| format!("field {name}"))
}

/// A hex string, normalized to lower case with `0x`.
pub fn hex_field(v: &Value, name: &str) -> anyhow::Result<String> {
    let s = str_field(v, name)?;
    let b = hex::decode(s).with_context(|| format!("field {name} is not hex"))?;
    Ok(hex0x(&b))
}

pub fn opt_hex_field(v: &Value, name: &str) -> anyhow::Result<Option<String>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => hex_field(v, name).map(Some),
    }
}

pub fn bytes_field(v: &Value, name: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(str_field(v, name)?).with_context(|| format!("field {name} is not hex"))
}

pub fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(200).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}
