//! kill -9 in the middle of a transfer load, then restart on the same data directory: every
//! receipt a client saw is still there in the same block, the chain is contiguous with no
//! partial block, nonces are gap-free prefixes, balances equal the committed transfers exactly,
//! and the restarted node seals new transactions.

use bcos_tests::*;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Dev accounts 1..=SENDERS send; account 0 stays out of the closed set.
const SENDERS: usize = 4;
/// Pre-signed transfers per sender (more than the load reaches before the kill; the rest is for
/// after the restart).
const PER_SENDER: u64 = 750;
/// Fresh addresses that only ever receive.
const RECEIVERS: u8 = 8;
/// Transactions per JSON-RPC batch.
const BATCH_TXS: usize = 100;
/// Sent transactions without a receipt at most, so the pool never fills.
const IN_FLIGHT_MAX: usize = 400;
/// The node is killed once this many receipts have been seen, while the sender streams on.
const KILL_AFTER_SEEN: usize = 1_200;
/// Transactions per sender sent after the restart.
const AFTER_RESTART: u64 = 40;
/// Receipt polls (and sender waits) before the test gives up on progress.
const POLLS_MAX: u32 = 2_400;

struct Planned {
    sender: usize,
    nonce: u64,
    to: Address,
    value: U256,
    raw: String,
    hash: String,
}

fn plan(keys: &[secp256k1::SecretKey], receivers: &[Address]) -> Vec<Planned> {
    let mut out = Vec::new();
    for nonce in 0..PER_SENDER {
        for (sender, key) in keys.iter().enumerate() {
            let i = out.len();
            let spec = TxSpec {
                ty: (i % 3) as u8,
                nonce,
                to: receivers[i % receivers.len()],
                value: U256::from(1_000_000_000u64 + i as u64),
                ..TxSpec::default()
            };
            let raw = spec.raw(key);
            let hash = hex(alloy_primitives::keccak256(&raw).as_slice());
            out.push(Planned {
                sender,
                nonce,
                to: spec.to,
                value: spec.value,
                raw: hex(&raw),
                hash,
            });
        }
    }
    out
}

/// Sends `txs` as one batch; each must be admitted under its own hash.
fn send_batch(rpc: &Rpc, txs: &[&Planned]) {
    let calls: Vec<(&str, Value)> = txs
        .iter()
        .map(|p| ("eth_sendRawTransaction", json!([p.raw])))
        .collect();
    for (p, r) in txs.iter().zip(rpc.batch(&calls)) {
        match r {
            Ok(h) => assert_eq!(h, json!(p.hash), "admitted under another hash"),
            Err(e) => panic!(
                "transfer sender {} nonce {} refused: {e}",
                p.sender, p.nonce
            ),
        }
    }
}

/// The streaming sender: batches in plan order, throttled to `IN_FLIGHT_MAX` unseen
/// transactions, until the plan ends, `stop` is set, or the node stops answering (the kill).
/// Admitted plan indices are appended to `admitted`.
fn stream(
    rpc: Rpc,
    plan: Arc<Vec<Planned>>,
    admitted: Arc<Mutex<Vec<usize>>>,
    seen: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut next = 0;
    let mut waits = 0;
    while next < plan.len() && !stop.load(Ordering::SeqCst) {
        let in_flight = admitted.lock().expect("lock").len() - seen.load(Ordering::SeqCst);
        if in_flight >= IN_FLIGHT_MAX {
            waits += 1;
            if waits > POLLS_MAX * 10 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let end = (next + BATCH_TXS).min(plan.len());
        let body: Vec<Value> = (next..end)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [plan[i].raw]}))
            .collect();
        // Transport failures and garbled answers mean the node was killed mid-request.
        let Ok((_, bytes)) = rpc.post_raw(Value::Array(body).to_string().as_bytes()) else {
            return;
        };
        let Ok(answers) = serde_json::from_slice::<Vec<Value>>(&bytes) else {
            return;
        };
        let mut ok = Vec::new();
        for a in &answers {
            let i = a["id"].as_u64().expect("id") as usize;
            match a.get("result") {
                Some(h) => {
                    assert_eq!(h, &json!(plan[i].hash), "admitted under another hash");
                    ok.push(i);
                }
                None => panic!(
                    "transfer sender {} nonce {} refused: {a}",
                    plan[i].sender, plan[i].nonce
                ),
            }
        }
        assert_eq!(ok.len(), end - next, "one answer per transaction");
        admitted.lock().expect("lock").extend(ok);
        next = end;
    }
}

/// Moves the receipts that have arrived from `outstanding` into `seen`; returns how many.
fn collect(
    rpc: &Rpc,
    plan: &[Planned],
    outstanding: &mut Vec<usize>,
    seen: &mut HashMap<usize, Value>,
) -> usize {
    let hashes: Vec<String> = outstanding.iter().map(|&i| plan[i].hash.clone()).collect();
    let mut got = 0;
    let mut still = Vec::new();
    for (&i, r) in outstanding.iter().zip(receipts(rpc, &hashes)) {
        match r {
            Some(r) => {
                seen.insert(i, r);
                got += 1;
            }
            None => still.push(i),
        }
    }
    *outstanding = still;
    got
}

