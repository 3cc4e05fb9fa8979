//! A two-pass EVM assembler with labels, just enough to hand-write the erc20 workload's
//! token without a Solidity compiler in the build.

use std::collections::HashMap;

pub mod op {
    pub const STOP: u8 = 0x00;
    pub const ADD: u8 = 0x01;
    pub const SUB: u8 = 0x03;
    pub const LT: u8 = 0x10;
    pub const EQ: u8 = 0x14;
    pub const AND: u8 = 0x16;
    pub const SHR: u8 = 0x1c;
    pub const SHA3: u8 = 0x20;
    pub const CALLER: u8 = 0x33;
    pub const CALLDATALOAD: u8 = 0x35;
    pub const CODECOPY: u8 = 0x39;
    pub const POP: u8 = 0x50;
    pub const MSTORE: u8 = 0x52;
    pub const SLOAD: u8 = 0x54;
    pub const SSTORE: u8 = 0x55;
    pub const JUMPI: u8 = 0x57;
    pub const JUMPDEST: u8 = 0x5b;
    pub const DUP1: u8 = 0x80;
    pub const DUP2: u8 = 0x81;
    pub const DUP3: u8 = 0x82;
    pub const DUP4: u8 = 0x83;
    pub const SWAP1: u8 = 0x90;
    pub const LOG3: u8 = 0xa3;
    pub const RETURN: u8 = 0xf3;
    pub const REVERT: u8 = 0xfd;
}

#[derive(Debug, Clone)]
pub enum Item {
    Op(u8),
    /// PUSHn of the bytes (1..=32 of them).
    Push(Vec<u8>),
    /// PUSH2 of a label's offset.
    PushLabel(&'static str),
    /// A JUMPDEST the label names.
    Label(&'static str),
}

/// PUSH of the smallest width holding `v`.
pub fn push(v: u64) -> Item {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    Item::Push(bytes[skip..].to_vec())
}

fn size(item: &Item) -> usize {
    match item {
        Item::Op(_) | Item::Label(_) => 1,
        Item::Push(b) => 1 + b.len(),
        Item::PushLabel(_) => 3,
    }
}

/// Assembles `items`; fails on an unknown or duplicate label or a bad push width.
pub fn assemble(items: &[Item]) -> Result<Vec<u8>, String> {
    let mut labels = HashMap::new();
    let mut at = 0usize;
    for item in items {
        if let Item::Label(l) = item {
            if labels.insert(*l, at).is_some() {
                return Err(format!("duplicate label {l}"));
            }
        }
        at += size(item);
    }
    let mut code = Vec::with_capacity(at);
    for item in items {
        match item {
            Item::Op(o) => code.push(*o),
            Item::Label(_) => code.push(op::JUMPDEST),
            Item::Push(b) => {
                if b.is_empty() || b.len() > 32 {
                    return Err(format!("push of {} bytes", b.len()));
                }
                code.push(0x5f + b.len() as u8);
                code.extend_from_slice(b);
            }
            Item::PushLabel(l) => {
                let dest = *labels.get(l).ok_or_else(|| format!("unknown label {l}"))?;
                let dest = u16::try_from(dest).map_err(|_| format!("label {l} beyond 64 KiB"))?;
                code.push(0x61);
                code.extend_from_slice(&dest.to_be_bytes());
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_to_jumpdests() {
        let code = assemble(&[
            Item::PushLabel("end"),
            Item::Op(op::JUMPI),
            push(0x1234),
            Item::Label("end"),
        ])
        .unwrap_or_default();
        assert_eq!(code, vec![0x61, 0x00, 0x07, 0x57, 0x61, 0x12, 0x34, 0x5b]);
        assert!(assemble(&[Item::PushLabel("nowhere")]).is_err());
        assert_eq!(assemble(&[push(0)]).unwrap_or_default(), vec![0x60, 0x00]);
    }
}
