//! `bcos etl` end to end (docs/etl.md) against a real `bcos dev` node: export to the head,
//! export again (nothing new), more transactions then export again (no gaps, no
//! duplicates), an exporter killed with SIGKILL mid-way then resumed, `bcos etl verify`
//! passing, and a tampered receipt status and log data each reported with their block.
//! The same scenario runs on SQLite and on a real PostgreSQL (`BCOS_TEST_POSTGRES`, which
//! scripts/test.sh starts). On SQLite also: a transaction the pool refuses by a governance
//! rule exported once as an interception, and a user chain's settlement records exported
//! as the node reports them (none for the merchant chain).
#![allow(clippy::unwrap_used)]

use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Bytes, TxKind, U256};
use bcos_etl::store::{self, Store, Val};
use bcos_tests::{
    as_u64, bcos_bin, dev_key, json, send_raw, sign, wait_receipts, Node, Rpc, TxSpec, Value,
    CHAIN_ID, GAS_PRICE_WEI, PRIORITY_FEE_WEI,
};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The topic the log-emitting contract's constructor logs.
const TOPIC: [u8; 32] = [0xe7; 32];
/// How long the SIGKILL step waits for the exporter to commit its first batch.
const FIRST_BATCH_TIMEOUT_MS: u64 = 120_000;
const CURSOR_POLL_MS: u64 = 20;

/// Init code: `mstore(0, 0x2a); log1(0, 32, TOPIC); stop`: a creation whose receipt has one log.
fn log_emitter() -> Vec<u8> {
    let mut code = vec![0x60, 0x2a, 0x60, 0x00, 0x52, 0x7f];
    code.extend_from_slice(&TOPIC);
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1, 0x00]);
    code
}

/// Init code `revert(0, 0)`: a committed transaction with status 0.
const REVERTER: [u8; 5] = [0x60, 0x00, 0x60, 0x00, 0xfd];

fn create(nonce: u64, init: &[u8]) -> Vec<u8> {
    sign(
        TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 200_000,
            max_fee_per_gas: GAS_PRICE_WEI,
            max_priority_fee_per_gas: PRIORITY_FEE_WEI,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::from(init.to_vec()),
            access_list: Default::default(),
        },
        &dev_key(0),
    )
    .encoded_2718()
}

/// Sends `raws` and awaits their receipts.
fn commit(rpc: &Rpc, raws: &[Vec<u8>]) -> Vec<Value> {
    let hashes: Vec<String> = raws.iter().map(|r| send_raw(rpc, r).unwrap()).collect();
    wait_receipts(rpc, &hashes)
}

/// One round of every kind: transfers of types 0, 1 and 2, a creation that logs, one that
/// reverts. Returns the receipts.
fn round(rpc: &Rpc, nonce: &mut u64) -> Vec<Value> {
    let mut raws = Vec::new();
    for ty in 0..3u8 {
        raws.push(
            TxSpec {
                ty,
                nonce: *nonce,
                value: U256::from(1000 + u64::from(ty)),
                ..TxSpec::default()
            }
            .raw(&dev_key(0)),
        );
        *nonce += 1;
    }
    raws.push(create(*nonce, &log_emitter()));
    *nonce += 1;
    raws.push(create(*nonce, &REVERTER));
    *nonce += 1;
    commit(rpc, &raws)
}

