//! The server over raw HTTP: protocol errors, batches, and the Ethereum data shapes that
//! ethers/web3.py/cast rely on.
#![allow(clippy::unwrap_used)]

mod support;

use alloy_eips::eip2718::Encodable2718;
use bcos_rpc::{ChainApi, RpcConfig};
use serde_json::{json, Value};
use support::client::{call, post, post_raw, result};
use support::*;

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_affect_only_their_request() {
    let (_chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    assert_ne!(a.port(), 0);

    let (status, body) = post_raw(a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":").await;
    assert_eq!(status, 200);
    let rp: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rp["error"]["code"], -32700);

    // The server still answers.
    assert_eq!(result(a, "eth_chainId", json!([])).await, "0x4ee8");
    assert_eq!(result(a, "net_version", json!([])).await, "20200");
    assert_eq!(
        call(a, "eth_nope", json!([])).await["error"]["code"],
        -32601
    );
    assert_eq!(
        call(a, "eth_getBalance", json!(["not-an-address"])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        call(a, "eth_getBlockByNumber", json!([])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        call(a, "eth_sendRawTransaction", json!(["0xzz"])).await["error"]["code"],
        -32602
    );
    let rp = post(a, &json!({"jsonrpc": "2.0", "id": 9, "params": []})).await;
    assert_eq!(rp["error"]["code"], -32600);

    // A rejected transaction: -32000 with the node's reason.
    let rp = call(a, "eth_sendRawTransaction", json!(["0xc0"])).await;
    assert_eq!(rp["error"]["code"], -32000);
    assert!(
        rp["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed transaction"),
        "{rp}"
    );
    h.stop();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_returns_per_call_results_in_order() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let raw = format!(
        "0x{}",
        alloy_primitives::hex::encode(eip1559_call(7, MockChain::sender(), &key(1)).encoded_2718())
    );
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_unknown", "params": []},
        {"foo": "bar"},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": [format!("{:#x}", MockChain::sender()), "latest"]},
        {"jsonrpc": "2.0", "id": 5, "method": "eth_getBalance", "params": [1]},
        {"jsonrpc": "2.0", "id": 6, "method": "eth_sendRawTransaction", "params": [raw]},
    ]);
    let rp = post(a, &batch).await;
    let rp = rp.as_array().unwrap();
    assert_eq!(rp.len(), 6);
    assert_eq!(rp[0]["id"], 1);
    assert_eq!(hex(&rp[0]["result"]), chain.head_number());
    assert_eq!(rp[1]["error"]["code"], -32601);
    assert_eq!(rp[2]["error"]["code"], -32600);
    assert_eq!(rp[3]["result"], "0xf4240");
    assert_eq!(rp[4]["error"]["code"], -32602);
    assert!(rp[5]["result"].as_str().unwrap().starts_with("0x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_entries_run_concurrently() {
    // Each of the two calls waits for the other inside the node: run one after another,
    // the batch would never finish.
    let (_chain, h) = serve(RpcConfig::default()).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x01"]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction", "params": ["0x01"]},
    ]);
    let rp = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        post(h.local_addr(), &batch),
    )
    .await
    .expect("batch entries ran one after another");
    assert_eq!(rp.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_over_the_limit_is_rejected() {
    let config = RpcConfig {
        batch_requests_max: 2,
        ..Default::default()
    };
    let (_chain, h) = serve(config).await;
    let one = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let rp = post(h.local_addr(), &json!([one, one, one])).await;
    assert!(rp["error"]["code"].is_i64(), "{rp}");
    assert_eq!(
        post(h.local_addr(), &json!([one, one]))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_call_revert_is_code_3_with_data() {
    let (_chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let rp = call(
        a,
        "eth_call",
        json!([{"to": "0x00000000000000000000000000000000000000aa", "data": "0xdead"}, "latest"]),
    )
    .await;
    assert_eq!(rp["error"]["code"], 3);
    assert_eq!(rp["error"]["message"], "execution reverted: nope");
    let want = format!("0x{}", alloy_primitives::hex::encode(error_string("nope")));
    assert_eq!(rp["error"]["data"], want);

    let rp = call(
        a,
        "eth_estimateGas",
        json!([{"to": "0x00000000000000000000000000000000000000aa", "input": "0xbeef"}]),
    )
    .await;
    assert_eq!(rp["error"]["code"], 3);
    assert_eq!(rp["error"]["message"], "execution reverted");
    assert_eq!(rp["error"]["data"], "0xdeadbeef");

    assert_eq!(
        result(
            a,
            "eth_call",
            json!([{"to": "0x00000000000000000000000000000000000000aa", "data": "0x1234"}])
        )
        .await,
        "0x1234"
    );
    assert_eq!(
        result(a, "eth_estimateGas", json!([{"data": "0x12"}])).await,
        "0x5208"
    );
    // Historical state is not kept: the node's error comes through as -32000.
    let rp = call(
        a,
        "eth_getBalance",
        json!([format!("{:#x}", MockChain::sender()), "0x0"]),
    )
    .await;
    assert_eq!(rp["error"]["code"], -32000);
    assert_eq!(
        call(
            a,
            "eth_getBalance",
            json!([format!("{:#x}", MockChain::sender()), "0x99"])
        )
        .await["error"]["code"],
        -32000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_fee_methods() {
    let (_chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let sender = format!("{:#x}", MockChain::sender());
    assert_eq!(
        result(a, "eth_getTransactionCount", json!([sender, "latest"])).await,
        "0x3"
    );
    assert_eq!(
        result(a, "eth_getTransactionCount", json!([sender, "pending"])).await,
        "0x5"
    );
    assert_eq!(
        result(a, "eth_getStorageAt", json!([sender, "0x1", "latest"])).await,
        format!("0x{}2", "0".repeat(63))
    );
    assert_eq!(result(a, "eth_gasPrice", json!([])).await, "0x16e360");
    assert_eq!(
        result(a, "eth_maxPriorityFeePerGas", json!([])).await,
        "0x7a120"
    );
    assert_eq!(
        result(a, "web3_sha3", json!(["0x"])).await,
        format!("{:#x}", bcos_types::keccak256([]))
    );
    assert_eq!(result(a, "eth_syncing", json!([])).await, false);
    assert_eq!(result(a, "bcos_getPendingTxSize", json!([])).await, "0x4");
    assert_eq!(
        result(a, "bcos_getGroupList", json!([])).await,
        json!(["group0"])
    );

    let fh = result(a, "eth_feeHistory", json!(["0x2", "latest", [10.0, 90.0]])).await;
    assert_eq!(fh["oldestBlock"], "0x0");
    assert_eq!(fh["baseFeePerGas"].as_array().unwrap().len(), 3);
    assert_eq!(fh["gasUsedRatio"].as_array().unwrap().len(), 2);
    // Block 1's tips: legacy 1_000_000, 1559 500_000 (capped by max fee), 2930 500_000.
    assert_eq!(
        fh["reward"],
        json!([["0x0", "0x0"], ["0x7a120", "0xf4240"]])
    );
    let fh = result(a, "eth_feeHistory", json!([1, "latest"])).await;
    assert!(fh.get("reward").is_none());
    assert_eq!(
        call(a, "eth_feeHistory", json!([1, "latest", [50, 10]])).await["error"]["code"],
        -32602
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_json_has_the_fields_ethers_requires() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let b = result(a, "eth_getBlockByNumber", json!(["latest", false])).await;
    for field in [
        "hash",
        "parentHash",
        "number",
        "timestamp",
        "nonce",
        "difficulty",
        "gasLimit",
        "gasUsed",
        "miner",
        "extraData",
        "baseFeePerGas",
        "logsBloom",
        "transactionsRoot",
        "receiptsRoot",
        "stateRoot",
        "sha3Uncles",
        "uncles",
        "mixHash",
        "size",
        "totalDifficulty",
        "transactions",
    ] {
        assert!(b.get(field).is_some(), "block lacks {field}: {b}");
    }
    assert_eq!(b["nonce"], "0x0000000000000000");
    assert_eq!(b["difficulty"], "0x0");
    assert_eq!(
        b["sha3Uncles"],
        "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    );
    assert_eq!(b["uncles"], json!([]));
    let block1 = chain.block(1);
    assert_eq!(b["hash"], format!("{:#x}", block1.block.hash));
    assert_eq!(b["parentHash"], format!("{:#x}", chain.block(0).block.hash));
    assert_eq!(b["transactions"].as_array().unwrap().len(), 3);
    assert!(b["transactions"][0].is_string());

    let full = result(
        a,
        "eth_getBlockByHash",
        json!([format!("{:#x}", block1.block.hash), true]),
    )
    .await;
    let tx = &full["transactions"][1];
    assert_eq!(tx["blockNumber"], "0x1");
    assert_eq!(tx["transactionIndex"], "0x1");
    assert_eq!(tx["from"], format!("{:#x}", MockChain::sender()));
    assert_eq!(tx["type"], "0x2");
    for tag in ["earliest", "safe", "finalized", "pending"] {
        assert!(
            result(a, "eth_getBlockByNumber", json!([tag, false]))
                .await
                .is_object(),
            "{tag}"
        );
    }
    assert_eq!(
        result(a, "eth_getBlockByNumber", json!(["0x63", false])).await,
        Value::Null
    );
    assert_eq!(
        result(a, "eth_getBlockTransactionCountByNumber", json!(["0x1"])).await,
        "0x3"
    );
    let by_index = result(
        a,
        "eth_getTransactionByBlockNumberAndIndex",
        json!(["0x1", "0x2"]),
    )
    .await;
    assert_eq!(
        by_index["hash"],
        format!("{:#x}", block1.block.block.txs[2].hash())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_derives_gas_used_contract_address_and_log_positions() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let block1 = chain.block(1);
    let txs = &block1.block.block.txs;
    let create = result(
        a,
        "eth_getTransactionReceipt",
        json!([format!("{:#x}", txs[0].hash())]),
    )
    .await;
    assert_eq!(create["gasUsed"], "0xcf08"); // 53_000
    assert_eq!(
        create["contractAddress"],
        format!("{:#x}", MockChain::sender().create(0))
    );
    assert_eq!(create["to"], Value::Null);
    assert_eq!(create["status"], "0x1");
    assert_eq!(create["type"], "0x0");
    assert_eq!(create["effectiveGasPrice"], "0x1e8480");

    let third = result(
        a,
        "eth_getTransactionReceipt",
        json!([format!("{:#x}", txs[2].hash())]),
    )
    .await;
    assert_eq!(third["gasUsed"], "0x61a8"); // 25_000
    assert_eq!(third["cumulativeGasUsed"], format!("{:#x}", 108_000));
    assert_eq!(third["contractAddress"], Value::Null);
    assert_eq!(third["type"], "0x1");
    assert_eq!(third["logs"][0]["logIndex"], "0x2"); // two logs before it in the block
    assert_eq!(third["logs"][0]["transactionIndex"], "0x2");
    assert_eq!(
        third["logs"][0]["blockHash"],
        format!("{:#x}", block1.block.hash)
    );
    assert!(third["logsBloom"].as_str().unwrap().len() == 2 + 512);

    let second = result(
        a,
        "eth_getTransactionReceipt",
        json!([format!("{:#x}", txs[1].hash())]),
    )
    .await;
    assert_eq!(second["effectiveGasPrice"], "0x16e360"); // base 1_000_000 + tip 500_000
    let tx = result(
        a,
        "eth_getTransactionByHash",
        json!([format!("{:#x}", txs[1].hash())]),
    )
    .await;
    assert_eq!(tx["blockHash"], format!("{:#x}", block1.block.hash));
    assert_eq!(
        result(
            a,
            "eth_getTransactionReceipt",
            json!([format!("{:#x}", bcos_types::B256::ZERO)])
        )
        .await,
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_filters_by_address_and_topics_and_enforces_limits() {
    let (chain, h) = serve(RpcConfig::default()).await;
    chain.push_empty();
    let a = h.local_addr();
    let contract = format!("{:#x}", MockChain::sender().create(0));
    let other = format!("{:#x}", bcos_types::Address::repeat_byte(0xd0));
    let t = |i: u8| format!("{:#x}", topic(i));

    let logs = result(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x2", "address": other}]),
    )
    .await;
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["logIndex"], "0x2");
    // Address list ORs.
    let logs = result(a, "eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0x1", "address": [contract, other], "topics": [[t(1), t(3)]]}])).await;
    assert_eq!(logs.as_array().unwrap().len(), 3, "{logs}");
    let logs = result(a, "eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0x1", "address": [other, contract], "topics": [[t(9), t(3)]]}])).await;
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    // null is a wildcard; a second position requires a second topic.
    let logs = result(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x1", "topics": [null, t(2)]}]),
    )
    .await;
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["logIndex"], "0x0");
    let by_hash =
        json!([{"blockHash": format!("{:#x}", chain.block(1).block.hash), "topics": [t(3)]}]);
    assert_eq!(
        result(a, "eth_getLogs", by_hash)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Nothing matches: block skipped by bloom.
    assert_eq!(
        result(
            a,
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest", "topics": [t(9)]}])
        )
        .await,
        json!([])
    );

    let limited = RpcConfig {
        get_logs_block_range_max: 2,
        get_logs_results_max: 2,
        ..Default::default()
    };
    let (_, h2) = serve_chain(limited, chain.clone()).await;
    let a = h2.local_addr();
    let too_wide = call(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "0x2"}]),
    )
    .await;
    assert_eq!(too_wide["error"]["code"], -32005);
    assert!(too_wide["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit is 2"));
    let too_many = call(
        a,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x2"}]),
    )
    .await;
    assert_eq!(too_many["error"]["code"], -32005);
    assert!(too_many["error"]["message"]
        .as_str()
        .unwrap()
        .contains("more than 2 results"));
    let unknown = call(
        a,
        "eth_getLogs",
        json!([{"blockHash": format!("{:#x}", bcos_types::B256::ZERO)}]),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32000);
}

/// eth_getBlockReceipts answers exactly what eth_getTransactionReceipt answers for each of
/// the block's transactions (log positions carried across receipts), in block order; null
/// for a block past the head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_receipts_are_the_transactions_receipts_in_order() {
    let (chain, h) = serve(RpcConfig::default()).await;
    let a = h.local_addr();
    let block1 = chain.block(1);
    let all = result(a, "eth_getBlockReceipts", json!(["0x1"])).await;
    let all = all.as_array().expect("an array of receipts");
    assert_eq!(all.len(), block1.block.block.txs.len());
    for (tx, got) in block1.block.block.txs.iter().zip(all) {
        let one = result(
            a,
            "eth_getTransactionReceipt",
            json!([format!("{:#x}", tx.hash())]),
        )
        .await;
        assert_eq!(got, &one);
    }
    let by_hash = result(
        a,
        "eth_getBlockReceipts",
        json!([format!("{:#x}", block1.block.hash)]),
    )
    .await;
    assert_eq!(by_hash.as_array(), Some(all));
    assert_eq!(
        result(a, "eth_getBlockReceipts", json!(["0x63"])).await,
        Value::Null
    );
}
