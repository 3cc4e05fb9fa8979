//! Bad input is refused with a clear error and changes nothing: each bad transaction gets a
//! -32000 error naming the reason while the pool size, head, balances and nonces stay as they
//! were; malformed JSON-RPC gets the standard codes; the node keeps serving throughout.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Signature, TxKind};
use bcos_tests::*;

/// Everything a rejected transaction must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    head: u64,
    head_hash: Value,
    pool: u64,
    balances: Vec<U256>,
    nonces: Vec<u64>,
}

fn snapshot(rpc: &Rpc, watched: &[Address]) -> Snapshot {
    let head = head(rpc);
    Snapshot {
        head,
        head_hash: block(rpc, head, false).expect("head block")["hash"].clone(),
        pool: pending_size(rpc),
        balances: balances(rpc, watched),
        nonces: watched.iter().map(|a| nonce(rpc, a, "latest")).collect(),
    }
}

/// Sends `raw`, expects -32000 with `reason` in the message, and an unchanged chain.
fn expect_rejected(rpc: &Rpc, watched: &[Address], before: &Snapshot, raw: &[u8], reason: &str) {
    let err = send_raw(rpc, raw).expect_err(&format!("a '{reason}' transaction was accepted"));
    assert_eq!(err.code, -32000, "'{reason}': wrong error code: {err}");
    assert!(
        err.message.to_lowercase().contains(reason),
        "'{reason}' expected in the error message, got: {err}"
    );
    let hash = hex(keccak256(raw).as_slice());
    let found = rpc.ok("eth_getTransactionByHash", json!([hash]));
    assert!(
        found.is_null(),
        "'{reason}': rejected tx is visible: {found}"
    );
    assert_eq!(
        &snapshot(rpc, watched),
        before,
        "'{reason}' changed the chain or the pool"
    );
}

const LIMITS: &str = r#"
[pool]
tx_bytes_max = 4096
nonce_gap_max = 64

[sealer]
block_gas_limit = 30000000
"#;

