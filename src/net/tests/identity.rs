//! Peer identity (spec/pbft.md §5.3): a certificate must carry the node id the peer list
//! gives its index (P2P-I1), must be within its validity dates (P2P-I2), and must not be on
//! the deny list, which is re-read while the node runs and closes a newly denied peer's open
//! connections (P2P-I3).

mod common;

use std::path::Path;

use bcos_net::pki::{unix_now_s, Validity};
use bcos_net::{tls, Network, PeerIdentity};
use bytes::Bytes;
use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Dials `addr` as `cert` (a raw client) and reports whether the acceptor acked.
async fn acked(ca: &bcos_net::Ca, cert: &bcos_net::NodeCert, addr: std::net::SocketAddr) -> bool {
    let connector = TlsConnector::from(tls::client_config(cert, &ca.cert()).expect("client"));
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    let Ok(mut stream) = connector
        .connect(tls::server_name(0).expect("name"), tcp)
        .await
    else {
        return false;
    };
    let mut ack = [0u8; 8];
    tokio::time::timeout(EVENT_TIMEOUT, stream.read_exact(&mut ack))
        .await
        .expect("bounded")
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_signed_certificate_with_another_node_id_is_refused_both_ways() {
    init_tracing();
    let (ca, mut certs) = ca_and_nodes("chain", &[0, 2]);
    let (l0, a0) = bind().await;
    let (l2, a2) = bind().await;
    let peers = vec![(0, a0), (2, a2)];
    let (n0, _rx0) =
        Network::start_on(l0, config(a0, peers), certs.remove(0), ca.cert()).expect("start");
    // The same CA issued node 2's name to a key with another node id.
    let impostor = ca.issue_node(2, "dead00beef").expect("cert");
    assert!(
        !acked(&ca, &impostor, a0).await,
        "no ack for a wrong node id"
    );
    let stats = wait_stats(&n0, "inbound refusal", |s| s.peers_refused >= 1).await;
    assert_eq!(stats.inbound_connections, 0);

    // Node 0 dialling the impostor (listening at node 2's address) refuses it as well. The
    // impostor would ack node 0 (it lists node 0 correctly) but never dials it (a dead
    // address), so the refusal counted now is node 0's own outbound check.
    let (dead, dead_addr) = bind().await;
    drop(dead);
    let (imp, _imp_rx) =
        Network::start_on(l2, config(a2, vec![(0, dead_addr)]), impostor, ca.cert())
            .expect("start");
    wait_stats(&n0, "outbound refusal", |s| s.peers_refused >= 2).await;
    assert_eq!(n0.link(2).expect("link").borrow().connects, 0);
    n0.send(2, Bytes::from_static(b"secret")).expect("queued");

    // The genuine node 2 is accepted.
    imp.shutdown().await;
    let genuine = certs.remove(0);
    assert!(
        acked(&ca, &genuine, a0).await,
        "the listed node id is acked"
    );
    n0.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_not_yet_valid_certificates_fail_the_handshake_both_ways() {
    init_tracing();
    let (ca, certs) = ca_and_nodes("chain", &[0]);
    let now = unix_now_s();
    let expired = Validity {
        not_before_unix_s: now - 10 * 86_400,
        not_after_unix_s: now - 86_400,
    };
    let future = Validity {
        not_before_unix_s: now + 86_400,
        not_after_unix_s: now + 10 * 86_400,
    };
    for (what, validity) in [("expired", expired), ("not yet valid", future)] {
        let (l0, a0) = bind().await;
        let (l1, a1) = bind().await;
        let peers = vec![(0, a0), (1, a1)];
        let (n0, _rx0) =
            Network::start_on(l0, config(a0, peers.clone()), certs[0].clone(), ca.cert())
                .expect("start");
        let stale = ca
            .issue_node_with_validity(1, &node_id(1), validity)
            .expect("cert");
        assert_eq!(
            PeerIdentity::from_cert(stale.cert_der())
                .expect("parses")
                .not_after_unix_s,
            validity.not_after_unix_s
        );
        assert!(!acked(&ca, &stale, a0).await, "{what}: no ack");
        wait_stats(&n0, what, |s| s.handshakes_failed_inbound >= 1).await;
        let (n1, _rx1) = Network::start_on(l1, config(a1, peers), stale, ca.cert()).expect("start");
        wait_stats(&n0, what, |s| s.handshakes_failed_outbound >= 1).await;
        for h in [&n0, &n1] {
            let other = 1 - h.self_index();
            assert_eq!(h.link(other).expect("link").borrow().connects, 0, "{what}");
            assert_eq!(h.stats().borrow().inbound_connections, 0, "{what}");
        }
        n0.shutdown().await;
        n1.shutdown().await;
    }
}

/// Replaces the file in one step (a new inode), as an editor or `mv` would.
fn write_deny_list(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_deny_list_closes_the_peers_connections_and_keeps_it_out_until_removed() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tmp");
    let deny = dir.path().join("deny.list");
    write_deny_list(&deny, "# nobody yet\n");
    let (ca, certs) = ca_and_nodes("chain", &[0, 1]);
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let peers = vec![(0, a0), (1, a1)];
    let (n0, mut rx0) =
        Network::start_on(l0, config(a0, peers.clone()), certs[0].clone(), ca.cert())
            .expect("start");
    let mut cfg1 = config(a1, peers);
    cfg1.deny_list_file = Some(deny.clone());
    cfg1.deny_list_poll_ms = 20;
    let (n1, mut rx1) = Network::start_on(l1, cfg1, certs[1].clone(), ca.cert()).expect("start");
    n0.send(1, Bytes::from_static(b"0 to 1")).expect("send");
    n1.send(0, Bytes::from_static(b"1 to 0")).expect("send");
    assert_eq!(recv(&mut rx1).await.0, 0);
    assert_eq!(recv(&mut rx0).await.0, 1);

    // Deny node 0 by its node id: node 1 closes both connections without a restart.
    write_deny_list(&deny, &format!("node 0x{}\n", node_id(0).to_uppercase()));
    wait_stats(&n1, "both connections closed", |s| {
        s.deny_list_reloads >= 1 && s.connections_closed_denied >= 2
    })
    .await;
    wait_link(&n1, 0, "outbound link down", |l| !l.connected).await;
    // node 0 keeps redialling and is refused at each handshake; node 1 does not dial it
    wait_stats(&n1, "redial refused", |s| s.peers_denied >= 1).await;
    let before = n1.link(0).expect("link").borrow().connects;
    n0.send(1, Bytes::from_static(b"while denied"))
        .expect("queued");
    wait_stats(&n1, "refused again", |s| s.peers_denied >= 2).await;
    assert!(rx1.try_recv().is_err(), "nothing from a denied peer");
    assert_eq!(n1.link(0).expect("link").borrow().connects, before);

    // A broken file leaves the list in force; an empty one lets node 0 back in.
    write_deny_list(&deny, "bogus line\n");
    wait_stats(&n1, "reload error", |s| s.deny_list_reload_errors >= 1).await;
    assert!(rx1.try_recv().is_err());
    write_deny_list(&deny, "");
    wait_link(&n1, 0, "redialled", |l| l.connected).await;
    n0.send(1, Bytes::from_static(b"back")).expect("send");
    loop {
        let (from, frame) = recv(&mut rx1).await;
        assert_eq!(from, 0);
        if frame == Bytes::from_static(b"back") {
            break;
        }
    }
    n0.shutdown().await;
    n1.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_certificate_serial_is_refused_and_a_new_certificate_is_not() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tmp");
    let deny = dir.path().join("deny.list");
    let (ca, certs) = ca_and_nodes("chain", &[0, 1]);
    let serial = PeerIdentity::from_cert(certs[1].cert_der())
        .expect("parses")
        .serial_hex;
    write_deny_list(
        &deny,
        &format!("serial 00{serial}  # node 1's lost laptop\n"),
    );
    let (l0, a0) = bind().await;
    let (_l1, a1) = bind().await;
    let mut cfg0 = config(a0, vec![(1, a1)]);
    cfg0.deny_list_file = Some(deny.clone());
    cfg0.deny_list_poll_ms = 20;
    let (n0, _rx0) = Network::start_on(l0, cfg0, certs[0].clone(), ca.cert()).expect("start");
    assert!(!acked(&ca, &certs[1], a0).await, "the denied certificate");
    wait_stats(&n0, "denied", |s| s.peers_denied == 1).await;
    let reissued = ca.issue_node(1, &node_id(1)).expect("cert");
    assert!(
        acked(&ca, &reissued, a0).await,
        "same node, new certificate"
    );
    n0.shutdown().await;
    // a missing deny list file at start is an error, not an empty list
    let (l, a) = bind().await;
    let mut cfg = config(a, vec![]);
    cfg.deny_list_file = Some(dir.path().join("missing"));
    assert!(Network::start_on(l, cfg, certs[0].clone(), ca.cert()).is_err());
}
