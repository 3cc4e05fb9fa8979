//! Decoding raw transactions as they arrive over JSON-RPC: a batch body of N
//! `eth_sendRawTransaction` calls is parsed with serde_json, each parameter hex-decoded and
//! decoded as an EIP-2718 transaction with `bcos_types::Tx::decode` (which also hashes it).
//! Sender recovery is not included (see the `recover` bench). Throughput is per transaction.

use alloy_primitives::hex;
use bcos_benches::{accounts, mixed_transfers, quick};
use bcos_types::Tx;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use serde::Deserialize;
use std::hint::black_box;

const BATCH_TXS: usize = 1000;

/// One JSON-RPC 2.0 call whose params are strings; borrowed, since hex has no escapes.
#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    id: u64,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: Vec<&'a str>,
}

fn decode_batch(body: &[u8]) -> Vec<Tx> {
    let calls: Vec<Call<'_>> = serde_json::from_slice(body).expect("a JSON-RPC batch");
    calls
        .iter()
        .map(|call| {
            assert!(
                call.jsonrpc == "2.0" && call.method == "eth_sendRawTransaction" && call.id > 0
            );
            let raw = hex::decode(call.params[0]).expect("hex");
            Tx::decode(&raw).expect("a valid transaction")
        })
        .collect()
}

fn rpc_decode(c: &mut Criterion) {
    let (keys, addrs) = accounts(BATCH_TXS);
    let txs = mixed_transfers(&keys, &addrs);
    let calls: Vec<serde_json::Value> = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": i + 1,
                "method": "eth_sendRawTransaction",
                "params": [hex::encode_prefixed(tx.encoded())],
            })
        })
        .collect();
    let body = serde_json::to_vec(&calls).expect("serializes");
    let decoded = decode_batch(&body);
    assert!(decoded.iter().zip(&txs).all(|(d, t)| d.hash() == t.hash()));

    let mut g = c.benchmark_group("rpc_decode");
    g.throughput(Throughput::Elements(BATCH_TXS as u64));
    g.bench_function(
        BenchmarkId::new("send_raw_transaction_batch", BATCH_TXS),
        |b| b.iter(|| black_box(decode_batch(&body))),
    );
    g.finish();
}

criterion_group! { name = benches; config = quick(); targets = rpc_decode }
bcos_benches::bench_main!(benches);
