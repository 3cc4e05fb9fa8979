//! Unauthenticated clients holding connections open (spec/pbft.md §5.3, P2P-L3) neither
//! keep validators from connecting nor stall our own dials to them.
//!
//! Junk clients connect from 30 loopback addresses (127.0.0.2 ..), eight connections each,
//! say nothing, and reconnect shortly after every close: more than the handshake slots for
//! non-peer addresses and more than the per-IP share. The validators connect from
//! 127.0.0.1, their configured address.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bcos_net::Network;
use bytes::Bytes;
use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;

const JUNK_IPS: u8 = 30;
const JUNK_CONNECTIONS_PER_IP: usize = 8;
/// Pause before a junk client reconnects after being closed (keeps the test's CPU use sane;
/// the attack is the held connections, not the reconnect rate).
const JUNK_RECONNECT_MS: u64 = 200;

async fn junk_client(from: Ipv4Addr, to: SocketAddr) {
    loop {
        let connected = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((from, 0)))?;
            socket.connect(to).await
        }
        .await;
        if let Ok(mut tcp) = connected {
            // hold the connection silently until the server gives up on it
            let mut buf = [0u8; 256];
            while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        tokio::time::sleep(Duration::from_millis(JUNK_RECONNECT_MS)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_holding_connections_do_not_keep_two_validators_out() {
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
    let mut listeners = bound.into_iter();
    let (l0, a0) = listeners.next().expect("listener");
    // the slow handshake timeout of the tests' config: junk holds its slots for 5 s each
    let (n0, mut rx0) =
        Network::start_on(l0, config(a0, peers.clone()), certs[0].clone(), ca.cert())
            .expect("start");

    let mut junk = JoinSet::new();
    for ip in 0..JUNK_IPS {
        let from = Ipv4Addr::new(127, 0, 0, 2 + ip);
        for _ in 0..JUNK_CONNECTIONS_PER_IP {
            junk.spawn(junk_client(from, a0));
        }
    }
    // the junk now holds every slot it may hold and is refused past that
    let stats = wait_stats(&n0, "junk saturates", |s| {
        s.handshakes_refused_per_ip >= 1 && s.handshakes_refused_busy >= 1
    })
    .await;
    assert_eq!(stats.inbound_connections, 0);

    let mut others = Vec::new();
    for (i, (l, a)) in listeners.enumerate() {
        let i = i + 1;
        others.push(
            Network::start_on(l, config(a, peers.clone()), certs[i].clone(), ca.cert())
                .expect("start"),
        );
    }
    for p in [1, 2] {
        wait_link(&n0, p, "node 0's own dial", |l| l.connected).await;
    }
    for (h, _) in &others {
        wait_link(h, 0, "dial to node 0 through the junk", |l| l.connected).await;
    }
    for (h, _) in &others {
        h.send(0, Bytes::from(vec![h.self_index() as u8]))
            .expect("send");
    }
    let got = recv_n(&mut rx0, 2).await;
    assert_eq!(got, vec![(1, vec![1]), (2, vec![2])]);

    junk.shutdown().await;
    for (h, _) in &others {
        h.shutdown().await;
    }
    n0.shutdown().await;
}
