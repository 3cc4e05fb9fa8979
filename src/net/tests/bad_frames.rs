//! Malformed input closes the offending connection only: an oversized frame from a peer,
//! plain TCP garbage instead of TLS, and a verified peer sending a bad length or a truncated
//! frame. Frames from other peers keep arriving.

mod common;

use std::net::SocketAddr;

use bcos_net::{framing, tls, Ca, Network, NetworkHandle, NodeCert};
use bytes::{Bytes, BytesMut};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_only_that_connection() {
    init_tracing();
    let (ca, certs) = ca_and_nodes("chain", &[0, 1, 2]);
    let mut bound = Vec::new();
    for _ in 0..3 {
        bound.push(bind().await);
    }
    let peers: Vec<_> = bound
        .iter()
        .enumerate()
        .map(|(i, (_, a))| (i as u32, *a))
        .collect();
    let mut nodes = Vec::new();
    for ((l, a), cert) in bound.into_iter().zip(certs) {
        let mut cfg = config(a, peers.clone());
        // node 1 accepts 1 KiB; the others would send up to 1 MiB
        cfg.frame_bytes_max = if cert.index == 1 { 1024 } else { 1024 * 1024 };
        nodes.push(Network::start_on(l, cfg, cert, ca.cert()).expect("start"));
    }
    nodes[0]
        .0
        .send(1, Bytes::from_static(b"small"))
        .expect("send");
    assert_eq!(
        recv(&mut nodes[1].1).await,
        (0, Bytes::from_static(b"small"))
    );
    let before = *nodes[0].0.link(1).expect("link").borrow();
    assert!(before.connected);

    nodes[0]
        .0
        .send(1, Bytes::from(vec![7u8; 4096]))
        .expect("sender allows 1 MiB");
    wait_stats(&nodes[1].0, "oversized frame rejected", |s| {
        s.frames_rejected == 1
    })
    .await;
    wait_link(&nodes[0].0, 1, "closed by node 1", |l| {
        l.disconnects > before.disconnects
    })
    .await;

    // node 2's link to node 1 was untouched and still delivers
    nodes[2]
        .0
        .send(1, Bytes::from_static(b"from 2"))
        .expect("send");
    assert_eq!(
        recv(&mut nodes[1].1).await,
        (2, Bytes::from_static(b"from 2"))
    );
    assert_eq!(nodes[2].0.link(1).expect("link").borrow().disconnects, 0);

    // node 0 redials and is heard again; the oversized frame itself never arrives
    wait_link(&nodes[0].0, 1, "redialled", |l| {
        l.connected && l.connects > before.connects
    })
    .await;
    nodes[0]
        .0
        .send(1, Bytes::from_static(b"again"))
        .expect("send");
    assert_eq!(
        recv(&mut nodes[1].1).await,
        (0, Bytes::from_static(b"again"))
    );
    for (h, _) in &nodes {
        h.shutdown().await;
    }
}

/// Node 1 with trusted peers 0 (a real node) and 2 (played by the test with a raw TLS client).
async fn victim() -> (
    Ca,
    NodeCert,
    (NetworkHandle, bcos_net::Inbound),
    (NetworkHandle, bcos_net::Inbound),
    SocketAddr,
) {
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 1, 2]);
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let (_l2, a2) = bind().await;
    let peers = vec![(0, a0), (1, a1), (2, a2)];
    let impostor = certs.remove(2);
    let n1 = Network::start_on(l1, config(a1, peers.clone()), certs.remove(1), ca.cert())
        .expect("start");
    let n0 = Network::start_on(l0, config(a0, peers), certs.remove(0), ca.cert()).expect("start");
    (ca, impostor, n0, n1, a1)
}

async fn trusted_raw_client(
    ca: &Ca,
    cert: &NodeCert,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = TlsConnector::from(tls::client_config(cert, &ca.cert()).expect("client"));
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    let mut s = connector
        .connect(tls::server_name(1).expect("name"), tcp)
        .await
        .expect("tls");
    let mut ack = [0u8; 8];
    s.read_exact(&mut ack)
        .await
        .expect("acked: certificate is trusted and listed");
    assert_eq!(&ack, b"BCOS\0\0\0\x01");
    s
}

/// Reads until the server closes; returns once it has (EOF or error), bounded.
async fn await_closed<S: tokio::io::AsyncRead + Unpin>(s: &mut S) {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(EVENT_TIMEOUT, s.read(&mut buf))
            .await
            .expect("server closes")
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn still_hears_node0(n0: &NetworkHandle, rx1: &mut bcos_net::Inbound, tag: &'static [u8]) {
    n0.send(1, Bytes::from_static(tag)).expect("send");
    assert_eq!(recv(rx1).await, (0, Bytes::from_static(tag)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_streams_close_only_their_connection() {
    init_tracing();
    let (ca, impostor, (n0, _rx0), (n1, mut rx1), a1) = victim().await;
    still_hears_node0(&n0, &mut rx1, b"before").await;

    // 1. plain TCP, no TLS
    let mut raw = TcpStream::connect(a1).await.expect("tcp");
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    await_closed(&mut raw).await;
    wait_stats(&n1, "plain tcp refused", |s| {
        s.handshakes_failed_inbound == 1
    })
    .await;
    still_hears_node0(&n0, &mut rx1, b"after raw").await;

    // 2. trusted TLS, then a garbage length prefix
    let mut s = trusted_raw_client(&ca, &impostor, a1).await;
    s.write_all(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3])
        .await
        .expect("write");
    s.flush().await.expect("flush");
    await_closed(&mut s).await;
    wait_stats(&n1, "bad length rejected", |s| s.frames_rejected == 1).await;
    still_hears_node0(&n0, &mut rx1, b"after garbage").await;

    // 3. trusted TLS, one good frame, then a frame cut short by the close
    let mut s = trusted_raw_client(&ca, &impostor, a1).await;
    let mut wire = BytesMut::new();
    framing::encode(b"legit", &mut wire);
    wire.extend_from_slice(&100u32.to_be_bytes());
    wire.extend_from_slice(b"only ten b");
    s.write_all(&wire).await.expect("write");
    s.shutdown().await.expect("close_notify");
    assert_eq!(recv(&mut rx1).await, (2, Bytes::from_static(b"legit")));
    wait_stats(&n1, "truncated frame rejected", |s| s.frames_rejected == 2).await;

    // 4. an empty frame is malformed too
    let mut s = trusted_raw_client(&ca, &impostor, a1).await;
    s.write_all(&[0, 0, 0, 0]).await.expect("write");
    s.flush().await.expect("flush");
    await_closed(&mut s).await;
    wait_stats(&n1, "empty frame rejected", |s| s.frames_rejected == 3).await;

    still_hears_node0(&n0, &mut rx1, b"after all").await;
    assert_eq!(
        n0.link(1).expect("link").borrow().disconnects,
        0,
        "node 0's link never dropped"
    );
    n0.shutdown().await;
    n1.shutdown().await;
}