/// Committed receipts of every planned transaction (by plan index).
fn committed(rpc: &Rpc, plan: &[Planned]) -> HashMap<usize, Value> {
    let mut out = HashMap::new();
    for chunk in (0..plan.len()).collect::<Vec<_>>().chunks(500) {
        let hashes: Vec<String> = chunk.iter().map(|&i| plan[i].hash.clone()).collect();
        for (&i, r) in chunk.iter().zip(receipts(rpc, &hashes)) {
            if let Some(r) = r {
                out.insert(i, r);
            }
        }
    }
    out
}

/// Per sender, the committed nonces are exactly 0..k; returns k per sender.
fn committed_prefixes(
    rpc: &Rpc,
    plan: &[Planned],
    done: &HashMap<usize, Value>,
    senders: &[Address],
) -> Vec<u64> {
    let mut nonces: Vec<Vec<u64>> = vec![Vec::new(); senders.len()];
    for &i in done.keys() {
        nonces[plan[i].sender].push(plan[i].nonce);
    }
    nonces
        .iter_mut()
        .enumerate()
        .map(|(s, ns)| {
            ns.sort_unstable();
            let k = ns.len() as u64;
            assert!(
                ns.iter().copied().eq(0..k),
                "sender {s}: committed nonces have a gap: {ns:?}"
            );
            assert_eq!(
                nonce(rpc, &senders[s], "latest"),
                k,
                "sender {s}: nonce vs receipts"
            );
            k
        })
        .collect()
}

/// Blocks 0..=head exist, link by parent hash, and every transaction of every block has its
/// receipt in that block at its index; returns all transaction hashes in blocks.
fn check_chain(rpc: &Rpc, closed: &HashSet<Address>) -> HashSet<String> {
    let head = head(rpc);
    let mut parent: Option<Value> = None;
    let mut all = HashSet::new();
    for n in 0..=head {
        let b = block(rpc, n, false).unwrap_or_else(|| panic!("block {n} of head {head} missing"));
        assert_eq!(as_u64(&b["number"]), n);
        if let Some(p) = &parent {
            assert_eq!(
                &b["parentHash"],
                p,
                "block {n} does not link to block {}",
                n - 1
            );
        }
        let miner: Address = b["miner"]
            .as_str()
            .and_then(|m| m.parse().ok())
            .unwrap_or_default();
        assert!(
            !closed.contains(&miner),
            "block {n} pays fees into the closed set ({miner})"
        );
        let txs: Vec<String> = b["transactions"]
            .as_array()
            .expect("transactions array")
            .iter()
            .map(|h| h.as_str().expect("tx hash").to_string())
            .collect();
        for (idx, (h, r)) in txs.iter().zip(receipts(rpc, &txs)).enumerate() {
            let r =
                r.unwrap_or_else(|| panic!("block {n} tx {idx} {h} has no receipt: partial block"));
            assert_eq!(
                r["blockHash"], b["hash"],
                "receipt of {h} names another block"
            );
            assert_eq!(as_u64(&r["blockNumber"]), n);
            assert_eq!(as_u64(&r["transactionIndex"]), idx as u64);
            assert!(all.insert(h.clone()), "{h} appears in two blocks");
        }
        parent = Some(b["hash"].clone());
    }
    assert!(
        block(rpc, head + 1, false).is_none(),
        "a block past the head"
    );
    all
}

/// Balances of the closed set equal genesis minus/plus exactly the committed transfers.
fn check_balances(
    rpc: &Rpc,
    plan: &[Planned],
    done: &HashMap<usize, Value>,
    senders: &[Address],
    receivers: &[Address],
) {
    let mut expect: HashMap<Address, U256> = senders.iter().map(|a| (*a, dev_balance())).collect();
    for r in receivers {
        expect.insert(*r, U256::ZERO);
    }
    for (&i, r) in done {
        assert!(status_ok(r), "transfer {i} failed: {r}");
        let p = &plan[i];
        let s = expect.get_mut(&senders[p.sender]).expect("sender tracked");
        *s -= p.value + fee_paid(r);
        *expect.get_mut(&p.to).expect("receiver tracked") += p.value;
    }
    for (a, want) in &expect {
        assert_eq!(
            balance(rpc, a),
            *want,
            "balance of {a} vs committed transfers"
        );
    }
}