fn etl(args: &[&str]) -> Output {
    Command::new(bcos_bin())
        .arg("etl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn export(node: &Node, db: &str, extra: &[&str]) -> String {
    let mut args = vec!["--rpc", &node.rpc_url, "--to", db];
    args.extend_from_slice(extra);
    let o = etl(&args);
    assert!(o.status.success(), "bcos etl failed: {}", text(&o));
    text(&o)
}

fn verify(node: &Node, db: &str) -> Output {
    etl(&["verify", "--from", db, "--rpc", &node.rpc_url])
}

fn one(s: &mut dyn Store, sql: &str, params: &[Val]) -> i64 {
    s.query(sql, params).unwrap()[0][0].as_i64().unwrap()
}

/// Rows of group 0 in the warehouse match the chain from block 0 to its head.
fn assert_matches_chain(node: &Node, s: &mut dyn Store) {
    assert_group_matches_chain(&node.rpc, s, 0);
}

/// Rows of group `g` match the chain at `rpc` from block 0 to its head: one per block,
/// transaction, receipt and log; no gap, no duplicate.
fn assert_group_matches_chain(rpc: &Rpc, s: &mut dyn Store, g: u32) {
    let head = as_u64(&rpc.ok("eth_blockNumber", json!([])));
    let mut txs = 0i64;
    for n in 0..=head {
        let b = rpc.ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]));
        txs += b["transactions"].as_array().unwrap().len() as i64;
    }
    let chain_logs = rpc.ok(
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": format!("{head:#x}")}]),
    );
    let logs = chain_logs.as_array().unwrap().len() as i64;
    let blocks = head as i64 + 1;
    let grp = [Val::Int(Some(i64::from(g)))];
    let mut count = |sql: &str| one(s, sql, &grp);
    assert_eq!(count("SELECT count(*) FROM blocks WHERE grp = $1"), blocks);
    assert_eq!(
        count("SELECT count(DISTINCT number) FROM blocks WHERE grp = $1"),
        blocks
    );
    assert_eq!(
        count("SELECT max(number) FROM blocks WHERE grp = $1"),
        head as i64
    );
    assert_eq!(
        count("SELECT next_block FROM etl_cursor WHERE grp = $1"),
        blocks
    );
    assert_eq!(
        count("SELECT count(*) FROM transactions WHERE grp = $1"),
        txs
    );
    assert_eq!(count("SELECT count(*) FROM receipts WHERE grp = $1"), txs);
    assert_eq!(count("SELECT count(*) FROM logs WHERE grp = $1"), logs);
    assert_eq!(
        count("SELECT CAST(sum(tx_count) AS BIGINT) FROM blocks WHERE grp = $1"),
        txs
    );
}

