//! High-frequency accounts with real processes (issue 14, spec/settlement.md): 4 `bcos node`
//! processes running a merchant chain (group 0) and user chains (groups 1..), real
//! `bcos relay` processes carrying settlement records between them.
//!
//! - 20,000 payments on 4 user chains: once the last record is credited, the merchant's
//!   balance on the merchant chain is exactly what was paid, every proxy is empty, and each
//!   chain's credited sequence numbers are 1..k, each once (XS-S1..S3).
//! - A relayer killed with SIGKILL mid-way and restarted, beside a second relayer for the
//!   same chain: nothing lost, nothing credited twice.
//! - Hand-forged submissions (changed amount, replayed record, another chain's certificate,
//!   a damaged aggregate signature) are refused with a reason and change no balance.

use alloy_primitives::keccak256;
use bcos_crypto::bls::{sign_vote, BlsSecretKey, CertificateBuilder, CommitCertificate, VoteCache};
use bcos_settlement::{SettlementProof, SETTLEMENT_ADDRESS};
use bcos_tests::cluster::Cluster;
use bcos_tests::relay::Relayer;
use bcos_tests::*;
use std::collections::BTreeMap;

const BASE_CHAIN_ID: u64 = 20200;
const ALL: [usize; 4] = [0, 1, 2, 3];
/// Polls of a settlement condition, `POLL_MS` apart.
const POLL_ATTEMPTS: u32 = 6_000;
const POLL_MS: u64 = 50;
/// Payments per JSON-RPC batch request.
const SEND_BATCH: usize = 200;

fn merchant() -> Address {
    address_of(&unfunded_key(0xAA))
}

fn start(groups: u32) -> Cluster {
    let merchant = addr_hex(&merchant());
    let groups = groups.to_string();
    Cluster::start_with(
        4,
        &ALL,
        &[
            "--groups",
            &groups,
            "--hf-merchant",
            &merchant,
            "--settle-interval-ms",
            "200",
        ],
    )
}

fn url(c: &Cluster, node: usize, g: u32) -> String {
    format!("http://{}/g/{g}", c.rpc(node).addr())
}

fn status(rpc: &Rpc) -> Value {
    rpc.ok("bcos_getSettlementStatus", json!([]))
}

/// The merchant chain's view of user chain `chain_id`.
fn merchant_view(c: &Cluster, chain_id: u64) -> Value {
    let s = status(&c.rpc(0).group(0));
    s["chains"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["chainId"] == json!(chain_id)).cloned())
        .unwrap_or_else(|| panic!("merchant chain does not list chain {chain_id}: {s}"))
}

/// `count` payments of `value_wei` to the merchant from each dev account in `payers` on
/// group `g`, nonces from `nonce`, sent in batches through node `g mod 4`. Returns the sum.
fn pay(c: &Cluster, g: u32, payers: &[usize], nonce: u64, count: u64, value_wei: u64) -> U256 {
    let rpc = c.rpc(g as usize % 4).group(g);
    let to = merchant();
    let mut raws = Vec::new();
    for n in nonce..nonce + count {
        for &p in payers {
            raws.push(
                TxSpec {
                    chain_id: BASE_CHAIN_ID + u64::from(g),
                    nonce: n,
                    to,
                    value: U256::from(value_wei),
                    ..TxSpec::default()
                }
                .raw(&dev_key(p)),
            );
        }
    }
    for chunk in raws.chunks(SEND_BATCH) {
        let calls: Vec<(&str, Value)> = chunk
            .iter()
            .map(|r| ("eth_sendRawTransaction", json!([hex(r)])))
            .collect();
        for (i, r) in rpc.batch(&calls).into_iter().enumerate() {
            if let Err(e) = r {
                panic!("group {g} refused payment {i} of a batch: {e:?}");
            }
        }
    }
    U256::from(value_wei) * U256::from(count) * U256::from(payers.len() as u64)
}

/// Waits until every payer's payments on group `g` are committed (nonce reached `to`).
fn wait_paid(c: &Cluster, g: u32, payers: &[usize], to: u64) {
    let rpc = c.rpc(0).group(g);
    for _ in 0..POLL_ATTEMPTS {
        if payers
            .iter()
            .all(|p| nonce(&rpc, &address_of(&dev_key(*p)), "latest") >= to)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(POLL_MS));
    }
    panic!("group {g}: payments not committed");
}

