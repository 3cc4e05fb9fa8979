//! Issue 13: one server serves several groups, each an ordinary Ethereum endpoint at
//! `/g/<group>` (`/` is group 0), over HTTP and WebSocket, with groups added and removed
//! while it runs.
#![allow(clippy::unwrap_used)]

mod support;

use bcos_rpc::{RpcConfig, RpcError, RpcHandle};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::client::{call_path, connect_from, post_on, Ws};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHAIN_1: u64 = 20201;
const CHAIN_2: u64 = 20202;

/// Groups 0 and 1 over chains with different ids.
async fn two_groups() -> (Arc<MockChain>, Arc<MockChain>, RpcHandle) {
    let g0 = MockChain::new(64);
    let g1 = MockChain::with_chain_id(64, CHAIN_1);
    let h = serve_groups(RpcConfig::default(), &[(0, g0.clone()), (1, g1.clone())]).await;
    (g0, g1, h)
}

fn hex(id: u64) -> String {
    format!("{id:#x}")
}

async fn chain_id_at(h: &RpcHandle, path: &str) -> (u16, Value) {
    call_path(h.local_addr(), path, "eth_chainId", json!([])).await
}

/// Asserts a 404 with the JSON-RPC error object; returns the error message.
fn assert_not_found(status: u16, rp: &Value) -> String {
    assert_eq!(status, 404, "{rp}");
    assert_eq!(rp["jsonrpc"], "2.0", "{rp}");
    assert_eq!(rp["id"], Value::Null, "{rp}");
    assert_eq!(rp["error"]["code"], -32001, "{rp}");
    rp["error"]["message"].as_str().unwrap().to_owned()
}

fn subscribe_heads() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
}

