//! Batches made only of eth_sendRawTransaction calls (`raw_tx_batch`): submitted to the
//! node together, and answered exactly as the same calls sent one by one.
#![allow(clippy::unwrap_used)]

mod support;

use alloy_eips::eip2718::Encodable2718;
use bcos_rpc::RpcConfig;
use serde_json::{json, Value};
use support::client::{call, post};
use support::*;

fn raw(nonce: u64) -> String {
    let tx = eip1559_call(nonce, MockChain::sender(), &key(1));
    format!("0x{}", alloy_primitives::hex::encode(tx.encoded_2718()))
}

fn send(id: Value, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": params})
}

/// Every answer of a batch: its id, and its result or error, which must equal the answer
/// to the same call sent alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_each_call_as_alone_in_order() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let calls = [
        (json!(1), json!([raw(0)])),
        (json!("two"), json!([raw(1)])),
        // Invalid params: none, a number, not an array, not hex.
        (json!(3), json!([])),
        (json!(4), json!([5])),
        (json!(5), json!("x")),
        (json!(6), json!(["0xzz"])),
        // Not a transaction.
        (json!(7), json!(["0xc0"])),
        (json!(null), json!([raw(2)])),
    ];
    let batch: Vec<Value> = calls
        .iter()
        .map(|(id, p)| send(id.clone(), p.clone()))
        .collect();
    let answers = post(a, &Value::Array(batch)).await;
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), calls.len());
    assert_eq!(
        *chain.raw_batches.lock(),
        vec![calls.len() - 4],
        "one submission of the batch's well-formed parameters"
    );
    for ((id, params), answer) in calls.iter().zip(answers) {
        assert_eq!(answer["id"], *id, "{answer}");
        let alone = call(a, "eth_sendRawTransaction", params.clone()).await;
        assert_eq!(answer["result"], alone["result"], "{answer} vs {alone}");
        assert_eq!(answer["error"], alone["error"], "{answer} vs {alone}");
    }
    assert!(answers[0]["result"].as_str().unwrap().starts_with("0x"));
    assert_eq!(answers[2]["error"]["code"], -32602);
    assert_eq!(answers[6]["error"]["code"], -32000);
}

/// A batch with any other method, or a notification, is the general path's: each call its
/// own task through the method table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_takes_the_general_path() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let mixed = json!([
        send(json!(1), json!([raw(0)])),
        {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []},
    ]);
    let answers = post(a, &mixed).await;
    assert_eq!(answers.as_array().unwrap().len(), 2);
    assert!(answers[0]["result"].as_str().unwrap().starts_with("0x"));
    let notified = json!([
        send(json!(1), json!([raw(0)])),
        {"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [raw(1)]},
    ]);
    let answers = post(a, &notified).await;
    assert_eq!(answers.as_array().unwrap().len(), 1);
    assert!(chain.raw_batches.lock().is_empty());
}

/// A panic while the batch is submitted costs the batch (each call gets -32603), never the
/// connection or the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_batch_answers_internal_error_to_each_call() {
    let (_chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let panics = format!("0x{}", alloy_primitives::hex::encode(PANIC_RAW));
    let batch = json!([
        send(json!(1), json!([raw(0)])),
        send(json!(2), json!([panics])),
        send(json!(3), json!([])),
    ]);
    let answers = post(a, &batch).await;
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["error"]["code"], -32603, "{answers:?}");
    assert_eq!(answers[1]["error"]["code"], -32603, "{answers:?}");
    // Its parameters were never submitted: the handler's own answer.
    assert_eq!(answers[2]["error"]["code"], -32602, "{answers:?}");
    assert_eq!(
        call(a, "eth_chainId", json!([])).await["result"],
        format!("{CHAIN_ID:#x}")
    );
}

/// The batch's answers together are bounded by `max_response_body_bytes`, with the same
/// error as on the general path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_past_the_response_limit_gets_the_too_big_error() {
    let config = RpcConfig {
        max_response_body_bytes: 400,
        ..Default::default()
    };
    let (_chain, h) = serve(config).await;
    let a = h.local_addr();
    let fits: Vec<Value> = (0..2).map(|n| send(json!(n), json!([raw(n)]))).collect();
    assert_eq!(
        post(a, &Value::Array(fits)).await.as_array().unwrap().len(),
        2
    );
    let too_many: Vec<Value> = (0..8).map(|n| send(json!(n), json!([raw(n)]))).collect();
    let fast = post(a, &Value::Array(too_many.clone())).await;
    assert_eq!(fast["error"]["code"], -32011, "{fast}");
    // The general path (a batch with one other call in it) answers the same error.
    let mut mixed = too_many;
    mixed.push(json!({"jsonrpc": "2.0", "id": 99, "method": "eth_chainId", "params": []}));
    let general = post(a, &Value::Array(mixed)).await;
    assert_eq!(general["error"], fast["error"], "{general} vs {fast}");
}
