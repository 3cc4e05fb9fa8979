//! Chains of blocks for the storage tests.
#![allow(dead_code)]

pub mod state_ops;

use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_primitives::{Signature, TxKind};
use bcos_storage::{BlockCommit, ChainStore, DiskStore, IoBackend, StorageConfig};
use bcos_types::{
    block::tx_root, Account, Address, Block, Bytes, Header, Log, LogData, Receipt, SealedBlock,
    StateDiff, Tx, B256, U256,
};
use secp256k1::{Message, SecretKey, SECP256K1};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything one commit needs, owned.
#[derive(Clone)]
pub struct Commit {
    pub block: SealedBlock,
    pub receipts: Vec<Receipt>,
    pub senders: Vec<Address>,
    pub diff: StateDiff,
    pub certificate: Vec<u8>,
}

impl Commit {
    pub fn as_commit(&self) -> BlockCommit<'_> {
        BlockCommit {
            block: &self.block,
            receipts: &self.receipts,
            senders: &self.senders,
            diff: &self.diff,
            certificate: &self.certificate,
        }
    }
}

pub fn signed_tx(seed: u64, nonce: u64) -> Arc<Tx> {
    let key = SecretKey::from_byte_array([((seed % 250) + 1) as u8; 32]).expect("valid key");
    let tx = TxLegacy {
        chain_id: Some(20200),
        nonce,
        gas_price: 1_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x22)),
        value: U256::from(seed),
        input: Bytes::new(),
    };
    let msg = Message::from_digest(tx.signature_hash().0);
    let (recid, compact) = SECP256K1
        .sign_ecdsa_recoverable(msg, &key)
        .serialize_compact();
    let sig = Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1);
    let env: TxEnvelope = tx.into_signed(sig).into();
    Arc::new(Tx::from_envelope(env))
}

/// Block `number` on `parent` with `n_txs` transactions; `salt` changes its content.
pub fn make_commit(parent: B256, number: u64, n_txs: usize, salt: u64) -> Commit {
    let txs: Vec<Arc<Tx>> = (0..n_txs)
        .map(|i| signed_tx(number * 1000 + salt * 7 + i as u64, number))
        .collect();
    let header = Header {
        parent_hash: parent,
        number,
        timestamp: 1_700_000_000 + number,
        gas_limit: 30_000_000,
        gas_used: 21_000 * n_txs as u64,
        tx_root: tx_root(&txs),
        extra_data: Bytes::from(salt.to_be_bytes().to_vec()),
        ..Default::default()
    };
    let receipts = (0..n_txs)
        .map(|i| Receipt {
            tx_type: 0,
            success: i % 2 == 0,
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            logs: vec![Log {
                address: Address::repeat_byte(i as u8),
                data: LogData::new_unchecked(
                    vec![B256::repeat_byte(number as u8)],
                    Bytes::from(vec![i as u8; 3]),
                ),
            }],
        })
        .collect();
    let senders = (0..n_txs)
        .map(|i| Address::repeat_byte(0x40 + i as u8))
        .collect();
    let mut diff = StateDiff::default();
    diff.accounts.insert(
        Address::repeat_byte(0x99),
        Some(Account {
            nonce: number,
            ..Account::with_balance(U256::from(number * 10))
        }),
    );
    diff.storage
        .entry(Address::repeat_byte(0x77))
        .or_default()
        .insert(U256::from(number), U256::from(number + 1));
    let block = Block { header, txs }.seal();
    Commit {
        block,
        receipts,
        senders,
        diff,
        certificate: vec![number as u8, 0xce],
    }
}

/// `len` consecutive blocks from genesis.
pub fn chain(len: u64, n_txs: usize) -> Vec<Commit> {
    let mut out: Vec<Commit> = Vec::new();
    for n in 0..len {
        let parent = out.last().map_or(B256::ZERO, |c| c.block.hash);
        out.push(make_commit(parent, n, n_txs, 0));
    }
    out
}

pub fn commit_all<S: ChainStore>(store: &S, commits: &[Commit]) {
    for c in commits {
        store.commit_block(c.as_commit()).expect("commit");
    }
}

pub fn config(backend: IoBackend) -> StorageConfig {
    StorageConfig {
        io_backend: backend,
        ..StorageConfig::default()
    }
}

pub fn open(dir: &Path) -> DiskStore {
    DiskStore::open(dir, config(IoBackend::Std)).expect("open")
}

pub fn segment_path(dir: &Path, id: u32) -> PathBuf {
    dir.join("blocks").join(format!("seg-{id:08}.dat"))
}

/// Every block, receipt, sender list, certificate and index matches `commits`.
pub fn assert_chain<S: ChainStore>(store: &S, commits: &[Commit]) {
    let Some(last) = commits.last() else {
        assert_eq!(store.head(), None);
        return;
    };
    assert_eq!(store.head(), Some((last.block.number(), last.block.hash)));
    let mut total = 0;
    for c in commits {
        let n = c.block.number();
        assert_eq!(
            store.block_by_number(n).expect("read").as_ref(),
            Some(&c.block),
            "block {n}"
        );
        assert_eq!(store.block_hash(n).expect("read"), Some(c.block.hash));
        assert_eq!(
            store.block_number_by_hash(&c.block.hash).expect("read"),
            Some(n)
        );
        assert_eq!(store.receipts(n).expect("read"), Some(c.receipts.clone()));
        assert_eq!(store.senders(n).expect("read"), Some(c.senders.clone()));
        assert_eq!(
            store.certificate(n).expect("read"),
            Some(Bytes::from(c.certificate.clone()))
        );
        let cb = store.committed_block(n).expect("read").expect("present");
        assert_eq!(cb.block, c.block);
        assert_eq!(*cb.receipts, c.receipts);
        assert_eq!(*cb.senders, c.senders);
        for (i, tx) in c.block.block.txs.iter().enumerate() {
            let loc = store
                .tx_location(&tx.hash())
                .expect("read")
                .expect("indexed");
            assert_eq!((loc.block_number, loc.index), (n, i as u32));
        }
        total += c.block.block.txs.len() as u64;
    }
    assert_eq!(store.total_tx_count(), total);
    let next = last.block.number() + 1;
    assert_eq!(store.block_by_number(next).expect("read"), None);
    assert_eq!(store.receipts(next).expect("read"), None);
    assert_eq!(store.committed_block(next).expect("read"), None);
}

/// Commits `diff` as the next block (no transactions) on every store.
pub fn commit_both(stores: &[&dyn ChainStore], diff: StateDiff) {
    let head = stores[0].head();
    let number = head.map_or(0, |h| h.0 + 1);
    let parent = head.map_or(B256::ZERO, |h| h.1);
    let mut c = make_commit(parent, number, 0, 0);
    c.diff = diff;
    for s in stores {
        s.commit_block(c.as_commit()).expect("commit");
    }
}
