//! Byte budgets and write timeouts (spec/pbft.md §5.3, P2P-L1, P2P-L2): a peer's send queue
//! is bounded in bytes, a peer that stops reading is disconnected after `write_timeout_ms`,
//! and a peer that floods us fills only its own receive budget.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bcos_net::{framing, tls, Ca, CaCert, NetError, Network, NodeCert};
use bytes::{Bytes, BytesMut};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_queue_is_bounded_in_bytes_not_only_in_frames() {
    init_tracing();
    let (ca, mut certs) = ca_and_nodes("chain", &[0]);
    let (listener, addr) = bind().await;
    let (dead, dead_addr) = bind().await;
    drop(dead); // peer 1 never answers: nothing drains the queue
    let mut cfg = config(addr, vec![(1, dead_addr)]);
    cfg.frame_bytes_max = 1024 * 1024;
    cfg.send_queue_bytes_max = 1024 * 1024;
    let (node, _rx) = Network::start_on(listener, cfg, certs.remove(0), ca.cert()).expect("start");
    let big = Bytes::from(vec![7u8; 600 * 1024]);
    node.send(1, big.clone()).expect("fits");
    assert_eq!(node.send_queue_bytes(1), Some(600 * 1024));
    assert!(matches!(node.send(1, big), Err(NetError::QueueFull(1))));
    assert_eq!(node.stats().borrow().frames_dropped_queue_bytes, 1);
    assert_eq!(node.stats().borrow().frames_dropped_queue_full, 0);
    node.send(1, Bytes::from(vec![1u8; 400 * 1024]))
        .expect("what is left of the budget is usable");
    assert_eq!(node.send_queue_bytes_free(1), Some(24 * 1024));
    assert_eq!(
        node.broadcast(Bytes::from(vec![1u8; 25 * 1024])).ok(),
        Some(0)
    );
    assert_eq!(node.stats().borrow().frames_dropped_queue_bytes, 2);
    node.shutdown().await;
}

/// Plays node 1: verifies and acks node 0's dials, then never reads a byte.
async fn acceptor_that_never_reads(ca: CaCert, cert: NodeCert, listener: TcpListener) {
    let acceptor = TlsAcceptor::from(tls::server_config(&cert, &ca).expect("server"));
    let mut held = Vec::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut stream) = acceptor.accept(tcp).await else {
            continue;
        };
        if stream.write_all(b"BCOS\0\0\0\x01").await.is_ok() && stream.flush().await.is_ok() {
            held.push(stream);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_disconnected_after_the_write_timeout() {
    init_tracing();
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 1]);
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let stalled = tokio::spawn(acceptor_that_never_reads(ca.cert(), certs.remove(1), l1));
    let mut cfg = config(a0, vec![(1, a1)]);
    cfg.write_timeout_ms = 300;
    cfg.send_queue_bytes_max = 256 * 1024 * 1024;
    let (node, _rx) = Network::start_on(l0, cfg, certs.remove(0), ca.cert()).expect("start");
    wait_link(&node, 1, "acked", |l| l.connected).await;
    // far more than the socket buffers hold: the write must block
    for _ in 0..16 {
        node.send(1, Bytes::from(vec![0u8; 4 * 1024 * 1024]))
            .expect("queued");
    }
    let stats = wait_stats(&node, "write timed out", |s| s.write_timeouts >= 1).await;
    assert_eq!(stats.frames_dropped_queue_bytes, 0);
    wait_link(&node, 1, "link dropped", |l| l.disconnects >= 1).await;
    stalled.abort();
    node.shutdown().await;
}

async fn trusted_raw_client(
    ca: &Ca,
    cert: &NodeCert,
    addr: SocketAddr,
    acceptor: u32,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = TlsConnector::from(tls::client_config(cert, &ca.cert()).expect("client"));
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    let mut s = connector
        .connect(tls::server_name(acceptor).expect("name"), tcp)
        .await
        .expect("tls");
    let mut ack = [0u8; 8];
    s.read_exact(&mut ack).await.expect("acked");
    s
}

/// Waits for a condition no event announces (a budget filling up), bounded.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    tokio::time::timeout(EVENT_TIMEOUT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_fills_only_its_own_receive_budget() {
    init_tracing();
    const BUDGET: usize = 64 * 1024;
    const FRAME: usize = 1024;
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 1, 2]);
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let (_l2, a2) = bind().await;
    let peers = vec![(0, a0), (1, a1), (2, a2)];
    let small = |a| {
        let mut c = config(a, peers.clone());
        c.frame_bytes_max = BUDGET as u32;
        c.recv_queue_bytes_max = BUDGET;
        c
    };
    let flooder = certs.remove(2);
    let (n1, mut rx1) =
        Network::start_on(l1, small(a1), certs.remove(1), ca.cert()).expect("start");
    let (n0, _rx0) = Network::start_on(l0, small(a0), certs.remove(0), ca.cert()).expect("start");

    // Node 2 (a raw client) writes 64 MiB of 1 KiB frames; nobody takes them from node 1.
    let mut stream = trusted_raw_client(&ca, &flooder, a1, 1).await;
    let flood = tokio::spawn(async move {
        let mut batch = BytesMut::new();
        for _ in 0..64 {
            framing::encode(&[2u8; FRAME], &mut batch);
        }
        for _ in 0..1024 {
            if stream.write_all(&batch).await.is_err() {
                return;
            }
        }
    });
    eventually("node 2's budget to fill", || {
        n1.recv_queue_bytes(2).unwrap_or(0) >= BUDGET
    })
    .await;
    // node 0 is still heard while node 2's reader waits
    n0.send(1, Bytes::from_static(b"hello")).expect("send");
    eventually("node 0's frame delivered", || {
        n1.recv_queue_bytes(0) == Some(5)
    })
    .await;
    assert_eq!(
        n1.recv_queue_bytes(2),
        Some(BUDGET),
        "never more than the budget"
    );
    assert!(!flood.is_finished(), "the flooder is held back by TCP");

    let mut before_hello = 0;
    loop {
        let (from, frame) = recv(&mut rx1).await;
        if from == 0 {
            assert_eq!(frame, Bytes::from_static(b"hello"));
            break;
        }
        before_hello += 1;
    }
    assert!(
        before_hello <= BUDGET / FRAME,
        "{before_hello} flood frames were queued ahead of node 0's"
    );
    flood.abort();
    n0.shutdown().await;
    n1.shutdown().await;
}
