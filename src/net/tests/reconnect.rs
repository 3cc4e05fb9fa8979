//! A peer that stops and restarts on the same address is redialled and heard again.

mod common;

use bcos_net::Network;
use bytes::Bytes;
use common::*;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_restart_reconnects_both_directions() {
    init_tracing();
    let (ca, certs) = ca_and_nodes("chain", &[0, 1]);
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let peers = vec![(0, a0), (1, a1)];
    let (n0, mut rx0) =
        Network::start_on(l0, config(a0, peers.clone()), certs[0].clone(), ca.cert())
            .expect("start");
    let (n1, mut rx1) =
        Network::start_on(l1, config(a1, peers.clone()), certs[1].clone(), ca.cert())
            .expect("start");
    n0.send(1, Bytes::from_static(b"hi 1")).expect("send");
    n1.send(0, Bytes::from_static(b"hi 0")).expect("send");
    assert_eq!(recv(&mut rx1).await, (0, Bytes::from_static(b"hi 1")));
    assert_eq!(recv(&mut rx0).await, (1, Bytes::from_static(b"hi 0")));

    n1.shutdown().await;
    drop(rx1);
    let down = wait_link(&n0, 1, "noticed the stop", |l| {
        !l.connected && l.disconnects == 1
    })
    .await;
    assert_eq!(down.connects, 1);

    // restart node 1 on the same port with the same identity
    let l1 = TcpListener::bind(a1).await.expect("rebind the same port");
    let (n1, mut rx1) =
        Network::start_on(l1, config(a1, peers), certs[1].clone(), ca.cert()).expect("restart");
    wait_link(&n0, 1, "redialled", |l| l.connected && l.connects == 2).await;
    n0.send(1, Bytes::from_static(b"welcome back"))
        .expect("send");
    assert_eq!(
        recv(&mut rx1).await,
        (0, Bytes::from_static(b"welcome back"))
    );
    n1.send(0, Bytes::from_static(b"i am back")).expect("send");
    assert_eq!(recv(&mut rx0).await, (1, Bytes::from_static(b"i am back")));
    n0.shutdown().await;
    n1.shutdown().await;
}