/// Waits until the merchant chain has credited `paid` from group `g` and the user chain has
/// nothing left in its proxy or in flight; returns the merchant chain's view of the chain.
fn wait_settled(c: &Cluster, g: u32, paid: U256, relayers: &[&Relayer]) -> Value {
    let chain = BASE_CHAIN_ID + u64::from(g);
    let mut last = Value::Null;
    for _ in 0..POLL_ATTEMPTS {
        let m = merchant_view(c, chain);
        if as_u256(&m["credited"]) == paid && m["createdSeq"] == m["creditedSeq"] {
            return m;
        }
        last = m;
        std::thread::sleep(std::time::Duration::from_millis(POLL_MS));
    }
    let logs: Vec<String> = relayers.iter().map(|r| r.log_text()).collect();
    panic!(
        "group {g}: not settled; merchant view {last}; relayer logs:\n{}",
        logs.join("\n---\n")
    );
}

/// Every `Credited` log of the merchant chain: chain id -> credited sequence numbers in
/// block order.
fn credited_seqs(c: &Cluster) -> BTreeMap<u64, Vec<u64>> {
    let topic = format!(
        "0x{}",
        hex(keccak256("Credited(uint64,uint64,uint256,uint256)").as_slice())
            .trim_start_matches("0x")
    );
    let logs = c.rpc(0).group(0).ok(
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "toBlock": "latest",
                 "address": addr_hex(&SETTLEMENT_ADDRESS), "topics": [topic] }]),
    );
    let mut out: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for log in logs.as_array().expect("logs array") {
        let data = decode_hex(log["data"].as_str().expect("log data"));
        let word = |i: usize| U256::from_be_slice(&data[i * 32..(i + 1) * 32]).to::<u64>();
        out.entry(word(0)).or_default().push(word(1));
    }
    out
}

fn assert_exactly_once_in_order(c: &Cluster, chain: u64, last_seq: u64) {
    let seqs = credited_seqs(c).remove(&chain).unwrap_or_default();
    let expected: Vec<u64> = (1..=last_seq).collect();
    assert_eq!(seqs, expected, "chain {chain}: credited sequence numbers");
}

fn relayer_for(c: &Cluster, g: u32, name: &str, key: usize) -> Relayer {
    Relayer::start(
        c.dir.path(),
        name,
        &url(c, g as usize % 4, g),
        &url(c, g as usize % 4, 0),
        &dev_key(key),
    )
}

#[test]
fn twenty_thousand_payments_on_four_user_chains_are_credited_exactly_once() {
    let c = start(5);
    let payers: Vec<usize> = (0..10).collect();
    let relayers: Vec<Relayer> = (1..=4u32)
        .map(|g| relayer_for(&c, g, &format!("relayer-g{g}"), 19 - g as usize))
        .collect();
    let mut paid = BTreeMap::new();
    for g in 1..=4u32 {
        // 10 payers x 500 payments per chain; a different amount per chain, so a record
        // credited to the wrong chain shows.
        paid.insert(g, pay(&c, g, &payers, 0, 500, 1_000 + u64::from(g)));
    }
    for g in 1..=4u32 {
        wait_paid(&c, g, &payers, 500);
    }
    let refs: Vec<&Relayer> = relayers.iter().collect();
    let mut total = U256::ZERO;
    for g in 1..=4u32 {
        let m = wait_settled(&c, g, paid[&g], &refs);
        let user = status(&c.rpc(0).group(g));
        assert_eq!(
            as_u256(&user["proxyBalance"]),
            U256::ZERO,
            "group {g} proxy: {user}"
        );
        assert_eq!(
            as_u256(&user["settled"]),
            paid[&g],
            "group {g} settled: {user}"
        );
        let seq = m["creditedSeq"].as_u64().expect("creditedSeq");
        assert!(seq >= 1, "group {g}: no record credited: {m}");
        assert_exactly_once_in_order(&c, BASE_CHAIN_ID + u64::from(g), seq);
        total += paid[&g];
    }
    let m = status(&c.rpc(0).group(0));
    assert_eq!(
        as_u256(&m["merchantBalance"]),
        total,
        "merchant balance: {m}"
    );
    assert_eq!(
        total,
        U256::from(20_000u64 * 1_000 + 5_000 * (1 + 2 + 3 + 4))
    );
}

