//! A minimal ERC20 `transfer(address,uint256)`, hand-assembled, for the EVM bench.
//!
//! Storage layout as solc lays out `mapping(address => uint256) balances` at slot 0:
//! `balanceOf(a)` lives at `keccak256(pad32(a) ‖ pad32(0))`. The runtime checks the selector,
//! reverts on insufficient balance, moves the amount, emits `Transfer(from, to, amount)`
//! (LOG3) and returns `true`: the work of a real token transfer (two KECCAKs, two SLOADs,
//! two SSTOREs, one log), about machine-limits.md row 5's ERC20 case.

use alloy_primitives::{keccak256, Address, B256, U256};
use std::collections::HashMap;

/// `transfer(address,uint256)`.
pub const TRANSFER_SELECTOR: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];

pub fn transfer_topic() -> B256 {
    keccak256(b"Transfer(address,address,uint256)")
}

/// The storage slot of `holder`'s balance.
pub fn balance_slot(holder: &Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// Calldata of `transfer(to, amount)`.
pub fn transfer_input(to: &Address, amount: U256) -> Vec<u8> {
    let mut input = Vec::with_capacity(68);
    input.extend_from_slice(&TRANSFER_SELECTOR);
    input.extend_from_slice(&[0u8; 12]);
    input.extend_from_slice(to.as_slice());
    input.extend_from_slice(&amount.to_be_bytes::<32>());
    input
}

/// A tiny assembler: raw opcodes plus PUSH2 jumps to labels patched at the end.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
    labels: HashMap<&'static str, u16>,
    fixups: Vec<(usize, &'static str)>,
}

impl Asm {
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.code.extend_from_slice(bytes);
        self
    }
    /// PUSH2 of a label's offset.
    fn push_label(&mut self, label: &'static str) -> &mut Self {
        self.code.push(PUSH2);
        self.fixups.push((self.code.len(), label));
        self.code.extend_from_slice(&[0, 0]);
        self
    }
    fn label(&mut self, label: &'static str) -> &mut Self {
        let at = u16::try_from(self.code.len()).expect("bench contracts are tiny");
        self.labels.insert(label, at);
        self.code.push(JUMPDEST);
        self
    }
    fn finish(mut self) -> Vec<u8> {
        for (at, label) in &self.fixups {
            let target = self.labels[label].to_be_bytes();
            self.code[*at..*at + 2].copy_from_slice(&target);
        }
        self.code
    }
}

const ADD: u8 = 0x01;
const SUB: u8 = 0x03;
const LT: u8 = 0x10;
const EQ: u8 = 0x14;
const SHR: u8 = 0x1c;
const SHA3: u8 = 0x20;
const CALLER: u8 = 0x33;
const CALLDATALOAD: u8 = 0x35;
const MSTORE: u8 = 0x52;
const SLOAD: u8 = 0x54;
const SSTORE: u8 = 0x55;
const JUMPI: u8 = 0x57;
const JUMPDEST: u8 = 0x5b;
const PUSH1: u8 = 0x60;
const PUSH2: u8 = 0x61;
const PUSH4: u8 = 0x63;
const PUSH32: u8 = 0x7f;
const DUP1: u8 = 0x80;
const DUP3: u8 = 0x82;
const SWAP1: u8 = 0x90;
const LOG3: u8 = 0xa3;
const RETURN: u8 = 0xf3;
const REVERT: u8 = 0xfd;

/// The token's runtime code (stack comments list the top last).
pub fn runtime() -> Vec<u8> {
    let mut a = Asm::default();
    let [s0, s1, s2, s3] = TRANSFER_SELECTOR;
    // Dispatch: selector == transfer, else revert.
    a.op(&[
        PUSH1,
        0,
        CALLDATALOAD,
        PUSH1,
        0xe0,
        SHR,
        PUSH4,
        s0,
        s1,
        s2,
        s3,
        EQ,
    ])
    .push_label("transfer")
    .op(&[JUMPI, PUSH1, 0, DUP1, REVERT]);
    a.label("transfer");
    // [from_slot, from_balance, amount]
    a.op(&[CALLER, PUSH1, 0, MSTORE, PUSH1, 0, PUSH1, 0x20, MSTORE])
        .op(&[
            PUSH1,
            0x40,
            PUSH1,
            0,
            SHA3,
            DUP1,
            SLOAD,
            PUSH1,
            0x24,
            CALLDATALOAD,
        ]);
    // from_balance < amount: revert.
    a.op(&[DUP1, DUP3, LT]).push_label("fail").op(&[JUMPI]);
    // balances[from] = from_balance - amount
    a.op(&[SWAP1, SUB, SWAP1, SSTORE]);
    // balances[to] += amount (memory word 1 is still the zero slot index)
    a.op(&[
        PUSH1,
        4,
        CALLDATALOAD,
        PUSH1,
        0,
        MSTORE,
        PUSH1,
        0x40,
        PUSH1,
        0,
        SHA3,
    ])
    .op(&[DUP1, SLOAD, PUSH1, 0x24, CALLDATALOAD, ADD, SWAP1, SSTORE]);
    // emit Transfer(from, to, amount): LOG3(offset 0, size 32, topic, from, to)
    a.op(&[
        PUSH1,
        0x24,
        CALLDATALOAD,
        PUSH1,
        0,
        MSTORE,
        PUSH1,
        4,
        CALLDATALOAD,
        CALLER,
        PUSH32,
    ])
    .op(transfer_topic().as_slice())
    .op(&[PUSH1, 0x20, PUSH1, 0, LOG3]);
    // return true
    a.op(&[PUSH1, 1, PUSH1, 0, MSTORE, PUSH1, 0x20, PUSH1, 0, RETURN]);
    a.label("fail").op(&[PUSH1, 0, DUP1, REVERT]);
    a.finish()
}