/// Waits (bounded polling of the warehouse, awaiting the event) until the exporter has
/// committed at least one batch.
fn await_cursor(db: &str, past: i64) {
    let deadline = Instant::now() + Duration::from_millis(FIRST_BATCH_TIMEOUT_MS);
    loop {
        if let Ok(mut s) = store::open(db) {
            if let Ok(rows) = s.query("SELECT next_block FROM etl_cursor WHERE grp = 0", &[]) {
                if rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) > past {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "the exporter committed nothing");
        std::thread::sleep(Duration::from_millis(CURSOR_POLL_MS));
    }
}

fn scenario(db: &str) {
    let node = Node::start(&[]);
    let rpc = &node.rpc;
    let mut nonce = 0;
    let mut receipts = Vec::new();
    for _ in 0..3 {
        receipts.extend(round(rpc, &mut nonce));
    }
    let reverted = receipts
        .iter()
        .find(|r| r["status"] == json!("0x0"))
        .expect("a reverted transaction")
        .clone();
    let logged = receipts
        .iter()
        .find(|r| !r["logs"].as_array().unwrap().is_empty())
        .expect("a transaction with a log")
        .clone();

    // Export to the head, in batches of two blocks per database transaction.
    let out = export(&node, db, &["--batch-blocks", "2"]);
    assert!(out.contains("rows/s"), "{out}");
    let mut s = store::open(db).unwrap();
    assert_matches_chain(&node, s.as_mut());
    // The rows carry what the chain says.
    let rh = reverted["transactionHash"].as_str().unwrap();
    assert_eq!(
        one(
            s.as_mut(),
            "SELECT status FROM receipts WHERE tx_hash = $1",
            &[Val::text(rh)]
        ),
        0
    );
    let lh = logged["transactionHash"].as_str().unwrap();
    let log = s
        .query(
            "SELECT topic0, data, address, topic_count FROM logs WHERE tx_hash = $1",
            &[Val::text(lh)],
        )
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0][0].as_str().unwrap(),
        format!("0x{}", "e7".repeat(32))
    );
    let mut data = vec![0u8; 32];
    data[31] = 0x2a;
    assert_eq!(log[0][1].as_bytes().unwrap(), &data[..]);
    assert_eq!(
        log[0][2].as_str().unwrap(),
        logged["contractAddress"].as_str().unwrap().to_lowercase()
    );

    // Again at once: nothing new, nothing doubled.
    let out = export(&node, db, &[]);
    assert!(out.contains("exported 0 blocks"), "{out}");
    assert_matches_chain(&node, s.as_mut());

    // More transactions, then an exporter killed with SIGKILL once it committed something
    // (wherever it was then), then a plain run: the warehouse is exactly the chain again.
    for _ in 0..4 {
        receipts.extend(round(rpc, &mut nonce));
    }
    let before = one(
        s.as_mut(),
        "SELECT next_block FROM etl_cursor WHERE grp = 0",
        &[],
    );
    let mut child = Command::new(bcos_bin())
        .args(["etl", "--follow", "--poll-ms", "10", "--batch-blocks", "1"])
        .args([
            "--rpc-blocks-per-call",
            "1",
            "--rpc",
            &node.rpc_url,
            "--to",
            db,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    await_cursor(db, before);
    child.kill().unwrap();
    child.wait().unwrap();
    export(&node, db, &[]);
    assert_matches_chain(&node, s.as_mut());

    // verify passes on the untouched warehouse.
    let o = verify(&node, db);
    assert!(o.status.success(), "verify failed: {}", text(&o));
    assert!(text(&o).contains("0 mismatches"), "{}", text(&o));

    // A tampered receipt status is reported with its group and block.
    let rb = as_u64(&reverted["blockNumber"]);
    assert_eq!(
        s.execute(
            "UPDATE receipts SET status = 1 WHERE tx_hash = $1",
            &[Val::text(rh)]
        )
        .unwrap(),
        1
    );
    let o = verify(&node, db);
    assert!(
        !o.status.success(),
        "verify missed a tampered status: {}",
        text(&o)
    );
    assert!(
        text(&o).contains(&format!("group 0 block {rb}:")) && text(&o).contains("receiptsRoot"),
        "{}",
        text(&o)
    );
    s.execute(
        "UPDATE receipts SET status = 0 WHERE tx_hash = $1",
        &[Val::text(rh)],
    )
    .unwrap();
    assert!(verify(&node, db).status.success());

    // So is a tampered log.
    let lb = as_u64(&logged["blockNumber"]);
    let mut forged = data.clone();
    forged[31] = 0x2b;
    s.execute(
        "UPDATE logs SET data = $1 WHERE tx_hash = $2",
        &[Val::bytes(forged), Val::text(lh)],
    )
    .unwrap();
    let o = verify(&node, db);
    assert!(
        !o.status.success(),
        "verify missed a tampered log: {}",
        text(&o)
    );
    assert!(
        text(&o).contains(&format!("group 0 block {lb}:")),
        "{}",
        text(&o)
    );
    s.execute(
        "UPDATE logs SET data = $1 WHERE tx_hash = $2",
        &[Val::bytes(data), Val::text(lh)],
    )
    .unwrap();

    // And a deleted block: a gap.
    let n = one(
        s.as_mut(),
        "SELECT max(number) FROM blocks WHERE tx_count = 0",
        &[],
    );
    if n >= 0 {
        s.execute(
            "DELETE FROM blocks WHERE grp = 0 AND number = $1",
            &[Val::Int(Some(n))],
        )
        .unwrap();
        let o = verify(&node, db);
        assert!(!o.status.success());
        assert!(
            text(&o).contains(&format!("group 0 block {n}: missing")),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn sqlite_export_is_resumable_and_verify_reports_tampered_blocks() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!(
        "sqlite:{}",
        dir.path().join("warehouse.db").display()
    ));
}

/// A fresh database on the PostgreSQL server `BCOS_TEST_POSTGRES` names.
fn postgres_db() -> Option<String> {
    let Ok(base) = std::env::var("BCOS_TEST_POSTGRES") else {
        if std::env::var("BCOS_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("BCOS_SKIP_POSTGRES=1: the PostgreSQL warehouse test is skipped");
            return None;
        }
        panic!(
            "BCOS_TEST_POSTGRES is not set: run the tests with scripts/test.sh, which starts a \
             throwaway PostgreSQL and sets it (or set BCOS_SKIP_POSTGRES=1 to skip this test)"
        );
    };
    let name = format!(
        "etl_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut client = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to BCOS_TEST_POSTGRES={base}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (head, _) = base.rsplit_once('/').expect("a database in the URL");
    Some(format!("{head}/{name}"))
}

#[test]
fn postgres_export_is_resumable_and_verify_reports_tampered_blocks() {
    let Some(db) = postgres_db() else { return };
    scenario(&db);
}

#[test]
fn bad_urls_and_an_unreachable_node_fail_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let o = etl(&["--rpc", "http://127.0.0.1:1", "--to", "mysql://x/y"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("use sqlite:PATH or postgres://"),
        "{}",
        text(&o)
    );
    let o = etl(&["--rpc", "https://127.0.0.1:1", "--to", &db]);
    assert!(!o.status.success());
    assert!(text(&o).contains("only http://"), "{}", text(&o));
    let o = etl(&["--rpc", "http://127.0.0.1:1", "--to", &db]);
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot reach"), "{}", text(&o));
    let o = etl(&["verify", "--from", &db, "--rpc", "http://127.0.0.1:1"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("holds no group"), "{}", text(&o));
}

/// A node running two groups: `bcos etl --rpc URL` exports both, each row with its group,
/// and verify names the group of a tampered block.
#[test]
fn every_group_of_a_node_is_exported_with_its_group() {
    let c = bcos_tests::cluster::Cluster::start_with(1, &[0], &["--groups", "2"]);
    let url = c.node(0).rpc_url.clone();
    let mut hashes_of = Vec::new();
    for g in 0..2u32 {
        let rpc = c.rpc(0).group(g);
        let raws: Vec<Vec<u8>> = (0..3u64 + u64::from(g))
            .map(|n| {
                TxSpec {
                    chain_id: CHAIN_ID + u64::from(g),
                    nonce: n,
                    value: U256::from(7u64),
                    ..TxSpec::default()
                }
                .raw(&dev_key(2))
            })
            .collect();
        hashes_of.push(commit(&rpc, &raws));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let o = etl(&["--rpc", &url, "--to", &db]);
    assert!(o.status.success(), "{}", text(&o));
    let mut s = store::open(&db).unwrap();
    for g in 0..2u32 {
        assert_group_matches_chain(&c.rpc(0).group(g), s.as_mut(), g);
        for r in &hashes_of[g as usize] {
            let h = r["transactionHash"].as_str().unwrap();
            let rows = s
                .query(
                    "SELECT grp FROM transactions WHERE hash = $1",
                    &[Val::text(h)],
                )
                .unwrap();
            assert_eq!(rows, vec![vec![Val::Int(Some(i64::from(g)))]]);
        }
    }
    let o = etl(&["verify", "--from", &db, "--rpc", &url]);
    assert!(o.status.success(), "{}", text(&o));
    let r = &hashes_of[1][0];
    s.execute(
        "UPDATE receipts SET cumulative_gas_used = cumulative_gas_used + 1 \
         WHERE grp = 1 AND tx_hash = $1",
        &[Val::text(r["transactionHash"].as_str().unwrap())],
    )
    .unwrap();
    let o = etl(&["verify", "--from", &db, "--rpc", &url]);
    assert!(!o.status.success());
    let b = as_u64(&r["blockNumber"]);
    assert!(
        text(&o).contains(&format!("group 1 block {b}:")),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("group 0: ") && text(&o).contains("0 mismatches"),
        "{}",
        text(&o)
    );
}

/// Export throughput on a chain of a few thousand transfers: printed (rows/s), and every
/// row accounted for.
#[test]
fn export_throughput_on_a_few_thousand_transactions() {
    // BCOS_ETL_THROUGHPUT_TXS measures on a longer chain.
    let txs: u64 = std::env::var("BCOS_ETL_THROUGHPUT_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    const PER_BATCH: u64 = 500;
    let node = Node::start(&[]);
    let rpc = &node.rpc;
    let mut nonce = 0;
    while nonce < txs {
        let raws: Vec<String> = (nonce..(nonce + PER_BATCH).min(txs))
            .map(|n| {
                bcos_tests::hex(
                    &TxSpec {
                        nonce: n,
                        value: U256::from(1u64),
                        ..TxSpec::default()
                    }
                    .raw(&dev_key(1)),
                )
            })
            .collect();
        let calls: Vec<(&str, Value)> = raws
            .iter()
            .map(|r| ("eth_sendRawTransaction", json!([r])))
            .collect();
        let hashes: Vec<String> = rpc
            .batch(&calls)
            .into_iter()
            .map(|r| r.unwrap().as_str().unwrap().to_string())
            .collect();
        wait_receipts(rpc, &hashes);
        nonce += PER_BATCH;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let out = export(&node, &db, &["--quiet"]);
    println!("throughput ({txs} transfers, SQLite): {}", out.trim());
    let mut s = store::open(&db).unwrap();
    assert_matches_chain(&node, s.as_mut());
    assert_eq!(
        one(s.as_mut(), "SELECT count(*) FROM transactions", &[]),
        txs as i64
    );
    if let Some(pg) = postgres_db() {
        let out = export(&node, &pg, &["--quiet"]);
        println!("throughput ({txs} transfers, PostgreSQL): {}", out.trim());
    }
}

/// Polls of a node condition (a settlement record swept), `NODE_POLL_MS` apart.
const NODE_POLL_ATTEMPTS: u32 = 1_200;
const NODE_POLL_MS: u64 = 25;

/// A committee proposal of `action` (an `IGovernanceActions` call) from dev account 0, the
/// dev chain's committee alone (so it passes at once), then a transfer, whose block is the
/// one the action applies in (docs/governance.md). Awaits both receipts.
fn enact(rpc: &Rpc, nonce: &mut u64, action: Vec<u8>) {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::{IGovernance, GOVERNANCE_ADDRESS};
    let propose = TxSpec {
        nonce: *nonce,
        to: GOVERNANCE_ADDRESS,
        gas_limit: 2_000_000,
        input: IGovernance::proposeCall {
            action: action.into(),
        }
        .abi_encode(),
        ..TxSpec::default()
    }
    .raw(&dev_key(0));
    let r = commit(rpc, &[propose]);
    assert_eq!(
        r[0]["status"],
        json!("0x1"),
        "the proposal failed: {}",
        r[0]
    );
    let filler = TxSpec {
        nonce: *nonce + 1,
        value: U256::from(1u64),
        ..TxSpec::default()
    }
    .raw(&dev_key(0));
    commit(rpc, &[filler]);
    *nonce += 2;
}

/// A transfer from `key` that the pool must refuse by rule `rule`; returns its hash.
fn refused(rpc: &Rpc, key: &secp256k1::SecretKey, value: u64, rule: &str) -> String {
    let raw = TxSpec {
        nonce: 0,
        to: alloy_primitives::Address::repeat_byte(0x42),
        value: U256::from(value),
        ..TxSpec::default()
    }
    .raw(key);
    let e = send_raw(rpc, &raw).expect_err("the pool admitted a transaction its rule refuses");
    assert!(e.message.contains(rule), "refused for another reason: {e}");
    bcos_tests::hex(alloy_primitives::keccak256(&raw).as_slice())
}

/// The `interceptions` rows of the warehouse, in order: (grp, seq, tx_hash, from_addr,
/// to_addr, rule, block_number).
fn interception_rows(s: &mut dyn Store) -> Vec<Vec<Val>> {
    s.query(
        "SELECT grp, seq, tx_hash, from_addr, to_addr, rule, block_number FROM interceptions \
         ORDER BY epoch_ms, seq",
        &[],
    )
    .unwrap()
}

/// REG-R5 into the warehouse: a frozen account's transfer, refused by the pool, is one row of
/// `interceptions` (its hash, sender, target and rule, with the group), exactly what the
/// node's journal says; exporting again adds nothing, and a later refusal adds one row.
#[test]
fn a_transaction_the_pool_refuses_by_a_rule_is_exported_once_as_an_interception() {
    use alloy_sol_types::SolCall;
    use bcos_types::governance::IGovernanceActions;
    let node = Node::start(&[]);
    let rpc = &node.rpc;
    let suspect = dev_key(5);
    let suspect_addr = bcos_tests::addr_hex(&bcos_tests::address_of(&suspect)).to_lowercase();
    let mut nonce = 0;
    enact(
        rpc,
        &mut nonce,
        IGovernanceActions::freezeAccountCall {
            account: bcos_tests::address_of(&suspect),
            frozen: true,
        }
        .abi_encode(),
    );
    let hash = refused(rpc, &suspect, 1_000, "frozen-account");
    let journal = rpc.ok("bcos_getInterceptions", json!([0]));
    let entries = journal["interceptions"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["hash"], json!(hash), "{journal}");
    let journal_block = as_u64(&entries[0]["block"]) as i64;

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let out = export(&node, &db, &[]);
    assert!(out.contains(", 1 interceptions,"), "{out}");
    let mut s = store::open(&db).unwrap();
    assert_matches_chain(&node, s.as_mut());
    let target = format!("0x{}", "42".repeat(20));
    let row = |seq: i64, hash: &str| {
        vec![
            Val::Int(Some(0)),
            Val::Int(Some(seq)),
            Val::text(hash),
            Val::text(&suspect_addr),
            Val::text(&target),
            Val::text("frozen-account"),
        ]
    };
    let rows = interception_rows(s.as_mut());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][..6], row(0, &hash)[..]);
    assert_eq!(rows[0][6], Val::Int(Some(journal_block)));
    let reason = s
        .query("SELECT reason FROM interceptions", &[])
        .unwrap()
        .remove(0)
        .remove(0);
    assert!(reason.as_str().is_some_and(|r| !r.is_empty()), "{reason:?}");
    assert_eq!(
        one(
            s.as_mut(),
            "SELECT next_interception FROM etl_cursor WHERE grp = 0",
            &[]
        ),
        1
    );

    // Again: nothing new, nothing doubled.
    let out = export(&node, &db, &[]);
    assert!(out.contains(", 0 interceptions,"), "{out}");
    assert_eq!(interception_rows(s.as_mut()).len(), 1);

    // A second refusal: one more row, numbered after the first.
    let second = refused(rpc, &suspect, 2_000, "frozen-account");
    assert_ne!(second, hash);
    let out = export(&node, &db, &[]);
    assert!(out.contains(", 1 interceptions,"), "{out}");
    let rows = interception_rows(s.as_mut());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..6], row(0, &hash)[..]);
    assert_eq!(rows[1][..6], row(1, &second)[..]);
    assert_eq!(
        one(
            s.as_mut(),
            "SELECT count(DISTINCT tx_hash) FROM interceptions WHERE grp = 0",
            &[]
        ),
        2
    );
}

/// The user chain's settlement status once its proxy is empty and at least `past` + 1
/// records exist (bounded polling: the settler sweeps every `--settle-interval-ms`).
fn await_swept(rpc: &Rpc, past: u64) -> Value {
    let mut st = Value::Null;
    for _ in 0..NODE_POLL_ATTEMPTS {
        st = rpc.ok("bcos_getSettlementStatus", json!([]));
        if as_u64(&st["lastSeq"]) > past && bcos_tests::as_u256(&st["proxyBalance"]).is_zero() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(NODE_POLL_MS));
    }
    panic!(
        "the user chain never swept its proxy into record {}: {st}",
        past + 1
    );
}

/// Payments to the merchant on the user chain (group 1): `count` from each of dev accounts
/// 0 and 1, nonces from `nonce`; awaits their receipts and returns the sum.
fn pay_merchant(rpc: &Rpc, merchant: alloy_primitives::Address, nonce: u64, count: u64) -> U256 {
    let mut raws = Vec::new();
    for n in nonce..nonce + count {
        for payer in 0..2 {
            raws.push(
                TxSpec {
                    chain_id: CHAIN_ID + 1,
                    nonce: n,
                    to: merchant,
                    value: U256::from(3_000 + n),
                    ..TxSpec::default()
                }
                .raw(&dev_key(payer)),
            );
        }
    }
    for r in commit(rpc, &raws) {
        assert_eq!(r["status"], json!("0x1"), "{r}");
    }
    (nonce..nonce + count)
        .map(|n| U256::from(2 * (3_000 + n)))
        .sum()
}

/// The `settlements` rows of group `g`, by seq: (seq, chain_id, block_number, amount,
/// cumulative, proof).
fn settlement_rows(s: &mut dyn Store, g: u32) -> Vec<Vec<Val>> {
    s.query(
        "SELECT seq, chain_id, block_number, amount, cumulative, proof FROM settlements \
         WHERE grp = $1 ORDER BY seq",
        &[Val::Int(Some(i64::from(g)))],
    )
    .unwrap()
}

/// Each record `1..=lastSeq` the user chain reports is one row of its group, as
/// `bcos_getSettlementProof` gives it.
fn assert_settlements_match(rpc: &Rpc, s: &mut dyn Store, g: u32) -> Vec<Vec<Val>> {
    let last = as_u64(&rpc.ok("bcos_getSettlementStatus", json!([]))["lastSeq"]);
    let rows = settlement_rows(s, g);
    assert_eq!(rows.len() as u64, last, "{rows:?}");
    for (row, seq) in rows.iter().zip(1..=last) {
        let p = rpc.ok("bcos_getSettlementProof", json!([seq]));
        assert_eq!(as_u64(&p["seq"]), seq);
        let want = vec![
            Val::Int(Some(seq as i64)),
            Val::Int(Some(as_u64(&p["chainId"]) as i64)),
            Val::Int(Some(as_u64(&p["block"]) as i64)),
            Val::text(bcos_tests::as_u256(&p["amount"]).to_string()),
            Val::text(bcos_tests::as_u256(&p["cumulative"]).to_string()),
            Val::bytes(bcos_tests::decode_hex(p["proof"].as_str().unwrap())),
        ];
        assert_eq!(row, &want, "record {seq}");
    }
    assert_eq!(
        one(
            s,
            "SELECT next_settlement FROM etl_cursor WHERE grp = $1",
            &[Val::Int(Some(i64::from(g)))]
        ),
        last as i64 + 1
    );
    rows
}

/// A node running a merchant chain (group 0) and one user chain of a high-frequency account
/// (group 1, spec/settlement.md): payments on the user chain are swept into settlement
/// records; `bcos etl` exports each record of group 1 as the node reports it (seq, amount,
/// cumulative, proof), once, and none for the merchant chain.
#[test]
fn settlement_records_of_a_user_chain_are_exported_as_the_node_reports_them() {
    let merchant = bcos_tests::address_of(&bcos_tests::unfunded_key(0xAA));
    let c = bcos_tests::cluster::Cluster::start_with(
        1,
        &[0],
        &[
            "--groups",
            "2",
            "--hf-merchant",
            &bcos_tests::addr_hex(&merchant),
            "--settle-interval-ms",
            "100",
        ],
    );
    let url = c.node(0).rpc_url.clone();
    let user = c.rpc(0).group(1);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("w.db").display());

    // A first wave of payments, swept into record 1 (or more), exported.
    let mut paid = pay_merchant(&user, merchant, 0, 5);
    let first = await_swept(&user, 0);
    let o = etl(&["--rpc", &url, "--to", &db]);
    assert!(o.status.success(), "{}", text(&o));
    let mut s = store::open(&db).unwrap();
    let rows = assert_settlements_match(&user, s.as_mut(), 1);
    assert!(
        text(&o).contains(&format!(", {} settlement records", rows.len())),
        "{}",
        text(&o)
    );

    // A second wave: the next record(s) only; the first ones are not exported twice.
    paid += pay_merchant(&user, merchant, 5, 5);
    let st = await_swept(&user, as_u64(&first["lastSeq"]));
    let o = etl(&["--rpc", &url, "--to", &db]);
    assert!(o.status.success(), "{}", text(&o));
    let added = as_u64(&st["lastSeq"]) - rows.len() as u64;
    assert!(
        text(&o).contains(&format!(", {added} settlement records")),
        "{}",
        text(&o)
    );
    let rows = assert_settlements_match(&user, s.as_mut(), 1);
    assert!(rows.len() >= 2, "{rows:?}");
    // The amounts add up to what was paid, each cumulative the running sum.
    let mut sum = U256::ZERO;
    for r in &rows {
        assert_eq!(r[1], Val::Int(Some(CHAIN_ID as i64 + 1)));
        sum += r[3].as_str().unwrap().parse::<U256>().unwrap();
        assert_eq!(r[4].as_str().unwrap(), sum.to_string());
    }
    assert_eq!(sum, paid);
    assert_eq!(bcos_tests::as_u256(&st["settled"]), paid);

    // Nothing for the merchant chain; a run with nothing new adds nothing.
    assert!(settlement_rows(s.as_mut(), 0).is_empty());
    assert_eq!(
        one(s.as_mut(), "SELECT count(*) FROM settlements", &[]),
        rows.len() as i64
    );
    let o = etl(&["--rpc", &url, "--to", &db]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(", 0 settlement records"), "{}", text(&o));
    assert_settlements_match(&user, s.as_mut(), 1);
    assert!(settlement_rows(s.as_mut(), 0).is_empty());
    for g in 0..2u32 {
        assert_group_matches_chain(&c.rpc(0).group(g), s.as_mut(), g);
    }
}