#[test]
fn bad_transactions_are_rejected_without_side_effects() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_file(dir.path(), "limits.toml", LIMITS);
    let node = Node::start(&["--config", cfg.to_str().expect("utf-8 path")]);
    let rpc = &node.rpc;
    let keys: Vec<_> = (0..4).map(dev_key).collect();
    let poor = unfunded_key(1);
    let sink = Address::repeat_byte(0x77);
    let mut watched: Vec<Address> = keys.iter().map(address_of).collect();
    watched.extend([address_of(&poor), sink]);

    // Account 1 gets nonce 1 so that "nonce too low" has something to be low against.
    let h = send_raw(rpc, &transfer(&keys[1], 0, sink, U256::from(1u64))).expect("first transfer");
    assert!(status_ok(&wait_receipt(rpc, &h)));
    let before = snapshot(rpc, &watched);
    assert_eq!(before.pool, 0, "idle pool");

    let k2 = &keys[2];
    let base = TxSpec {
        to: sink,
        value: U256::from(5u64),
        ..TxSpec::default()
    };

    // r = 0 can never be a valid ECDSA signature.
    let unsigned = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: TRANSFER_GAS,
        max_fee_per_gas: GAS_PRICE_WEI,
        max_priority_fee_per_gas: PRIORITY_FEE_WEI,
        to: TxKind::Call(sink),
        value: U256::from(5u64),
        input: Default::default(),
        access_list: Default::default(),
    };
    let forged: TxEnvelope = unsigned
        .into_signed(Signature::new(U256::ZERO, U256::from(1u64), false))
        .into();
    expect_rejected(
        rpc,
        &watched,
        &before,
        &forged.encoded_2718(),
        "invalid signature",
    );

    let other_chain = TxSpec {
        chain_id: 1,
        ..base.clone()
    };
    expect_rejected(rpc, &watched, &before, &other_chain.raw(k2), "chain id");
    let legacy_other_chain = TxSpec {
        ty: 0,
        chain_id: 1,
        ..base.clone()
    };
    expect_rejected(
        rpc,
        &watched,
        &before,
        &legacy_other_chain.raw(k2),
        "chain id",
    );

    let replay_low = TxSpec {
        nonce: 0,
        value: U256::from(2u64),
        ..base.clone()
    };
    expect_rejected(
        rpc,
        &watched,
        &before,
        &replay_low.raw(&keys[1]),
        "nonce too low",
    );

    let far_ahead = TxSpec {
        nonce: 1_000,
        ..base.clone()
    };
    expect_rejected(rpc, &watched, &before, &far_ahead.raw(k2), "nonce too high");

    let overdraw = TxSpec {
        value: dev_balance() * U256::from(2u64),
        ..base.clone()
    };
    expect_rejected(
        rpc,
        &watched,
        &before,
        &overdraw.raw(k2),
        "insufficient funds",
    );
    let cannot_pay_gas = TxSpec {
        value: U256::ZERO,
        ..base.clone()
    };
    expect_rejected(
        rpc,
        &watched,
        &before,
        &cannot_pay_gas.raw(&poor),
        "insufficient funds",
    );

    let too_much_gas = TxSpec {
        gas_limit: 30_000_001,
        ..base.clone()
    };
    expect_rejected(
        rpc,
        &watched,
        &before,
        &too_much_gas.raw(k2),
        "exceeds block gas limit",
    );

    let huge = TxSpec {
        input: vec![0xab; 8 * 1024],
        gas_limit: 400_000,
        ..base.clone()
    };
    expect_rejected(rpc, &watched, &before, &huge.raw(k2), "oversized");

    // Garbage bytes are refused too (the exact code is the decoder's business).
    let err = send_raw(rpc, &[0xde, 0xad, 0xbe, 0xef]).expect_err("garbage accepted");
    assert!(err.code < 0, "garbage: {err}");
    assert_eq!(snapshot(rpc, &watched), before, "garbage changed the chain");

    // Duplicate: a transaction parked in the pool (nonce gap) sent again.
    let parked = TxSpec {
        nonce: 1,
        ..base.clone()
    }
    .raw(&keys[3]);
    let parked_hash = send_raw(rpc, &parked).expect("gapped nonce within nonce_gap_max accepted");
    let with_parked = snapshot(rpc, &watched);
    assert_eq!(with_parked.pool, 1, "the gapped tx waits in the pool");
    assert_eq!(
        with_parked.head, before.head,
        "a gapped tx alone seals nothing"
    );
    expect_rejected_dup(rpc, &watched, &with_parked, &parked, &parked_hash);

    // Filling the gap releases both; the much-rejected account still transacts normally.
    let gap_fill = send_raw(
        rpc,
        &TxSpec {
            nonce: 0,
            ..base.clone()
        }
        .raw(&keys[3]),
    )
    .expect("fill");
    let ok2 = send_raw(rpc, &base.raw(k2)).expect("valid tx from the rejected account");
    let rs = wait_receipts(rpc, &[gap_fill, parked_hash, ok2]);
    assert!(
        rs.iter().all(status_ok),
        "released transactions succeed: {rs:?}"
    );
    assert_eq!(pending_size(rpc), 0, "pool drained");
    assert_eq!(nonce(rpc, &watched[2], "latest"), 1);
    assert_eq!(nonce(rpc, &watched[3], "latest"), 2);
    assert_eq!(
        balance(rpc, &watched[2]),
        before.balances[2] - U256::from(5u64) - fee_paid(&rs[2]),
        "only the accepted transaction charged account 2"
    );
}

fn expect_rejected_dup(rpc: &Rpc, watched: &[Address], before: &Snapshot, raw: &[u8], hash: &str) {
    let err = send_raw(rpc, raw).expect_err("duplicate accepted");
    assert_eq!(err.code, -32000, "duplicate: {err}");
    assert!(
        err.message.to_lowercase().contains("already known"),
        "duplicate: {err}"
    );
    assert_eq!(
        &snapshot(rpc, watched),
        before,
        "the duplicate changed the chain or the pool"
    );
    let pooled = rpc.ok("eth_getTransactionByHash", json!([hash]));
    assert_eq!(
        pooled["hash"],
        json!(hash),
        "the original stays visible as pending"
    );
    assert!(
        pooled["blockHash"].is_null(),
        "a pooled tx has no block: {pooled}"
    );
}