#[test]
fn a_relayer_killed_mid_way_and_a_second_relayer_lose_nothing_and_credit_nothing_twice() {
    let c = start(2);
    let payers: Vec<usize> = (0..4).collect();
    let mut first = relayer_for(&c, 1, "relayer-a", 18);
    let second = relayer_for(&c, 1, "relayer-b", 14);
    let mut paid = U256::ZERO;
    let mut nonce = 0;
    // Pay in waves until a few records are credited, kill -9 the first relayer, pay on,
    // restart it, pay on: the merchant chain credits every record once.
    for wave in 0..6u64 {
        paid += pay(&c, 1, &payers, nonce, 50, 7_000 + wave);
        nonce += 50;
        wait_paid(&c, 1, &payers, nonce);
        if wave == 1 {
            wait_settled(&c, 1, paid, &[&first, &second]);
            first.kill9();
        }
        if wave == 3 {
            first.restart();
        }
    }
    let m = wait_settled(&c, 1, paid, &[&first, &second]);
    assert!(
        first.running(),
        "the restarted relayer died:\n{}",
        first.log_text()
    );
    let seq = m["creditedSeq"].as_u64().expect("creditedSeq");
    assert!(seq >= 3, "expected several records: {m}");
    assert_exactly_once_in_order(&c, BASE_CHAIN_ID + 1, seq);
    let merchant_balance = as_u256(&status(&c.rpc(0).group(0))["merchantBalance"]);
    assert_eq!(merchant_balance, paid);
}

/// Sends `submitSettlement(proof)` from dev account `key` to the merchant chain: the
/// eth_call revert reason (if refused) and the mined receipt's status.
fn submit(c: &Cluster, key: usize, nonce: u64, proof: &[u8]) -> (Option<String>, bool) {
    let rpc = c.rpc(0).group(0);
    let data = bcos_execution_calldata(proof);
    let from = address_of(&dev_key(key));
    let reason = match rpc.call(
        "eth_call",
        json!([{ "from": addr_hex(&from), "to": addr_hex(&SETTLEMENT_ADDRESS),
                 "data": hex(&data) }, "latest"]),
    ) {
        Ok(_) => None,
        Err(e) => Some(format!("{e:?}")),
    };
    let raw = TxSpec {
        chain_id: BASE_CHAIN_ID,
        nonce,
        to: SETTLEMENT_ADDRESS,
        gas_limit: 500_000,
        input: data,
        ..TxSpec::default()
    }
    .raw(&dev_key(key));
    let hash = send_raw(&rpc, &raw).unwrap_or_else(|e| panic!("submission not admitted: {e:?}"));
    let receipt = wait_receipt(&rpc, &hash);
    (reason, status_ok(&receipt))
}

/// ABI calldata of `submitSettlement(bytes)`, written out here rather than taken from the
/// node's code, as any client would.
fn bcos_execution_calldata(proof: &[u8]) -> Vec<u8> {
    let mut out = keccak256("submitSettlement(bytes)")[..4].to_vec();
    let mut word = [0u8; 32];
    word[31] = 0x20;
    out.extend_from_slice(&word);
    out.extend_from_slice(&U256::from(proof.len()).to_be_bytes::<32>());
    out.extend_from_slice(proof);
    out.resize(4 + 64 + proof.len().div_ceil(32) * 32, 0);
    out
}

