//! Helpers for the transport tests: certificates, pre-bound listeners, bounded waits.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bcos_net::{
    generate_ca, Ca, Inbound, LinkState, NetConfig, NetStats, NetworkHandle, NodeCert, PeerIndex,
    PeerSpec,
};
use bytes::Bytes;
use tokio::net::TcpListener;

/// Upper bound for any awaited event; generous because the machine is shared.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("bcos_net=debug")
        .try_init();
}

/// The node id the tests give node `i` (its certificate's CN and its peer list entry).
pub fn node_id(i: PeerIndex) -> String {
    format!("{:02x}{:02x}", i, 0xab)
}

pub fn ca_and_nodes(name: &str, indices: &[PeerIndex]) -> (Ca, Vec<NodeCert>) {
    let ca = generate_ca(name).expect("ca");
    let nodes = indices
        .iter()
        .map(|&i| ca.issue_node(i, &node_id(i)).expect("node cert"))
        .collect();
    (ca, nodes)
}

pub async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// Fast retry so that reconnects happen promptly in tests; peer `i` must carry [`node_id`].
pub fn config(listen: SocketAddr, peers: Vec<(PeerIndex, SocketAddr)>) -> NetConfig {
    let peers = peers
        .into_iter()
        .map(|(i, a)| PeerSpec::new(i, a, node_id(i)))
        .collect();
    let mut c = NetConfig::new(listen, peers);
    c.connect_retry_ms = 10;
    c.connect_retry_max_ms = 200;
    c.handshake_timeout_ms = 5_000;
    c
}

pub async fn recv(rx: &mut Inbound) -> (PeerIndex, Bytes) {
    tokio::time::timeout(EVENT_TIMEOUT, rx.recv())
        .await
        .expect("timed out waiting for a frame")
        .expect("network closed")
}

/// Receives `n` frames and returns them sorted (arrival order across peers is not defined).
pub async fn recv_n(rx: &mut Inbound, n: usize) -> Vec<(PeerIndex, Vec<u8>)> {
    let mut got = Vec::new();
    for _ in 0..n {
        let (p, b) = recv(rx).await;
        got.push((p, b.to_vec()));
    }
    got.sort();
    got
}

pub async fn wait_stats(
    handle: &NetworkHandle,
    what: &str,
    pred: impl FnMut(&NetStats) -> bool,
) -> NetStats {
    let mut rx = handle.stats();
    let s = tokio::time::timeout(EVENT_TIMEOUT, rx.wait_for(pred))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out waiting for stats: {what}; now {:?}",
                handle.stats().borrow()
            )
        })
        .expect("stats closed")
        .clone();
    s
}

pub async fn wait_link(
    handle: &NetworkHandle,
    peer: PeerIndex,
    what: &str,
    pred: impl FnMut(&LinkState) -> bool,
) -> LinkState {
    let mut rx = handle.link(peer).expect("peer is configured");
    let s = *tokio::time::timeout(EVENT_TIMEOUT, rx.wait_for(pred))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for link to {peer}: {what}"))
        .expect("link closed");
    s
}
