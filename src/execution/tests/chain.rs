//! Execution over the real in-memory store: genesis, then blocks whose headers carry the
//! roots of spec/execution.md §2, each committed before the next executes.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, TxKind, B256, U256};
use bcos_execution::{genesis_diff, genesis_header, BlockEnv, ExecConfig, Executor, GenesisParams};
use bcos_storage::{BlockCommit, ChainStore, MemStore, StateReader};
use bcos_types::block::{logs_bloom, receipts_root, tx_root};
use bcos_types::state::next_state_root;
use bcos_types::{Block, Header, RecoveredTx};
use common::*;

/// Executes `candidates` on top of the store's head, builds the block from what was included
/// and commits it; returns the committed header.
fn produce(
    store: &MemStore,
    exec: &Executor,
    env: &BlockEnv,
    candidates: &[RecoveredTx],
) -> Header {
    let (head_number, head_hash) = store.head().expect("genesis committed");
    assert_eq!(head_number + 1, env.number);
    let parent = store
        .block_by_number(head_number)
        .unwrap()
        .expect("head block");
    let out = exec.execute_block(store, env, candidates).unwrap();
    let included: Vec<&RecoveredTx> = out.included.iter().map(|&i| &candidates[i]).collect();
    let txs: Vec<_> = included.iter().map(|t| t.tx.clone()).collect();
    let senders: Vec<Address> = included.iter().map(|t| t.sender).collect();
    let header = Header {
        parent_hash: head_hash,
        number: env.number,
        timestamp: env.timestamp,
        gas_limit: env.gas_limit,
        gas_used: out.gas_used,
        base_fee_per_gas: env.base_fee,
        beneficiary: env.beneficiary,
        tx_root: tx_root(&txs),
        receipts_root: receipts_root(&out.receipts),
        state_root: next_state_root(&parent.header().state_root, env.number, &out.diff),
        logs_bloom: logs_bloom(&out.receipts),
        extra_data: Default::default(),
    };
    let sealed = Block {
        header: header.clone(),
        txs,
    }
    .seal();
    store
        .commit_block(BlockCommit {
            block: &sealed,
            receipts: &out.receipts,
            senders: &senders,
            diff: &out.diff,
            certificate: &[],
        })
        .unwrap();
    header
}

#[test]
fn blocks_chain_through_the_store() {
    let cfg = ExecConfig {
        chain_id: CHAIN_ID,
        ..Default::default()
    };
    let exec = Executor::new(cfg.clone());
    let alice = key(1);
    let a = address_of(&alice);
    let store = MemStore::new();

    let diff = genesis_diff(&[(a, ether(10))]);
    let genesis = Block {
        header: genesis_header(&cfg, &diff, &GenesisParams::default()),
        txs: vec![],
    }
    .seal();
    assert_eq!(
        genesis.header().state_root,
        next_state_root(&B256::ZERO, 0, &diff)
    );
    store
        .commit_block(BlockCommit {
            block: &genesis,
            receipts: &[],
            senders: &[],
            diff: &diff,
            certificate: &[],
        })
        .unwrap();

    let contract = a.create(1);
    let block1 = vec![
        tx1559(
            &alice,
            0,
            TxKind::Call(Address::repeat_byte(0xb0)),
            ether(1),
            vec![],
            21_000,
        ),
        tx1559(
            &alice,
            7,
            TxKind::Call(Address::repeat_byte(0xb0)),
            ether(1),
            vec![],
            21_000,
        ), // rejected
        tx1559(
            &alice,
            1,
            TxKind::Create,
            U256::ZERO,
            deployer(&logger_runtime()),
            1_000_000,
        ),
    ];
    let h1 = produce(&store, &exec, &env(1), &block1);
    assert_eq!(
        store.block_by_number(1).unwrap().unwrap().block.txs.len(),
        2
    );
    assert!(store
        .account(&contract)
        .unwrap()
        .is_some_and(|c| c.has_code()));

    let block2 = vec![tx1559(
        &alice,
        2,
        TxKind::Call(contract),
        U256::ZERO,
        vec![9u8; 32],
        100_000,
    )];
    let h2 = produce(&store, &exec, &env(2), &block2);
    assert_eq!(
        store.storage(&contract, &U256::ZERO).unwrap(),
        U256::from_be_bytes([9u8; 32])
    );
    assert_eq!(store.account(&a).unwrap().map(|x| x.nonce), Some(3));
    assert_ne!(h2.state_root, h1.state_root);
    let receipts = store.receipts(2).unwrap().unwrap();
    assert_eq!(receipts[0].logs.len(), 1);
    assert_eq!(h2.receipts_root, receipts_root(&receipts));
}