#[test]
fn forged_submissions_are_refused_with_a_reason_and_change_no_balance() {
    let c = start(3);
    let payers = [0usize, 1];
    let paid = pay(&c, 1, &payers, 0, 20, 5_000);
    wait_paid(&c, 1, &payers, 20);
    pay(&c, 2, &payers, 0, 20, 9_000);
    wait_paid(&c, 2, &payers, 20);
    // No relayer runs: the test is the only submitter.
    let user1 = c.rpc(0).group(1);
    let user2 = c.rpc(0).group(2);
    for rpc in [&user1, &user2] {
        for _ in 0..POLL_ATTEMPTS {
            if status(rpc)["lastSeq"].as_u64().unwrap_or(0) >= 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(POLL_MS));
        }
    }
    let proof_bytes = |rpc: &Rpc, seq: u64| {
        let p = rpc.ok("bcos_getSettlementProof", json!([seq]));
        decode_hex(p["proof"].as_str().expect("proof hex"))
    };
    let genuine = proof_bytes(&user1, 1);
    let record1 = SettlementProof::decode(&genuine).expect("genuine proof decodes");
    let balance = || as_u256(&status(&c.rpc(0).group(0))["merchantBalance"]);
    let key = 12;
    // The submitter's next nonce.
    let nonce = std::cell::Cell::new(0u64);
    let refuse = |what: &str, proof: Vec<u8>, expect: &str| {
        let before = balance();
        let (reason, ok) = submit(&c, key, nonce.get(), &proof);
        nonce.set(nonce.get() + 1);
        let reason = reason.unwrap_or_else(|| panic!("{what}: eth_call accepted it"));
        eprintln!("{what}: refused: {reason}");
        assert!(
            reason.contains(expect),
            "{what}: reason {reason:?} lacks {expect:?}"
        );
        assert!(!ok, "{what}: the mined submission succeeded");
        assert_eq!(balance(), before, "{what}: the merchant balance changed");
    };

    // A changed amount: the receipt no longer hashes into the certified receipts root.
    let mut forged = record1.clone();
    let data = forged.receipt.logs[forged.log_index as usize]
        .data
        .data
        .to_vec();
    let mut data = data;
    data[95] ^= 1;
    let log = &mut forged.receipt.logs[forged.log_index as usize];
    log.data = bcos_types::LogData::new_unchecked(log.data.topics().to_vec(), data.into());
    refuse("changed amount", forged.encode(), "receipts root");

    // Group 2's genuine record claimed as group 1's: group 1's validators never signed it.
    let mut other = SettlementProof::decode(&proof_bytes(&user2, 1)).expect("decodes");
    other.chain_id = BASE_CHAIN_ID + 1;
    refuse("another chain's record", other.encode(), "names chain");

    // A certificate whose aggregate signature is damaged: not the validator set's.
    let mut unsigned = record1.clone();
    let mut cert = unsigned.certificate.to_vec();
    let last = cert.len() - 1;
    cert[last] ^= 0x40;
    unsigned.certificate = cert.into();
    refuse("damaged certificate", unsigned.encode(), "certificate");

    // The genuine header and record, certified by a quorum of keys outside the chain's
    // validator set (they sign exactly what the validators signed).
    let genuine_cert = CommitCertificate::decode(&record1.certificate[8..]).expect("cert");
    let outsiders: Vec<BlsSecretKey> = (0..4u8)
        .map(|i| BlsSecretKey::from_seed(&[0x70 + i; 32]))
        .collect();
    let outsider_keys: Vec<_> = outsiders.iter().map(BlsSecretKey::public_key).collect();
    let mut builder =
        CertificateBuilder::new(genuine_cert.digest, &outsider_keys, 3).expect("builder");
    for (i, k) in outsiders.iter().enumerate().take(3) {
        builder
            .add_vote(i, sign_vote(k, &genuine_cert.digest))
            .expect("vote");
    }
    let outsider_cert = builder
        .try_build(&VoteCache::default())
        .certificate
        .expect("outsiders' certificate");
    let mut outsider = record1.clone();
    let mut bytes = record1.certificate[..8].to_vec();
    bytes.extend(outsider_cert.encode());
    outsider.certificate = bytes.into();
    refuse(
        "certificate by outsiders",
        outsider.encode(),
        "does not verify",
    );

    // The genuine record is credited once; its replay is refused.
    let before = balance();
    let (reason, ok) = submit(&c, key, nonce.get(), &genuine);
    nonce.set(nonce.get() + 1);
    assert!(
        reason.is_none() && ok,
        "the genuine record was refused: {reason:?}"
    );
    let credited = balance() - before;
    assert_eq!(credited, record1.included_record().expect("record").amount);
    assert!(credited <= paid);
    refuse("replayed record", genuine, "already credited");
}
