//! Three nodes on 127.0.0.1 exchange point-to-point and broadcast frames over mutual TLS.

mod common;

use bcos_net::{NetError, Network};
use bytes::Bytes;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_send_and_broadcast() {
    init_tracing();
    let (ca, certs) = ca_and_nodes("chain", &[0, 1, 2]);
    let mut bound = Vec::new();
    for _ in 0..3 {
        bound.push(bind().await);
    }
    let addrs: Vec<_> = bound.iter().map(|(_, a)| *a).collect();
    let peers: Vec<_> = (0..3u32).map(|i| (i, addrs[i as usize])).collect();
    let mut nodes = Vec::new();
    for ((listener, addr), cert) in bound.into_iter().zip(certs) {
        // the peer list includes ourselves; the network skips that entry
        nodes.push(
            Network::start_on(listener, config(addr, peers.clone()), cert, ca.cert())
                .expect("start"),
        );
    }

    // every ordered pair, sent before the links are necessarily up: queued, then delivered
    for (i, (h, _)) in nodes.iter().enumerate() {
        assert_eq!(h.self_index(), i as u32);
        assert_eq!(h.peers().len(), 2);
        for j in h.peers() {
            h.send(j, Bytes::from(format!("{i}->{j}"))).expect("send");
        }
    }
    for (j, (_, rx)) in nodes.iter_mut().enumerate() {
        let got = recv_n(rx, 2).await;
        let want: Vec<_> = (0..3u32)
            .filter(|&i| i as usize != j)
            .map(|i| (i, format!("{i}->{j}").into_bytes()))
            .collect();
        assert_eq!(got, want, "node {j}");
    }

    // per-link order is preserved
    for k in 0..50u32 {
        nodes[0]
            .0
            .send(1, Bytes::from(k.to_be_bytes().to_vec()))
            .expect("send");
    }
    for k in 0..50u32 {
        let (from, b) = recv(&mut nodes[1].1).await;
        assert_eq!((from, &b[..]), (0, &k.to_be_bytes()[..]));
    }

    assert_eq!(
        nodes[2]
            .0
            .broadcast(Bytes::from_static(b"hello all"))
            .expect("broadcast"),
        2
    );
    for j in [0usize, 1] {
        let (from, b) = recv(&mut nodes[j].1).await;
        assert_eq!((from, &b[..]), (2, &b"hello all"[..]));
    }

    // local misuse is reported, not sent
    let h = &nodes[0].0;
    assert!(matches!(
        h.send(7, Bytes::from_static(b"x")),
        Err(NetError::UnknownPeer(7))
    ));
    assert!(matches!(
        h.send(0, Bytes::from_static(b"x")),
        Err(NetError::UnknownPeer(0))
    ));
    assert!(matches!(h.send(1, Bytes::new()), Err(NetError::Frame(_))));
    let stats = h.stats().borrow().clone();
    assert_eq!(
        stats.handshakes_failed_inbound + stats.handshakes_failed_outbound,
        0,
        "{stats:?}"
    );

    for (h, _) in &nodes {
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_send_queue_drops_and_counts() {
    init_tracing();
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 1]);
    let (listener, addr) = bind().await;
    // peer 1 never comes up: frames pile up in its queue
    let (_dead_listener, dead_addr) = bind().await;
    drop(_dead_listener);
    let mut cfg = config(addr, vec![(1, dead_addr)]);
    cfg.send_queue_frames_max = 4;
    let (h, _rx) = Network::start_on(listener, cfg, certs.remove(0), ca.cert()).expect("start");
    let results: Vec<_> = (0..10)
        .map(|_| h.send(1, Bytes::from_static(b"x")))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert!(results[4..]
        .iter()
        .all(|r| matches!(r, Err(NetError::QueueFull(1)))));
    assert_eq!(h.stats().borrow().frames_dropped_queue_full, 6);
    assert_eq!(h.broadcast(Bytes::from_static(b"y")).expect("broadcast"), 0);
    assert_eq!(h.stats().borrow().frames_dropped_queue_full, 7);
    h.shutdown().await;
}
