//! Trust that follows governance (P2P-I4): a node certified by a second CA is refused until
//! that CA is trusted, connects once it is, and is cut off (both directions, open
//! connections included, no resumed session) when the CA is removed or its node id or
//! certificate serial is revoked; lifting the revocation lets it back.

mod common;

use bcos_net::pki::PeerIdentity;
use bcos_net::Network;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_cas_node_follows_what_governance_trusts() {
    init_tracing();
    let (ca_a, mut certs) = ca_and_nodes("chain", &[0]);
    let ca_b = bcos_net::generate_ca("institution B").expect("ca");
    let cert1 = ca_b.issue_node(1, &node_id(1)).expect("cert");
    let serial = PeerIdentity::from_cert(cert1.cert_der())
        .expect("identity")
        .serial_hex;
    let (l0, a0) = bind().await;
    let (l1, a1) = bind().await;
    let peers = vec![(0, a0), (1, a1)];
    // Both nodes' chain CA is A; node 1's own certificate is B's.
    let (n0, _rx0) = Network::start_on(l0, config(a0, peers.clone()), certs.remove(0), ca_a.cert())
        .expect("start");
    let (n1, _rx1) = Network::start_on(l1, config(a1, peers), cert1, ca_a.cert()).expect("start");
    wait_stats(&n0, "node 1 refused while B is untrusted", |s| {
        s.handshakes_failed_inbound >= 1
    })
    .await;
    assert!(!n0.link(1).expect("link").borrow().connected);

    let b = vec![ca_b.cert().der().to_vec()];
    assert_eq!(n0.set_governance_trust(&b, &[], &[]).expect("trust"), 1);
    assert_eq!(
        n0.set_governance_trust(&[vec![0x30, 0x00]], &[], &[])
            .expect("a broken CA is skipped"),
        0
    );
    n0.set_governance_trust(&b, &[], &[]).expect("trust");
    wait_link(&n0, 1, "node 0 reaches node 1", |l| l.connected).await;
    wait_link(&n1, 0, "node 1 reaches node 0", |l| l.connected).await;

    // B removed: both of node 0's connections with node 1 close, and stay closed.
    n0.set_governance_trust(&[], &[], &[]).expect("trust");
    wait_stats(&n0, "both connections closed", |s| {
        s.connections_closed_denied >= 2
    })
    .await;
    wait_link(&n0, 1, "node 0's link down", |l| !l.connected).await;
    let failed = n0.stats().borrow().handshakes_failed_outbound;
    wait_stats(&n0, "a redial fails", |s| {
        s.handshakes_failed_outbound > failed
    })
    .await;
    assert!(!n0.link(1).expect("link").borrow().connected);

    // B again, then node 1's certificate revoked by serial, then by node id.
    n0.set_governance_trust(&b, &[], &[]).expect("trust");
    wait_link(&n0, 1, "back", |l| l.connected).await;
    let closed = n0.stats().borrow().connections_closed_denied;
    // The serial as bytes (its hex has no leading zero, so it may be of odd length).
    let even = format!("{serial:0>width$}", width = serial.len().div_ceil(2) * 2);
    let serial_bytes: Vec<u8> = (0..even.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&even[i..i + 2], 16).expect("hex"))
        .collect();
    n0.set_governance_trust(&b, &[], &[serial_bytes])
        .expect("trust");
    wait_stats(&n0, "revoked serial closes", |s| {
        s.connections_closed_denied > closed
    })
    .await;
    wait_link(&n0, 1, "down", |l| !l.connected).await;
    n0.set_governance_trust(&b, &[], &[]).expect("trust");
    wait_link(&n0, 1, "back after the serial is lifted", |l| l.connected).await;
    let closed = n0.stats().borrow().connections_closed_denied;
    n0.set_governance_trust(&b, &[node_id(1)], &[])
        .expect("trust");
    wait_stats(&n0, "revoked node closes", |s| {
        s.connections_closed_denied > closed
    })
    .await;
    wait_link(&n0, 1, "down", |l| !l.connected).await;
}
