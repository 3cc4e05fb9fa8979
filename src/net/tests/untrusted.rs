//! A node whose certificate the chain CA did not sign can neither connect nor be connected to,
//! and a CA-signed certificate for an index outside the peer list is refused; the trusted
//! nodes keep working throughout.

mod common;

use bcos_net::{generate_ca, tls, Network};
use bytes::Bytes;
use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_from_unknown_ca_is_refused_both_ways() {
    init_tracing();
    let (ca, certs) = ca_and_nodes("chain", &[0, 1, 2]);
    let rogue_ca = generate_ca("chain").expect("rogue ca"); // same name, different key
    let rogue_cert = rogue_ca.issue_node(3, "33").expect("rogue cert");

    let mut bound = Vec::new();
    for _ in 0..4 {
        bound.push(bind().await);
    }
    let peers: Vec<_> = bound
        .iter()
        .enumerate()
        .map(|(i, (_, a))| (i as u32, *a))
        .collect();
    let mut listeners = bound.into_iter();
    let mut good = Vec::new();
    for cert in certs {
        let (l, a) = listeners.next().expect("listener");
        good.push(Network::start_on(l, config(a, peers.clone()), cert, ca.cert()).expect("start"));
    }
    // the rogue trusts its own CA, as an attacker with a self-made chain would
    let (l, a) = listeners.next().expect("listener");
    let (rogue, mut rogue_rx) =
        Network::start_on(l, config(a, peers.clone()), rogue_cert, rogue_ca.cert()).expect("start");

    for j in 0..3 {
        rogue
            .send(j, Bytes::from_static(b"forged"))
            .expect("queued locally");
    }
    // each good node refuses the rogue's dial and fails to verify the rogue when dialling it
    for (h, _) in &good {
        wait_stats(h, "inbound refusal", |s| s.handshakes_failed_inbound >= 1).await;
        wait_stats(h, "outbound refusal", |s| s.handshakes_failed_outbound >= 1).await;
    }
    wait_stats(&rogue, "rogue dials refused", |s| {
        s.handshakes_failed_outbound >= 3
    })
    .await;

    // trusted traffic flows meanwhile
    for (i, (h, _)) in good.iter().enumerate() {
        h.broadcast(Bytes::from(vec![i as u8])).expect("broadcast");
    }
    for (j, (_, rx)) in good.iter_mut().enumerate() {
        let got = recv_n(rx, 2).await;
        let want: Vec<_> = (0..3u32)
            .filter(|&i| i as usize != j)
            .map(|i| (i, vec![i as u8]))
            .collect();
        assert_eq!(got, want, "node {j} got only trusted frames");
    }
    for j in 0..3 {
        let link = *rogue.link(j).expect("link").borrow();
        assert_eq!(link.connects, 0, "rogue link to {j} never came up");
    }
    for (h, _) in &good {
        assert_eq!(h.link(3).expect("link").borrow().connects, 0);
        assert_eq!(
            h.stats().borrow().inbound_connections,
            2,
            "only the two trusted peers"
        );
    }
    assert!(
        rogue_rx.try_recv().is_err(),
        "no trusted node delivered to the rogue"
    );

    rogue.shutdown().await;
    for (h, _) in &good {
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_certificate_for_unlisted_index_is_refused() {
    init_tracing();
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 9]);
    let (listener, addr) = bind().await;
    let (_l1, addr1) = bind().await;
    let (node, _rx) = Network::start_on(
        listener,
        config(addr, vec![(1, addr1)]),
        certs.remove(0),
        ca.cert(),
    )
    .expect("start");

    let stranger = certs.remove(0); // index 9: signed by the chain CA but not a peer of node 0
    let connector = TlsConnector::from(tls::client_config(&stranger, &ca.cert()).expect("client"));
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    let mut stream = connector
        .connect(tls::server_name(0).expect("name"), tcp)
        .await
        .expect("client side completes");
    let mut ack = [0u8; 8];
    let refused = tokio::time::timeout(EVENT_TIMEOUT, stream.read_exact(&mut ack))
        .await
        .expect("bounded");
    assert!(refused.is_err(), "no ack for an unlisted index");
    let stats = wait_stats(&node, "refusal", |s| s.peers_refused == 1).await;
    assert_eq!(stats.inbound_connections, 0);
    node.shutdown().await;
}