#[test]
fn kill_9_mid_load_then_recover() {
    let keys: Vec<_> = (1..=SENDERS).map(dev_key).collect();
    let senders: Vec<Address> = keys.iter().map(address_of).collect();
    let receivers: Vec<Address> = (0..RECEIVERS)
        .map(|i| Address::repeat_byte(0xc0 + i))
        .collect();
    let closed: HashSet<Address> = senders.iter().chain(&receivers).copied().collect();
    let plan = Arc::new(plan(&keys, &receivers));

    let mut node = Node::start(&[]);
    let rpc = node.rpc.clone();

    // A sender thread streams the load; this thread collects every receipt a client would
    // have seen and kills the node while the stream is still going.
    let admitted = Arc::new(Mutex::new(Vec::new()));
    let seen_count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (rpc, plan, admitted, seen, stop) = (
            rpc.clone(),
            plan.clone(),
            admitted.clone(),
            seen_count.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || stream(rpc, plan, admitted, seen, stop))
    };
    let mut seen: HashMap<usize, Value> = HashMap::new();
    let mut outstanding: Vec<usize> = Vec::new();
    let mut taken = 0;
    let mut idle_polls = 0;
    while seen.len() < KILL_AFTER_SEEN {
        {
            let a = admitted.lock().expect("lock");
            outstanding.extend_from_slice(&a[taken..]);
            taken = a.len();
        }
        assert!(
            !sender.is_finished() || !outstanding.is_empty(),
            "the load ended before the kill"
        );
        if collect(&rpc, &plan, &mut outstanding, &mut seen) == 0 {
            idle_polls += 1;
            assert!(
                idle_polls < POLLS_MAX,
                "no progress under load\n{}",
                node.log_tail()
            );
            std::thread::sleep(Duration::from_millis(RECEIPT_POLL_MS));
        }
        seen_count.store(seen.len(), Ordering::SeqCst);
    }
    // Kill right after the sender's next batch is admitted, so the node holds work the client
    // has no receipt for (the sealer is typically mid-block).
    for _ in 0..POLLS_MAX * 10 {
        if admitted.lock().expect("lock").len() > taken || sender.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    node.kill9();
    stop.store(true, Ordering::SeqCst);
    sender.join().expect("the sender thread ends cleanly");
    let admitted_n = admitted.lock().expect("lock").len();
    let head_seen = seen
        .values()
        .map(|r| as_u64(&r["blockNumber"]))
        .max()
        .unwrap_or(0);
    eprintln!(
        "killed at {} receipts seen (head >= {head_seen}), {} admitted, {} outstanding",
        seen.len(),
        admitted_n,
        admitted_n - seen.len()
    );

    node.restart();
    let rpc = node.rpc.clone();
    assert!(
        head(&rpc) >= head_seen,
        "restart lost blocks whose receipts were served"
    );
    // Whatever the node kept of its pool is sealed before the books are checked.
    wait_pool_empty(&rpc);

    for (&i, r) in &seen {
        let now = receipt(&rpc, &plan[i].hash)
            .unwrap_or_else(|| panic!("receipt of {} lost in the crash", plan[i].hash));
        assert_eq!(
            now["blockHash"], r["blockHash"],
            "receipt moved to another block"
        );
        assert_eq!(now, *r, "receipt changed across the crash");
    }
    let done = committed(&rpc, &plan);
    assert!(done.len() >= seen.len());
    let in_blocks = check_chain(&rpc, &closed);
    let done_hashes: HashSet<String> = done.keys().map(|&i| plan[i].hash.clone()).collect();
    assert_eq!(
        in_blocks, done_hashes,
        "blocks hold exactly the committed transfers"
    );
    let prefixes = committed_prefixes(&rpc, &plan, &done, &senders);
    check_balances(&rpc, &plan, &done, &senders, &receivers);
    eprintln!(
        "after restart: {} of {admitted_n} admitted committed, head {}",
        done.len(),
        head(&rpc)
    );

    // The recovered node takes new work: each sender continues at its next nonce.
    let after: Vec<usize> = (0..plan.len())
        .filter(|&i| {
            let k = prefixes[plan[i].sender];
            plan[i].nonce >= k && plan[i].nonce < k + AFTER_RESTART
        })
        .collect();
    assert_eq!(
        after.len(),
        SENDERS * AFTER_RESTART as usize,
        "pre-signed txs left to send"
    );
    let head_before = head(&rpc);
    for chunk in after.chunks(BATCH_TXS) {
        send_batch(&rpc, &chunk.iter().map(|&i| &plan[i]).collect::<Vec<_>>());
    }
    let hashes: Vec<String> = after.iter().map(|&i| plan[i].hash.clone()).collect();
    for r in wait_receipts(&rpc, &hashes) {
        assert!(status_ok(&r));
        assert!(
            as_u64(&r["blockNumber"]) > head_before,
            "new tx sealed into an old block"
        );
    }
    let done = committed(&rpc, &plan);
    check_chain(&rpc, &closed);
    committed_prefixes(&rpc, &plan, &done, &senders);
    check_balances(&rpc, &plan, &done, &senders, &receivers);
}