fn chain_id_request(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "eth_chainId", "params": []})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_path_answers_its_groups_chain() {
    let (_g0, _g1, h) = two_groups().await;
    for (path, chain) in [
        ("/", CHAIN_ID),
        ("/g/0", CHAIN_ID),
        ("/g/0/", CHAIN_ID),
        ("/g/1", CHAIN_1),
        ("/g/1/", CHAIN_1),
    ] {
        let (status, rp) = chain_id_at(&h, path).await;
        assert_eq!(status, 200, "{path}: {rp}");
        assert_eq!(rp["result"], hex(chain), "{path}: {rp}");
    }
    let (_, rp) = call_path(h.local_addr(), "/g/1", "net_version", json!([])).await;
    assert_eq!(rp["result"], CHAIN_1.to_string());
    assert_eq!(h.groups(), vec![0, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_groups_and_other_paths_are_404_with_a_json_rpc_error() {
    let (_g0, _g1, h) = two_groups().await;
    let (status, rp) = chain_id_at(&h, "/g/2").await;
    assert_eq!(
        assert_not_found(status, &rp),
        "this node does not serve group 2"
    );
    for path in [
        "/g/x",
        "/g/99999999999999999999",
        "/g/999999999999999999999999999999",
        "/g/4294967296",
        "/g/01",
        "/g/",
        "/foo",
        "/g/1/x",
    ] {
        let (status, rp) = chain_id_at(&h, path).await;
        let message = assert_not_found(status, &rp);
        assert!(message.contains("/g/<group>"), "{path}: {message}");
    }
    // A WebSocket upgrade is routed the same way.
    let stream = connect_from([127, 0, 0, 1], h.local_addr()).await.unwrap();
    let refused = Ws::handshake(stream, h.local_addr(), "/g/7")
        .await
        .err()
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 404"), "{refused}");
    // The server still answers.
    assert_eq!(chain_id_at(&h, "/g/1").await.1["result"], hex(CHAIN_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_added_and_removed_while_serving() {
    let (_g0, _g1, h) = two_groups().await;
    let g2 = MockChain::with_chain_id(64, CHAIN_2);
    h.add_group(2, g2.clone()).unwrap();
    assert_eq!(chain_id_at(&h, "/g/2").await.1["result"], hex(CHAIN_2));
    assert_eq!(h.groups(), vec![0, 1, 2]);
    assert!(matches!(
        h.add_group(2, g2.clone()),
        Err(RpcError::GroupExists(2))
    ));

    assert!(h.remove_group(2));
    let (status, rp) = chain_id_at(&h, "/g/2").await;
    assert_eq!(
        assert_not_found(status, &rp),
        "this node does not serve group 2"
    );
    assert!(!h.remove_group(2));
    assert_eq!(h.groups(), vec![0, 1]);

    // Group 0 is an ordinary group: removed, `/` is 404 as well; added back, it answers.
    assert!(h.remove_group(0));
    let (status, rp) = chain_id_at(&h, "/").await;
    assert_eq!(
        assert_not_found(status, &rp),
        "this node does not serve group 0"
    );
    h.add_group(0, g2).unwrap();
    assert_eq!(chain_id_at(&h, "/").await.1["result"], hex(CHAIN_2));
    assert_eq!(chain_id_at(&h, "/g/1").await.1["result"], hex(CHAIN_1));
}

/// Routing is per request: one keep-alive connection may address different groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_keep_alive_connection_addresses_groups_in_turn() {
    let (_g0, _g1, h) = two_groups().await;
    let mut s = connect_from([127, 0, 0, 1], h.local_addr()).await.unwrap();
    let body = chain_id_request(1).to_string();
    for (path, answer) in [
        ("/g/1", Some(CHAIN_1)),
        ("/", Some(CHAIN_ID)),
        ("/g/7", None),
        ("/g/1/", Some(CHAIN_1)),
        ("/g/0", Some(CHAIN_ID)),
    ] {
        let (status, text) = post_on(&mut s, path, &body).await;
        let rp: Value = serde_json::from_str(&text).unwrap();
        match answer {
            Some(chain) => {
                assert_eq!(status, 200, "{path}: {rp}");
                assert_eq!(rp["result"], hex(chain), "{path}: {rp}");
            }
            None => {
                assert_not_found(status, &rp);
            }
        }
    }
}

/// Each group has its own RPC state: a filter installed through one group is unknown to
/// another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_do_not_share_filters() {
    let (g0, _g1, h) = two_groups().await;
    let a = h.local_addr();
    let (_, rp) = call_path(a, "/g/0", "eth_newBlockFilter", json!([])).await;
    let id = rp["result"].clone();
    let (_, rp) = call_path(a, "/g/1", "eth_getFilterChanges", json!([id])).await;
    assert_eq!(rp["error"]["message"], "filter not found", "{rp}");
    let pushed = g0.push_empty();
    let (_, rp) = call_path(a, "/", "eth_getFilterChanges", json!([id])).await;
    assert_eq!(rp["result"], json!([format!("{pushed:#x}")]), "{rp}");
}

/// The connection accounting of `conn` reaches every group's handlers: the per-client
/// filter limit (which needs the connection's meter) holds at `/g/1`, per group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_accounting_reaches_every_group() {
    let g0 = MockChain::new(64);
    let g1 = MockChain::with_chain_id(64, CHAIN_1);
    let config = RpcConfig {
        filters_per_client_max: 1,
        ..Default::default()
    };
    let h = serve_groups(config, &[(0, g0), (1, g1)]).await;
    let a = h.local_addr();
    let (_, rp) = call_path(a, "/g/1", "eth_newBlockFilter", json!([])).await;
    assert!(rp["result"].is_string(), "{rp}");
    let (_, rp) = call_path(a, "/g/1", "eth_newBlockFilter", json!([])).await;
    assert_eq!(rp["error"]["code"], -32005, "{rp}");
    let (_, rp) = call_path(a, "/g/0", "eth_newBlockFilter", json!([])).await;
    assert!(rp["result"].is_string(), "{rp}");
}

/// Connection limits are the listener's, whichever group a connection addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_span_all_groups() {
    let g0 = MockChain::new(64);
    let g1 = MockChain::with_chain_id(64, CHAIN_1);
    let config = RpcConfig {
        max_connections: 1,
        ..Default::default()
    };
    let h = serve_groups(config, &[(0, g0), (1, g1)]).await;
    let mut first = connect_from([127, 0, 0, 1], h.local_addr()).await.unwrap();
    let body = chain_id_request(1).to_string();
    // Answered: the server has admitted this connection.
    assert_eq!(post_on(&mut first, "/", &body).await.0, 200);
    let mut second = connect_from([127, 0, 0, 2], h.local_addr()).await.unwrap();
    let req = format!(
        "POST /g/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Refused connections are closed unanswered (the write may or may not fail first).
    let _ = second.write_all(req.as_bytes()).await;
    let mut buf = [0u8; 16];
    assert!(matches!(second.read(&mut buf).await, Ok(0) | Err(_)));
    assert_eq!(post_on(&mut first, "/g/1", &body).await.0, 200);
}

/// A WebSocket at `/g/1` is group 1's: its calls and subscriptions see group 1's chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_at_a_group_path_serves_that_group() {
    let (g0, g1, h) = two_groups().await;
    let mut ws = Ws::connect_path(h.local_addr(), "/g/1").await;
    ws.send(&chain_id_request(7)).await;
    assert_eq!(ws.recv().await["result"], hex(CHAIN_1));

    ws.send(&subscribe_heads()).await;
    let sub = ws.recv().await["result"].clone();
    // A block of group 0 first: were the socket group 0's, it would be the first heard of.
    g0.push_empty();
    let ours = g1.push_empty();
    let note = ws.recv().await;
    assert_eq!(note["params"]["subscription"], sub, "{note}");
    assert_eq!(
        note["params"]["result"]["hash"],
        format!("{ours:#x}"),
        "{note}"
    );
}

/// Removing a group closes the WebSocket connections open to it; other groups' stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_group_closes_its_websockets() {
    let (_g0, _g1, h) = two_groups().await;
    let mut removed = Ws::connect_path(h.local_addr(), "/g/1").await;
    removed.send(&subscribe_heads()).await;
    assert!(removed.recv().await["result"].is_string());
    let mut kept = Ws::connect_path(h.local_addr(), "/").await;

    assert!(h.remove_group(1));
    tokio::time::timeout(Duration::from_secs(30), removed.count_until_closed())
        .await
        .expect("the removed group's WebSocket stayed open");
    kept.send(&chain_id_request(2)).await;
    assert_eq!(kept.recv().await["result"], hex(CHAIN_ID));
}

/// Stopping the server stops every group: open WebSockets of every group close, `stopped`
/// resolves, and no group can be added any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_stops_every_group() {
    let (_g0, _g1, h) = two_groups().await;
    let mut ws0 = Ws::connect_path(h.local_addr(), "/").await;
    let mut ws1 = Ws::connect_path(h.local_addr(), "/g/1").await;
    ws1.send(&subscribe_heads()).await;
    assert!(ws1.recv().await["result"].is_string());

    h.stop();
    let within = Duration::from_secs(30);
    tokio::time::timeout(within, ws0.count_until_closed())
        .await
        .expect("group 0's WebSocket stayed open");
    tokio::time::timeout(within, ws1.count_until_closed())
        .await
        .expect("group 1's WebSocket stayed open");
    tokio::time::timeout(within, h.clone().stopped())
        .await
        .expect("the server never stopped");
    assert!(matches!(
        h.add_group(5, MockChain::new(4)),
        Err(RpcError::Stopped)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_groups_at_start_are_refused() {
    let config = RpcConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let c = MockChain::new(4) as Arc<dyn bcos_rpc::ChainApi>;
    let r = bcos_rpc::start_groups(&config, vec![(3, c.clone()), (3, c)]).await;
    assert!(matches!(r, Err(RpcError::GroupExists(3))));
}

#[test]
fn rpc_handle_is_clone_send_sync() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<RpcHandle>();
}
