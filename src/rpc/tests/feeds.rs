//! New-block feeds: polled filters over HTTP and subscriptions over WebSocket, including a
//! subscriber that lags behind the broadcast and must get every block anyway.
#![allow(clippy::unwrap_used)]

mod support;

use bcos_rpc::RpcConfig;
use serde_json::{json, Value};
use support::client::{call, result, Ws};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_filter_reports_each_new_hash_once() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let id = result(a, "eth_newBlockFilter", json!([])).await;
    assert!(id.as_str().unwrap().starts_with("0x"));
    assert_eq!(
        result(a, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );
    let h2 = chain.push_empty();
    let h3 = chain.push_empty();
    let changes = result(a, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(changes, json!([format!("{h2:#x}"), format!("{h3:#x}")]));
    assert_eq!(
        result(a, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );

    let pending = result(a, "eth_newPendingTransactionFilter", json!([])).await;
    assert_eq!(
        result(a, "eth_getFilterChanges", json!([pending])).await,
        json!([])
    );

    assert_eq!(result(a, "eth_uninstallFilter", json!([id])).await, true);
    assert_eq!(result(a, "eth_uninstallFilter", json!([id])).await, false);
    let gone = call(a, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(gone["error"]["code"], -32000);
    assert_eq!(gone["error"]["message"], "filter not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_filter_reports_new_matching_logs_and_filter_logs_runs_the_query() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let watched = bcos_types::Address::repeat_byte(0xee);
    let id = result(
        a,
        "eth_newFilter",
        json!([{"fromBlock": "0x0", "address": format!("{watched:#x}")}]),
    )
    .await;
    chain.push_block(
        vec![eip2930_call(3, watched, &key(1))],
        vec![receipt(1, 21_000, vec![log(watched, &[topic(4)])])],
    );
    chain.push_block(
        vec![eip2930_call(4, watched, &key(1))],
        vec![receipt(
            1,
            21_000,
            vec![log(bcos_types::Address::repeat_byte(0x01), &[topic(4)])],
        )],
    );
    let changes = result(a, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(changes.as_array().unwrap().len(), 1, "{changes}");
    assert_eq!(changes[0]["blockNumber"], "0x2");
    assert_eq!(
        result(a, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );
    let all = result(a, "eth_getFilterLogs", json!([id])).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let block_filter = result(a, "eth_newBlockFilter", json!([])).await;
    assert_eq!(
        call(a, "eth_getFilterLogs", json!([block_filter])).await["error"]["code"],
        -32000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_bounded() {
    let (_chain, h) = serve(RpcConfig {
        filters_max: 2,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    result(a, "eth_newBlockFilter", json!([])).await;
    result(a, "eth_newBlockFilter", json!([])).await;
    assert_eq!(
        call(a, "eth_newBlockFilter", json!([])).await["error"]["code"],
        -32005
    );
}

async fn subscribe(ws: &mut Ws, params: Value) -> Value {
    ws.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}))
        .await;
    let rp = ws.recv().await;
    assert!(rp["result"].is_string(), "{rp}");
    rp["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_heads_subscription_receives_the_next_block() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let mut ws = Ws::connect(h.local_addr()).await;
    let sub = subscribe(&mut ws, json!(["newHeads"])).await;
    let hash = chain.push_empty();
    let note = ws.recv().await;
    assert_eq!(note["method"], "eth_subscription");
    assert_eq!(note["params"]["subscription"], sub);
    assert_eq!(note["params"]["result"]["hash"], format!("{hash:#x}"));
    assert_eq!(note["params"]["result"]["number"], "0x2");
    assert!(note["params"]["result"]["parentHash"].is_string());

    ws.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [sub]}))
        .await;
    assert_eq!(ws.recv().await["result"], true);
    ws.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["bogus"]}))
        .await;
    assert_eq!(ws.recv().await["error"]["code"], -32602);
    // Plain calls work over the same socket.
    ws.send(&json!({"jsonrpc": "2.0", "id": 4, "method": "eth_blockNumber", "params": []}))
        .await;
    assert_eq!(ws.recv().await["result"], "0x2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_subscriber_gets_every_block_in_order() {
    // A broadcast buffer of 2 blocks: committing 10 while the subscriber is not reading makes
    // its receiver lag; the missing blocks must come from storage.
    let chain = MockChain::new(2);
    let (chain, h) = serve_chain(RpcConfig::default(), chain).await;
    let mut ws = Ws::connect(h.local_addr()).await;
    subscribe(&mut ws, json!(["newHeads"])).await;
    let mut logs_ws = Ws::connect(h.local_addr()).await;
    let watched = bcos_types::Address::repeat_byte(0xee);
    subscribe(
        &mut logs_ws,
        json!(["logs", {"address": format!("{watched:#x}")}]),
    )
    .await;
    let hashes: Vec<_> = (0..10)
        .map(|i| {
            let logs = if i % 3 == 0 {
                vec![log(watched, &[topic(i)])]
            } else {
                vec![]
            };
            chain.push_block(
                vec![eip2930_call(3 + u64::from(i), watched, &key(1))],
                vec![receipt(1, 21_000, logs)],
            )
        })
        .collect();
    for (i, hash) in hashes.iter().enumerate() {
        let note = ws.recv().await;
        assert_eq!(
            note["params"]["result"]["hash"],
            format!("{hash:#x}"),
            "block {}",
            i + 2
        );
    }
    for i in [0u8, 3, 6, 9] {
        let note = logs_ws.recv().await;
        assert_eq!(
            note["params"]["result"]["topics"][0],
            format!("{:#x}", topic(i))
        );
        assert_eq!(
            note["params"]["result"]["blockNumber"],
            format!("{:#x}", 2 + u64::from(i))
        );
    }
}

/// Regression (CI, the ethers WebSocket scenario was flaky): jsonrpsee's `accept` writes a
/// subscription's id to the client before it records the subscription, so an
/// `eth_unsubscribe` sent as soon as the id arrived could answer `false` and leave the
/// subscription running until the connection closed. Every unsubscribe of an id the client
/// was sent must answer `true` and end that subscription. Several connections churn at
/// once (more worker threads than this machine may have cores) so the server's threads
/// are preempted often; with `subscriptions_max` equal to the number of connections, a
/// subscription left running would also make a later `eth_subscribe` fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsubscribe_right_after_subscribe_always_ends_the_subscription() {
    const CONNECTIONS: usize = 4;
    const ROUNDS: u64 = 200;
    let (_chain, h) = serve(RpcConfig {
        subscriptions_max: CONNECTIONS,
        ..Default::default()
    })
    .await;
    let a = h.local_addr();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            tokio::spawn(async move {
                let mut ws = Ws::connect(a).await;
                let mut last = Value::Null;
                for round in 0..ROUNDS {
                    let id = round * 2;
                    ws.send(&json!({"jsonrpc": "2.0", "id": id, "method": "eth_subscribe", "params": ["newHeads"]}))
                        .await;
                    let sub = ws.recv().await;
                    assert_eq!(sub["id"], id, "connection {c} round {round}: {sub}");
                    assert!(sub["result"].is_string(), "connection {c} round {round}: {sub}");
                    ws.send(&json!({"jsonrpc": "2.0", "id": id + 1, "method": "eth_unsubscribe", "params": [sub["result"]]}))
                        .await;
                    let rp = ws.recv().await;
                    assert_eq!(rp["id"], id + 1, "connection {c} round {round}: {rp}");
                    assert_eq!(rp["result"], true, "connection {c} round {round}: {rp}");
                    last = sub["result"].clone();
                }
                // Ids the server never gave, or gave and already ended, are unknown.
                for unknown in [json!("0x1234"), last] {
                    ws.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "eth_unsubscribe", "params": [unknown]}))
                        .await;
                    assert_eq!(ws.recv().await["result"], false, "{unknown}");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
}
