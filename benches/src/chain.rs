//! Blocks, state diffs and stores for the execution and storage benches.

use crate::{ether, BASE_FEE};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use bcos_execution::{genesis_diff, BlockEnv};
use bcos_storage::{BlockCommit, ChainStore, MemStore};
use bcos_types::block::tx_root;
use bcos_types::{Account, Block, Header, Receipt, SealedBlock, StateDiff, Tx};
use std::sync::Arc;

/// Receives the priority fees of every bench block.
pub const BENEFICIARY: Address = Address::repeat_byte(0xbe);

/// Everything one commit needs, owned.
pub struct OwnedCommit {
    pub block: SealedBlock,
    pub receipts: Vec<Receipt>,
    pub senders: Vec<Address>,
    pub diff: StateDiff,
}

impl OwnedCommit {
    pub fn as_commit(&self) -> BlockCommit<'_> {
        BlockCommit {
            block: &self.block,
            receipts: &self.receipts,
            senders: &self.senders,
            diff: &self.diff,
            certificate: &[],
        }
    }
}

/// The genesis commit: block 0 carrying `diff` as its allocation.
pub fn genesis(diff: StateDiff) -> OwnedCommit {
    let header = Header {
        gas_limit: 30_000_000,
        base_fee_per_gas: BASE_FEE,
        ..Default::default()
    };
    OwnedCommit {
        block: Block {
            header,
            txs: Vec::new(),
        }
        .seal(),
        receipts: Vec::new(),
        senders: Vec::new(),
        diff,
    }
}

/// 100 ETH for each of `holders`.
pub fn funded(holders: &[Address]) -> StateDiff {
    let alloc: Vec<(Address, U256)> = holders.iter().map(|a| (*a, ether(100))).collect();
    genesis_diff(&alloc)
}

/// Deploys `runtime` at `token` in `diff` and gives each holder `per_holder` tokens.
pub fn with_token(
    mut diff: StateDiff,
    token: Address,
    runtime: &[u8],
    holders: &[Address],
    per_holder: U256,
) -> StateDiff {
    let code = Bytes::copy_from_slice(runtime);
    let code_hash = keccak256(&code);
    diff.codes.insert(code_hash, code);
    diff.accounts.insert(
        token,
        Some(Account {
            nonce: 1,
            balance: U256::ZERO,
            code_hash,
        }),
    );
    let slots = diff.storage.entry(token).or_default();
    for h in holders {
        slots.insert(crate::token::balance_slot(h), per_holder);
    }
    diff
}

/// An in-memory store holding the genesis `diff`.
pub fn mem_store(diff: StateDiff) -> MemStore {
    let store = MemStore::new();
    let g = genesis(diff);
    store
        .commit_block(g.as_commit())
        .expect("genesis commits into an empty store");
    store
}

pub fn block_env(number: u64, gas_limit: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number,
        gas_limit,
        base_fee: BASE_FEE,
        beneficiary: BENEFICIARY,
    }
}

/// Block `number` on `parent_hash` holding `txs` (transfers from `senders[i]` to
/// `senders[i + 1]`), with the receipts and the state diff such a block produces: every
/// sender's nonce and balance, every recipient's balance, the beneficiary's fees.
pub fn transfer_commit(
    number: u64,
    parent_hash: B256,
    txs: &[Arc<Tx>],
    senders: &[Address],
) -> OwnedCommit {
    let n = txs.len();
    let header = Header {
        parent_hash,
        number,
        timestamp: 1_700_000_000 + number,
        gas_limit: 30_000_000,
        gas_used: 21_000 * n as u64,
        base_fee_per_gas: BASE_FEE,
        beneficiary: BENEFICIARY,
        tx_root: tx_root(txs),
        ..Default::default()
    };
    let receipts = (0..n)
        .map(|i| Receipt {
            tx_type: txs[i].tx_type(),
            success: true,
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            logs: Vec::new(),
        })
        .collect();
    let mut diff = StateDiff::default();
    let salt = U256::from(number);
    for (i, sender) in senders.iter().enumerate().take(n) {
        let account = Account {
            nonce: number,
            ..Account::with_balance(ether(100) - salt - U256::from(i))
        };
        diff.accounts.insert(*sender, Some(account));
    }
    // Recipients are the next sender, already in the diff: add a few fresh payees as well so
    // the diff has about two accounts per transfer, as one between strangers does.
    for i in 0..n {
        let payee = Address::left_padding_from(&(0x5000_0000u64 + i as u64).to_be_bytes());
        diff.accounts
            .insert(payee, Some(Account::with_balance(salt + U256::from(1u64))));
    }
    diff.accounts.insert(
        BENEFICIARY,
        Some(Account::with_balance(salt * U256::from(21_000u64))),
    );
    OwnedCommit {
        block: Block {
            header,
            txs: txs.to_vec(),
        }
        .seal(),
        receipts,
        senders: senders[..n].to_vec(),
        diff,
    }
}

