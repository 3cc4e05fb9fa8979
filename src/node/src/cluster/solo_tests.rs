//! SEAL-R6: with `sealer.pipelined_commit` the solo sealer executes the next block on the
//! state of a block still being made durable, and nothing of that block is visible before
//! it is durable.

use super::*;
use crate::block_exec::tests::{fixture_on, transfer_to, Fixture};
use bcos_storage::{BlockCommit, ChainStore, MemStore, StateReader, StorageError, TxLocation};
use bcos_types::{Account, Address, Bytes, Receipt, B256, U256};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

/// A store whose commit of block `held` waits for the test, and which reports reads of the
/// account `watched`.
struct GateStore {
    inner: MemStore,
    held: u64,
    entered: Mutex<Sender<()>>,
    release: Mutex<Receiver<()>>,
    watched: Address,
    read: Mutex<Sender<()>>,
}

struct Gate {
    store: Arc<GateStore>,
    entered: Receiver<()>,
    release: Sender<()>,
    read: Receiver<()>,
}

fn gate(held: u64, watched: Address) -> Gate {
    let (entered_tx, entered) = channel();
    let (release, release_rx) = channel();
    let (read_tx, read) = channel();
    Gate {
        store: Arc::new(GateStore {
            inner: MemStore::new(),
            held,
            entered: Mutex::new(entered_tx),
            release: Mutex::new(release_rx),
            watched,
            read: Mutex::new(read_tx),
        }),
        entered,
        release,
        read,
    }
}

impl StateReader for GateStore {
    fn account(&self, address: &Address) -> Result<Option<Account>, StorageError> {
        if *address == self.watched {
            let _ = self.read.lock().unwrap().send(());
        }
        self.inner.account(address)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StorageError> {
        self.inner.storage(address, slot)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        self.inner.code(code_hash)
    }
    fn recent_block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.inner.recent_block_hash(number)
    }
}

impl ChainStore for GateStore {
    fn head(&self) -> Option<(u64, B256)> {
        self.inner.head()
    }
    fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StorageError> {
        if commit.block.number() == self.held {
            let _ = self.entered.lock().unwrap().send(());
            let _ = self.release.lock().unwrap().recv();
        }
        self.inner.commit_block(commit)
    }
    fn block_by_number(&self, number: u64) -> Result<Option<SealedBlock>, StorageError> {
        self.inner.block_by_number(number)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.inner.block_hash(number)
    }
    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        self.inner.block_number_by_hash(hash)
    }
    fn receipts(&self, number: u64) -> Result<Option<Vec<Receipt>>, StorageError> {
        self.inner.receipts(number)
    }
    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, StorageError> {
        self.inner.senders(number)
    }
    fn certificate(&self, number: u64) -> Result<Option<Bytes>, StorageError> {
        self.inner.certificate(number)
    }
    fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StorageError> {
        self.inner.tx_location(hash)
    }
    fn total_tx_count(&self) -> u64 {
        self.inner.total_tx_count()
    }
}

/// How long the test waits for the sealer before it fails (a broken pipeline must not hang
/// the suite).
const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn next_announced(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<bcos_types::CommittedBlock>>,
) -> Arc<bcos_types::CommittedBlock> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, rx.recv()).await })
        .expect("a block announced in time")
        .expect("the block feed")
}

fn admit(f: &Fixture, tx: RecoveredTx) {
    let out = f.ctx.pool.admit_batch(vec![Ok(tx)]);
    assert!(out[0].is_ok(), "admitted: {out:?}");
}

/// Block 2 spends the sender's next nonce and balance while block 1, which spent the one
/// before, is held inside the store's commit: only block 1's pending state makes block 2
/// valid. Both blocks must equal what the serial sealer builds from the same transactions.
#[test]
fn the_next_block_runs_on_the_state_of_the_block_still_committing() {
    let fresh = Address::repeat_byte(0x33);
    let g = gate(1, fresh);
    let f = fixture_on(g.store.clone());
    let mut announced = f.ctx.blocks.subscribe();
    let (failed_tx, failed) = channel();
    let first = transfer_to(&f, 0, Address::repeat_byte(0x22));
    let second = transfer_to(&f, 1, fresh);
    admit(&f, first.clone());
    let sealer = start(
        f.ctx.clone(),
        true,
        Box::new(move |msg| {
            let _ = failed_tx.send(msg);
        }),
    )
    .expect("start the sealer");

    g.entered
        .recv_timeout(WAIT)
        .expect("block 1 reaches the store");
    admit(&f, second.clone());
    g.read.recv_timeout(WAIT).expect("block 2 executes");
    assert_eq!(
        f.ctx.metrics.pipelined_blocks.load(Ordering::Relaxed),
        1,
        "block 2 was built while block 1 was committing"
    );
    assert_eq!(f.ctx.store.head().map(|(n, _)| n), Some(0));
    assert!(
        announced.try_recv().is_err(),
        "nothing is announced before it is durable"
    );
    g.release.send(()).unwrap();

    let b1 = next_announced(&mut announced);
    let b2 = next_announced(&mut announced);
    f.ctx.doorbell.close();
    sealer.join().expect("the sealer thread");
    assert!(failed.try_recv().is_err(), "the sealer failed");
    assert_eq!((b1.block.number(), b2.block.number()), (1, 2));
    assert_eq!(b1.block.block.txs[0].hash(), first.hash());
    assert_eq!(b2.block.block.txs[0].hash(), second.hash());
    assert!(b2.receipts.iter().all(|r| r.success));
    assert_eq!(f.ctx.store.head(), Some((2, b2.block.hash)));

    // The serial sealer's blocks from the same transactions.
    let serial = fixture_on(Arc::new(MemStore::new()));
    let mut parent = serial.parent.clone();
    for (b, txs) in [(&b1, vec![first]), (&b2, vec![second])] {
        let c = block_exec::build(&serial.ctx, &parent, txs).expect("serial build");
        let h = c.block.header().clone();
        assert_eq!(h.state_root, b.block.header().state_root);
        assert_eq!(h.receipts_root, b.block.header().receipts_root);
        parent = c.block.clone();
        block_exec::commit(&serial.ctx, c, Vec::new()).expect("serial commit");
    }
    let account = |s: &dyn StateReader| s.account(&fresh).unwrap();
    assert_eq!(account(&*f.ctx.store), account(&*serial.ctx.store));
    assert_eq!(
        account(&*f.ctx.store).map(|a| a.balance),
        Some(U256::from(1u64))
    );
}
