//! Issue 10, items 10 and 11, against the real `bcos` binary: a call that would run long is
//! cut off by `rpc.call_timeout_ms`, a transaction whose cost overflows 256 bits is refused
//! rather than wrapped, and the node keeps committing throughout.

use bcos_tests::*;

/// Init code that loops until its gas runs out: `JUMPDEST PUSH1 0 JUMP`.
const ENDLESS_LOOP: &str = "0x5b600056";

/// 1 ms is far less than the ~16.7 M gas (Osaka's per-transaction cap) of the loop takes.
const LIMITS: &str = r#"
[rpc]
call_timeout_ms = 1
"#;

#[test]
fn long_calls_time_out_overflowing_costs_are_refused_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = write_file(dir.path(), "limits.toml", LIMITS);
    let node = Node::start(&["--config", cfg.to_str().expect("utf-8 path")]);
    let rpc = &node.rpc;

    for method in ["eth_call", "eth_estimateGas"] {
        let err = rpc
            .call(method, json!([{"input": ENDLESS_LOOP}]))
            .expect_err("an endless loop finished within 1 ms");
        assert_eq!(err.code, -32000, "{method}: {err}");
        assert!(
            err.message.contains("execution aborted (timeout = 1 ms)"),
            "{method}: {err}"
        );
    }

    // gas × fee + value past 2^256 − 1 used to wrap to a tiny cost.
    let key = dev_key(1);
    let gas_cost = U256::from(TRANSFER_GAS) * U256::from(GAS_PRICE_WEI);
    let wraps_to_zero = U256::ZERO.wrapping_sub(gas_cost);
    let overflowing = TxSpec {
        value: wraps_to_zero,
        ..TxSpec::default()
    };
    let err =
        send_raw(rpc, &overflowing.raw(&unfunded_key(7))).expect_err("overflowing cost accepted");
    assert_eq!(err.code, -32000, "{err}");
    assert!(err.message.contains("transaction cost overflows"), "{err}");

    // The node still commits.
    let h = send_raw(
        rpc,
        &transfer(&key, 0, Address::repeat_byte(0x42), U256::from(1u64)),
    )
    .expect("transfer accepted");
    assert!(status_ok(&wait_receipt(rpc, &h)));
}