/// Commits `iters` transfer blocks on top of `store`'s head and returns only the time spent
/// in `commit_block`: building the next block (tx root, diff) is not storage work.
pub fn time_block_commits(
    store: &dyn ChainStore,
    txs: &[Arc<Tx>],
    addrs: &[Address],
    iters: u64,
) -> std::time::Duration {
    let mut busy = std::time::Duration::ZERO;
    for _ in 0..iters {
        let (head, hash) = store.head().expect("genesis is committed");
        let commit = transfer_commit(head + 1, hash, txs, addrs);
        let started = std::time::Instant::now();
        store.commit_block(commit.as_commit()).expect("commit");
        busy += started.elapsed();
    }
    busy
}

/// Executes `txs` serially and checks the block is what a bench claims before it is timed:
/// every transaction in, every one succeeded.
pub fn executed_whole(
    exec: &bcos_execution::Executor,
    store: &MemStore,
    env: &BlockEnv,
    txs: &[bcos_types::RecoveredTx],
    name: &str,
) -> bcos_execution::ExecutedBlock {
    let out = exec.execute_block(store, env, txs).expect("block executes");
    assert_eq!(
        out.included.len(),
        txs.len(),
        "{name}: rejected {:?}",
        out.rejected.first()
    );
    assert!(out.receipts.iter().all(|r| r.success), "a {name} reverted");
    out
}

/// [`executed_whole`], then the same block on `threads` threads, which must give the same
/// result before either is timed; returns the serial result and how the parallel run went.
pub fn parallel_checked(
    exec: &bcos_execution::Executor,
    store: &MemStore,
    env: &BlockEnv,
    txs: &[bcos_types::RecoveredTx],
    name: &str,
    threads: usize,
) -> (bcos_execution::ExecutedBlock, bcos_execution::ParallelStats) {
    let serial = executed_whole(exec, store, env, txs, name);
    let (parallel, stats) = exec
        .execute_block_parallel_with(
            store,
            env,
            txs,
            bcos_execution::ParallelOptions::new(threads),
        )
        .expect("block executes");
    assert_eq!(parallel, serial, "{name}: parallel differs from serial");
    (serial, stats)
}

/// The `i`-th of a run of addresses no bench account or contract holds: payees that make
/// each transfer of a block write a different account.
pub fn fresh_payee(i: usize) -> Address {
    Address::left_padding_from(&(0x5000_0000u64 + i as u64).to_be_bytes())
}

/// A store where each of `holders` has 100 ETH and 1,000,000 tokens of the bench token
/// contract at `token`.
pub fn token_store(holders: &[Address], token: Address) -> MemStore {
    mem_store(with_token(
        funded(holders),
        token,
        &crate::token::runtime(),
        holders,
        U256::from(1_000_000u64),
    ))
}

/// One transaction per sender: `make(i)` signed by sender `i`, whose address is `addrs[i]`.
pub fn recovered(
    addrs: &[Address],
    make: &dyn Fn(usize) -> Arc<Tx>,
) -> Vec<bcos_types::RecoveredTx> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| bcos_types::RecoveredTx::new(make(i), *a))
        .collect()
}
