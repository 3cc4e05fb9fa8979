//! Sender recovery (secp256k1 ecrecover of a signed transaction): one at a time on the calling
//! thread versus a batch fanned out over `BatchRecoverer`'s rayon pool (all cores).
//!
//! The recoverer's cache has capacity 0, so every iteration recovers every sender, as for a
//! batch of transactions the node has never seen. Expected: ~39 µs per recovery per core and
//! ~2.0x over two cores (shared/reference/machine-limits.md rows 1 and 7).

use bcos_benches::{accounts, mixed_transfers, quick};
use bcos_crypto::{recover_sender, BatchConfig, BatchRecoverer, SenderCache};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;

const BATCH_TXS: usize = 1024;

fn recover(c: &mut Criterion) {
    let (keys, addrs) = accounts(BATCH_TXS);
    let txs = mixed_transfers(&keys, &addrs);
    let recoverer = BatchRecoverer::new(
        BatchConfig::default(),
        Arc::new(SenderCache::with_capacity(0)),
    )
    .expect("the recovery pool starts");
    // Both paths must agree with the signers before either is timed.
    for (r, want) in recoverer.recover_batch(txs.clone()).into_iter().zip(&addrs) {
        assert_eq!(r.expect("valid signature").sender, *want);
    }

    let mut g = c.benchmark_group("recover");
    g.throughput(Throughput::Elements(BATCH_TXS as u64));
    g.bench_function(BenchmarkId::new("one_at_a_time", BATCH_TXS), |b| {
        b.iter(|| {
            for tx in &txs {
                black_box(recover_sender(tx).expect("valid signature"));
            }
        })
    });
    // A stable id across machines; the pool size is printed instead.
    eprintln!("recover/rayon_batch: {} threads", recoverer.thread_count());
    g.bench_function(BenchmarkId::new("rayon_batch", BATCH_TXS), |b| {
        b.iter_batched(
            || txs.clone(),
            |batch| black_box(recoverer.recover_batch(batch)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = recover }
bcos_benches::bench_main!(benches);
