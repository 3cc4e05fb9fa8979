//! What the pool's test modules share: the static rules, a pool over a store, and blocks
//! that set accounts.

use super::rules::StaticRules;
use super::*;
use crate::config::PoolConfig;
use bcos_storage::{BlockCommit, MemStore};
use bcos_types::{Account, Block, Header, StateDiff};

pub(super) const CHAIN_ID: u64 = 20200;

pub(super) fn rules() -> StaticRules {
    StaticRules {
        chain_id: CHAIN_ID,
        allow_unprotected: false,
        tx_bytes_max: 1 << 20,
        block_gas_limit: 30_000_000,
        tx_gas_cap: 30_000_000,
        base_fee: 1,
        governed_gas_limit: Default::default(),
    }
}

/// A plain transfer of nothing at `nonce`, unsigned.
pub(super) fn transfer(nonce: u64) -> alloy_consensus::TxEip1559 {
    alloy_consensus::TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        to: bcos_types::TxKind::Call(Address::repeat_byte(0xbb)),
        ..Default::default()
    }
}

/// A pool with the default config over `store`.
pub(super) fn pool(store: Arc<MemStore>) -> Pool {
    Pool::new(
        &PoolConfig::default(),
        rules(),
        store,
        Doorbell::new(),
        Arc::new(Metrics::default()),
    )
}

/// An account at `nonce` with funds for any test transaction.
pub(super) fn funded(nonce: u64) -> Account {
    Account {
        nonce,
        balance: U256::from(1u64 << 60),
        ..Default::default()
    }
}

/// Commits block `number`, on top of the store's head, with `diff`.
pub(super) fn commit_diff(store: &MemStore, number: u64, diff: &StateDiff) {
    let (_, parent_hash) = store.head().unwrap_or((0, B256::ZERO));
    let block = Block {
        header: Header {
            number,
            parent_hash,
            ..Default::default()
        },
        txs: vec![],
    }
    .seal();
    store
        .commit_block(BlockCommit {
            block: &block,
            receipts: &[],
            senders: &[],
            diff,
            certificate: &[],
        })
        .expect("the test block commits");
}
