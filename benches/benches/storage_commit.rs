//! Durable block commit through `bcos_storage::DiskStore::commit_block`: the block record
//! appended and fdatasync'ed to its segment file, then state, indexes and receipts in one
//! RocksDB WriteBatch with a synced WAL (the default config). Each block carries N transfers'
//! state diff (about two accounts per transfer) and N receipts; throughput is per transaction.
//!
//! The store lives in a temporary directory under `BCOS_BENCH_DIR` (default: the system temp
//! directory; it must be a real disk, not tmpfs, for the fsyncs to mean anything). Expected
//! on the reference machine: one fdatasync ≈ 160 µs, RocksDB ≈ 0.44 M puts/s with a WAL
//! fsync per 1000-put batch (shared/reference/machine-limits.md row 6, note 6).

use bcos_benches::chain::{funded, genesis, time_block_commits};
use bcos_benches::{accounts, bench_dir, mixed_transfers, quick};
use bcos_storage::{ChainStore, DiskStore, StorageConfig};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

fn storage_commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("storage_commit");
    for n in [100usize, 1000] {
        let (keys, addrs) = accounts(n);
        let txs = mixed_transfers(&keys, &addrs);
        let dir = bench_dir();
        let store = DiskStore::open(dir.path(), StorageConfig::default()).expect("store opens");
        store
            .commit_block(genesis(funded(&addrs)).as_commit())
            .expect("genesis commits");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("disk_store", n), |b| {
            b.iter_custom(|iters| time_block_commits(&store, &txs, &addrs, iters))
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = storage_commit }
bcos_benches::bench_main!(benches);
