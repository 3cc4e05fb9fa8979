//! A clean stop (SIGTERM) and a restart on the same data directory keep the head, every block,
//! receipt and balance; the restarted node seals new transactions on top.

use bcos_tests::*;

#[test]
fn sigterm_then_restart_keeps_everything() {
    let mut node = Node::start(&[]);
    let rpc = node.rpc.clone();
    assert_eq!(head(&rpc), 0, "a fresh dev chain starts at genesis");
    let genesis = block(&rpc, 0, false).expect("genesis block");

    let senders: Vec<_> = (1..=3).map(dev_key).collect();
    let sender_addrs: Vec<Address> = senders.iter().map(address_of).collect();
    let sinks: Vec<Address> = (0..4u8).map(|i| Address::repeat_byte(0xa0 + i)).collect();
    for b in balances(&rpc, &sender_addrs) {
        assert_eq!(
            b,
            dev_balance(),
            "dev genesis funds each account with 10,000 ETH"
        );
    }

    // Three rounds so several blocks exist; every type of transaction appears.
    let mut hashes = Vec::new();
    for round in 0..3u64 {
        let mut batch = Vec::new();
        for (s, key) in senders.iter().enumerate() {
            for k in 0..3u64 {
                let spec = TxSpec {
                    ty: ((s as u64 + k) % 3) as u8,
                    nonce: round * 3 + k,
                    to: sinks[(s + k as usize) % sinks.len()],
                    value: U256::from(1_000 + round * 100 + k),
                    ..TxSpec::default()
                };
                batch.push(send_raw(&rpc, &spec.raw(key)).expect("valid transfer accepted"));
            }
        }
        for r in wait_receipts(&rpc, &batch) {
            assert!(status_ok(&r), "transfer failed: {r}");
        }
        hashes.extend(batch);
    }
    let head_before = head(&rpc);
    assert!(
        head_before >= 3,
        "three awaited rounds make at least three blocks"
    );
    let blocks_before: Vec<Value> = (0..=head_before)
        .map(|n| block(&rpc, n, true).expect("block up to head"))
        .collect();
    let receipts_before: Vec<Value> = wait_receipts(&rpc, &hashes);
    let watched: Vec<Address> = sender_addrs.iter().chain(&sinks).copied().collect();
    let balances_before = balances(&rpc, &watched);
    let nonces_before: Vec<u64> = sender_addrs
        .iter()
        .map(|a| nonce(&rpc, a, "latest"))
        .collect();
    assert_eq!(nonces_before, vec![9, 9, 9]);

    let status = node.stop();
    assert!(
        status.success(),
        "SIGTERM must stop the node cleanly, got {status}"
    );
    node.restart();
    let rpc = node.rpc.clone();

    assert_eq!(
        head(&rpc),
        head_before,
        "head after restart (an idle chain seals nothing)"
    );
    assert_eq!(
        block(&rpc, 0, false).expect("genesis")["hash"],
        genesis["hash"]
    );
    for (n, before) in blocks_before.iter().enumerate() {
        let after = block(&rpc, n as u64, true).expect("block survives restart");
        assert_eq!(&after, before, "block {n} differs after restart");
    }
    assert!(
        block(&rpc, head_before + 1, false).is_none(),
        "no block past the head"
    );
    assert_eq!(
        receipts(&rpc, &hashes),
        receipts_before.into_iter().map(Some).collect::<Vec<_>>()
    );
    assert_eq!(
        balances(&rpc, &watched),
        balances_before,
        "balances after restart"
    );
    let nonces_after: Vec<u64> = sender_addrs
        .iter()
        .map(|a| nonce(&rpc, a, "latest"))
        .collect();
    assert_eq!(nonces_after, nonces_before, "nonces after restart");
    let tx_by_hash = rpc.ok("eth_getTransactionByHash", json!([hashes[0]]));
    assert_eq!(
        tx_by_hash["hash"],
        json!(hashes[0]),
        "transactions are indexed after restart"
    );

    // The restarted node seals on top of the old head.
    let h = send_raw(&rpc, &transfer(&senders[0], 9, sinks[0], U256::from(7u64)))
        .expect("transfer after restart");
    let r = wait_receipt(&rpc, &h);
    assert!(status_ok(&r));
    let n = as_u64(&r["blockNumber"]);
    assert!(
        n > head_before,
        "new block {n} above old head {head_before}"
    );
    let new_block = block(&rpc, n, false).expect("new block");
    let parent = block(&rpc, n - 1, false).expect("parent");
    assert_eq!(
        new_block["parentHash"], parent["hash"],
        "new block links to the old chain"
    );
    assert_eq!(
        balance(&rpc, &sinks[0]),
        balances_before[sender_addrs.len()] + U256::from(7u64)
    );

    // A second clean cycle also works (the shutdown path is not one-shot).
    let status = node.stop();
    assert!(status.success(), "second SIGTERM: {status}");
    node.restart();
    assert_eq!(head(&node.rpc), n);
}
