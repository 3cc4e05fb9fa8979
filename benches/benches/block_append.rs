//! Durable block append: io_uring (write + linked fdatasync, one `submit_and_wait`) against
//! std (`pwrite` + `fdatasync`), each committing a stream of tiny blocks (one transfer)
//! through `bcos_storage::DiskStore` with `io_backend` forced.
//!
//! The segment appender itself is private to bcos-storage, so the whole commit is timed; with
//! `sync_state_writes = false` the RocksDB part is an unsynced WAL append plus a memtable
//! insert (a few µs), and the segment's fdatasync (≈ 160 µs on the reference machine,
//! shared/reference/machine-limits.md row 6: 6.2 k/s std, 5.8 k/s io_uring) dominates.
//! Set `BCOS_BENCH_DIR` to a directory on the disk under test (default: the system temp dir).

use bcos_benches::chain::{funded, genesis, time_block_commits};
use bcos_benches::{accounts, bench_dir, mixed_transfers, quick};
use bcos_storage::{ChainStore, DiskStore, IoBackend, StorageConfig};
use criterion::{criterion_group, Criterion, Throughput};

fn block_append(c: &mut Criterion) {
    let (keys, addrs) = accounts(1);
    let txs = mixed_transfers(&keys, &addrs);
    let mut g = c.benchmark_group("block_append");
    g.throughput(Throughput::Elements(1));
    for (name, backend) in [("std", IoBackend::Std), ("io_uring", IoBackend::IoUring)] {
        let dir = bench_dir();
        let config = StorageConfig {
            io_backend: backend,
            sync_state_writes: false,
            ..StorageConfig::default()
        };
        let store = match DiskStore::open(dir.path(), config) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("block_append/{name}: skipped, the store does not open: {e}");
                continue;
            }
        };
        store
            .commit_block(genesis(funded(&addrs)).as_commit())
            .expect("genesis commits");
        g.bench_function(name, |b| {
            b.iter_custom(|iters| time_block_commits(&store, &txs, &addrs, iters))
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = block_append }
bcos_benches::bench_main!(benches);