#[test]
fn pool_full_is_reported_and_harmless() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_file(
        dir.path(),
        "tiny-pool.toml",
        "[pool]\ntxs_max = 4\nper_sender_max = 100\nnonce_gap_max = 64\n",
    );
    let node = Node::start(&["--config", cfg.to_str().expect("utf-8 path")]);
    let rpc = &node.rpc;
    let keys: Vec<_> = (1..=3).map(dev_key).collect();
    let watched: Vec<Address> = keys.iter().map(address_of).collect();
    let sink = Address::repeat_byte(0x78);

    // Gapped nonces stay in the pool, so it fills deterministically.
    for n in 1..=3u64 {
        send_raw(rpc, &transfer(&keys[0], n, sink, U256::from(n))).expect("fits the pool");
    }
    send_raw(rpc, &transfer(&keys[1], 1, sink, U256::from(9u64))).expect("fourth fits");
    let full = snapshot(rpc, &watched);
    assert_eq!(full.pool, 4, "four parked transactions");

    expect_rejected(
        rpc,
        &watched,
        &full,
        &transfer(&keys[2], 1, sink, U256::ONE),
        "pool full",
    );
    expect_rejected(
        rpc,
        &watched,
        &full,
        &transfer(&keys[0], 4, sink, U256::ONE),
        "pool full",
    );
    assert_eq!(
        as_u64(&rpc.ok("eth_chainId", json!([]))),
        CHAIN_ID,
        "still serving"
    );
}

#[test]
fn malformed_json_rpc_gets_standard_errors() {
    let mut node = Node::start(&[]);
    let rpc = node.rpc.clone();
    let code = |v: &Value| v["error"]["code"].as_i64();

    assert_eq!(
        code(&rpc.post_json(r#"{"jsonrpc":"2.0","id":1,"method":"#)),
        Some(-32700)
    );
    assert_eq!(
        code(&rpc.post_json("[{\"jsonrpc\":\"2.0\",")),
        Some(-32700),
        "broken batch"
    );
    let no_method = rpc.post_json(r#"{"jsonrpc":"2.0","id":7,"params":[]}"#);
    assert_eq!(
        code(&no_method),
        Some(-32600),
        "a request without a method: {no_method}"
    );
    assert_eq!(no_method["id"], json!(7), "the id is echoed");

    let err = rpc
        .call("eth_noSuchMethod", json!([]))
        .expect_err("unknown method");
    assert_eq!(err.code, -32601, "{err}");
    let err = rpc
        .call("eth_getBalance", json!(["0xnot-an-address", "latest"]))
        .expect_err("bad");
    assert_eq!(err.code, -32602, "{err}");
    let err = rpc
        .call("eth_getTransactionReceipt", json!([42]))
        .expect_err("bad hash type");
    assert_eq!(err.code, -32602, "{err}");
    let err = rpc
        .call("eth_getBlockByNumber", json!(["not-a-tag", false]))
        .expect_err("bad tag");
    assert_eq!(err.code, -32602, "{err}");

    // A batch mixing good and bad calls answers each one.
    let a0 = addr_hex(&address_of(&dev_key(0)));
    let out = rpc.batch(&[
        ("eth_chainId", json!([])),
        ("eth_noSuchMethod", json!([])),
        ("eth_getBalance", json!([a0, "latest"])),
        ("eth_getBalance", json!(["0x12"])),
    ]);
    assert_eq!(as_u64(out[0].as_ref().expect("chain id")), CHAIN_ID);
    assert_eq!(out[1].as_ref().expect_err("unknown").code, -32601);
    assert_eq!(as_u256(out[2].as_ref().expect("balance")), dev_balance());
    assert_eq!(out[3].as_ref().expect_err("bad params").code, -32602);

    // After all that the node serves normal requests and still runs.
    assert_eq!(as_u64(&rpc.ok("eth_chainId", json!([]))), CHAIN_ID);
    assert_eq!(head(&rpc), 0, "bad requests sealed nothing");
    assert!(node.is_running(), "bad requests must not crash the node");
}
