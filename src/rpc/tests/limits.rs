//! Issue 10, items 9 and 11: every list parameter and every query is bounded, and each
//! bound answers with a clear JSON-RPC error (-32005 "limit exceeded", or -32602).
#![allow(clippy::unwrap_used)]

mod support;

use bcos_rpc::RpcConfig;
use serde_json::{json, Value};
use support::client::{call, call_from, result, Ws};
use support::*;

fn message(rp: &Value) -> String {
    rp["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Regression (item 9): 5 M percentiles × 1,024 blocks was ~80 GB from one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_history_percentiles_are_bounded() {
    let (_chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let hundred: Vec<f64> = (0..100).map(f64::from).collect();
    let ok = result(a, "eth_feeHistory", json!(["0x2", "latest", hundred])).await;
    assert_eq!(ok["reward"].as_array().unwrap().len(), 2);
    assert_eq!(ok["reward"][0].as_array().unwrap().len(), 100);
    let too_many: Vec<f64> = (0..=100).map(f64::from).collect();
    let rp = call(a, "eth_feeHistory", json!(["0x2", "latest", too_many])).await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    assert!(message(&rp).contains("too many reward percentiles: 101 (limit 100)"));
}

/// Regression (item 9): a filter's address and topic lists were unbounded, and installed
/// filters and subscriptions keep them for their lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_lists_are_bounded_for_queries_filters_and_subscriptions() {
    let (_chain, h) = serve(RpcConfig {
        filter_addresses_max: 2,
        filter_topic_options_max: 2,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let addr = |i: u8| format!("{:#x}", bcos_types::Address::repeat_byte(i));
    let t = |i: u8| format!("{:#x}", topic(i));
    let three_addresses = json!({"fromBlock": "0x0", "address": [addr(1), addr(2), addr(3)]});
    let three_topics = json!({"fromBlock": "0x0", "topics": [null, [t(1), t(2), t(3)]]});
    for filter in [&three_addresses, &three_topics] {
        for method in ["eth_getLogs", "eth_newFilter"] {
            let rp = call(a, method, json!([filter])).await;
            assert_eq!(rp["error"]["code"], -32005, "{method}: {rp}");
            assert!(message(&rp).contains("(limit 2)"), "{rp}");
        }
        let mut ws = Ws::connect(a).await;
        ws.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["logs", filter]}))
            .await;
        let rp = ws.recv().await;
        assert_eq!(rp["error"]["code"], -32005, "{rp}");
    }
    let two =
        json!({"fromBlock": "0x0", "address": [addr(1), addr(0xd0)], "topics": [[t(3), t(4)]]});
    assert_eq!(
        result(a, "eth_getLogs", json!([two]))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(result(a, "eth_newFilter", json!([two])).await.is_string());
}

/// Regression (item 11): an unfiltered eth_getLogs read the receipts of up to 10,000 full
/// blocks. Blocks a bloom rules out cost no receipt read, so a filtered query may span more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_reads_the_receipts_of_a_bounded_number_of_blocks() {
    let (chain, h) = serve(RpcConfig {
        get_logs_blocks_read_max: 3,
        ..Default::default()
    })
    .await;
    for _ in 0..5 {
        chain.push_empty();
    }
    let a = h.local_addr();
    let rp = call(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
    )
    .await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    assert!(
        message(&rp).contains("receipts of more than 3 blocks"),
        "{rp}"
    );
    let three = json!([{"fromBlock": "0x0", "toBlock": "0x2"}]);
    assert_eq!(
        result(a, "eth_getLogs", three)
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let other = format!("{:#x}", bcos_types::Address::repeat_byte(0xd0));
    let filtered = json!([{"fromBlock": "0x0", "toBlock": "latest", "address": other}]);
    assert_eq!(
        result(a, "eth_getLogs", filtered)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Regression (item 11): the answer of eth_getLogs is bounded in bytes as well as in count
/// (a log's data can be large).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_answers_are_bounded_in_bytes() {
    let (_chain, h) = serve(RpcConfig {
        get_logs_bytes_max: 1_000,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let one = format!("{:#x}", bcos_types::Address::repeat_byte(0xd0));
    let small = json!([{"fromBlock": "0x1", "toBlock": "0x1", "address": one}]);
    assert_eq!(
        result(a, "eth_getLogs", small)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let rp = call(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x1"}]),
    )
    .await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    assert!(
        message(&rp).contains("more than 1000 bytes of logs"),
        "{rp}"
    );
}

/// Regression (item 11): one client could take all filter slots. Clients are told apart by
/// IP address (127.0.0.2 is another loopback client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_filter_slot() {
    let (_chain, h) = serve(RpcConfig {
        filters_max: 10,
        filters_per_client_max: 2,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let me = [127, 0, 0, 1];
    assert!(call_from(me, a, "eth_newBlockFilter", json!([])).await["result"].is_string());
    assert!(
        call_from(me, a, "eth_newPendingTransactionFilter", json!([])).await["result"].is_string()
    );
    let rp = call_from(me, a, "eth_newBlockFilter", json!([])).await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    assert!(
        message(&rp).contains("for this client: 2 (limit 2)"),
        "{rp}"
    );
    let other = call_from([127, 0, 0, 2], a, "eth_newBlockFilter", json!([])).await;
    assert!(other["result"].is_string(), "{other}");
    // Uninstalling frees the client's slot.
    let id = call_from([127, 0, 0, 3], a, "eth_newBlockFilter", json!([])).await["result"].clone();
    assert_eq!(
        call_from([127, 0, 0, 3], a, "eth_uninstallFilter", json!([id])).await["result"],
        true
    );
}

/// Regression (item 11): 1,000 connections × 1,024 subscriptions each; now there is a
/// node-wide bound as well as the per-connection one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_bounded_per_connection_and_in_total() {
    let (_chain, h) = serve(RpcConfig {
        subscriptions_max: 2,
        subscriptions_per_connection_max: 1,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let subscribe = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "eth_subscribe", "params": ["newHeads"]});
    let mut first = Ws::connect(a).await;
    first.send(&subscribe(1)).await;
    let sub = first.recv().await["result"].clone();
    assert!(sub.is_string());
    first.send(&subscribe(2)).await;
    assert!(
        first.recv().await["error"].is_object(),
        "per-connection bound"
    );
    let mut second = Ws::connect(a).await;
    second.send(&subscribe(1)).await;
    assert!(second.recv().await["result"].is_string());
    let mut third = Ws::connect(a).await;
    third.send(&subscribe(1)).await;
    let rp = third.recv().await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    assert!(message(&rp).contains("too many subscriptions on this node (limit 2)"));
    // Unsubscribing frees a node-wide slot.
    first
        .send(&json!({"jsonrpc": "2.0", "id": 3, "method": "eth_unsubscribe", "params": [sub]}))
        .await;
    assert_eq!(first.recv().await["result"], true);
    loop {
        // The slot is freed when the subscription's task ends, just after the answer.
        third.send(&subscribe(2)).await;
        let rp = third.recv().await;
        if rp["result"].is_string() {
            break;
        }
        // Until the refused attempt's task ends, jsonrpsee may still count it against this
        // connection's own bound (-32006) rather than ours (-32005).
        let code = rp["error"]["code"].as_i64();
        assert!(matches!(code, Some(-32005) | Some(-32006)), "{rp}");
        tokio::task::yield_now().await;
    }
}

/// The access list is the list parameter of eth_call / eth_estimateGas: one whose intrinsic
/// gas exceeds `call_gas_max` could never run and is refused before any state is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_access_lists_are_bounded_by_the_call_gas_limit() {
    let (_chain, h) = serve(RpcConfig {
        call_gas_max: 10_000,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let keys = |n: usize| vec![format!("{:#x}", bcos_types::B256::ZERO); n];
    let req = |n: usize| {
        json!([{"to": format!("{:#x}", bcos_types::Address::repeat_byte(1)), "input": "0x01",
                "accessList": [{"address": format!("{:#x}", bcos_types::Address::repeat_byte(2)), "storageKeys": keys(n)}]}])
    };
    // 2,400 + 4 × 1,900 = 10,000 gas: allowed.
    assert_eq!(result(a, "eth_call", req(4)).await, "0x01");
    for method in ["eth_call", "eth_estimateGas"] {
        let rp = call(a, method, req(5)).await;
        assert_eq!(rp["error"]["code"], -32602, "{rp}");
        assert!(
            message(&rp).contains("access list needs 11900 intrinsic gas"),
            "{rp}"
        );
    }
}
