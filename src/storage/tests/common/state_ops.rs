//! Random state operations and the keys they touch, for the state-cache tests (a cached
//! store must read like an uncached one after any sequence of them).

use bcos_storage::StateReader;
use bcos_types::{Account, Address, StateDiff, U256};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Account(Address),
    Slot(Address, U256),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Account(Option<Account>),
    Slot(U256),
}

pub fn read<S: StateReader>(store: &S, key: Key) -> Val {
    match key {
        Key::Account(a) => Val::Account(store.account(&a).expect("read account")),
        Key::Slot(a, s) => Val::Slot(store.storage(&a, &s).expect("read slot")),
    }
}

pub fn address(i: u8) -> Address {
    Address::repeat_byte(0x10 + i)
}

pub const ADDRESSES: u8 = 6;
pub const SLOTS: u64 = 6;

#[derive(Debug, Clone)]
pub enum Op {
    Account(u8, Option<(u64, u64)>),
    /// Value 0 deletes the slot.
    Slot(u8, u64, u64),
    Wipe(u8),
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..ADDRESSES, proptest::option::of((0..3u64, 0..4u64)))
            .prop_map(|(a, v)| Op::Account(a, v)),
        5 => (0..ADDRESSES, 0..SLOTS, 0..4u64).prop_map(|(a, s, v)| Op::Slot(a, s, v)),
        1 => (0..ADDRESSES).prop_map(Op::Wipe),
    ]
}

pub fn diff_of(ops: &[Op]) -> StateDiff {
    let mut d = StateDiff::default();
    for op in ops {
        match *op {
            Op::Account(a, v) => {
                let acct = v.map(|(nonce, balance)| Account {
                    nonce,
                    ..Account::with_balance(U256::from(balance))
                });
                d.accounts.insert(address(a), acct);
            }
            Op::Slot(a, s, v) => {
                d.storage
                    .entry(address(a))
                    .or_default()
                    .insert(U256::from(s), U256::from(v));
            }
            Op::Wipe(a) => {
                d.wiped_storage.insert(address(a));
            }
        }
    }
    d
}

/// Every account and slot the operations can touch.
pub fn all_keys() -> Vec<Key> {
    let mut keys = Vec::new();
    for a in 0..ADDRESSES {
        keys.push(Key::Account(address(a)));
        for s in 0..SLOTS {
            keys.push(Key::Slot(address(a), U256::from(s)));
        }
    }
    keys
}
