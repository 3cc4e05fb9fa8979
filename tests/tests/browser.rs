//! The block browser (issue 18, docs/browser.md) in real headless Chromium against a running
//! 4-node PBFT cluster with two groups: a transfer is sent in each group, then each view is
//! loaded from the node's own `/browser/` page and its rendered DOM is checked (the home page
//! shows the head, the transaction page the transfer with its block and status, the search
//! finds it, the block page and the block list show it, the address page shows the sender, a
//! group-1 link shows group 1's transfer, the nodes page lists node 0's three peers as
//! connected, and a transfer held in the pool by a nonce gap shows on the pending page). A
//! screenshot of every view is saved under `$CARGO_TARGET_TMPDIR/browser-screenshots/` and
//! its path printed.
//!
//! Chromium is `$CHROMIUM`, else `chromium` or `chromium-browser` on PATH (scripts/setup.sh
//! installs Debian's `chromium`). Every Chromium run is killed after `CHROMIUM_TIMEOUT`.

use bcos_tests::cluster::{node_dir, send_transfers, Cluster};
use bcos_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One Chromium run (start, load, render, dump) at most.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);
/// Virtual time the page gets to load and render (Chromium advances it as fast as it can
/// while no request is outstanding).
const VIRTUAL_TIME_MS: u32 = 15_000;
/// Loads of one view before its check fails (a slow machine may not finish in one).
const ATTEMPTS: u32 = 3;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no Chromium: set CHROMIUM or put chromium on PATH (scripts/setup.sh installs Debian's \
         chromium package)"
    );
}

fn shots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    d
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout. Fails the test if
/// it runs past CHROMIUM_TIMEOUT or exits with an error.
fn run_chromium(url: &str, extra: &[String]) -> String {
    let profile = tempfile::Builder::new()
        .prefix("bcos-chromium-")
        .tempdir()
        .expect("temp dir");
    let out_path = profile.path().join("stdout");
    let err_path = profile.path().join("stderr");
    let stdout = std::fs::File::create(&out_path).expect("stdout file");
    let stderr = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            // The tests run as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("p").display()
        ))
        .arg(format!("--virtual-time-budget={VIRTUAL_TIME_MS}"))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", chromium().display()));
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for chromium") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium on {url} ran past {CHROMIUM_TIMEOUT:?}; stderr:\n{}",
                tail(&std::fs::read_to_string(&err_path).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium on {url}: {status}; stderr:\n{}",
        tail(&err)
    );
    std::fs::read_to_string(&out_path).expect("chromium's output")
}

fn tail(s: &str) -> &str {
    let mut cut = s.len().saturating_sub(4000);
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    &s[cut..]
}

/// Loads `url` until its rendered DOM passes `check` (which returns what is missing, if
/// anything), at most ATTEMPTS times; then saves a screenshot as `<name>.png`.
fn check_view(url: &str, name: &str, check: impl Fn(&str) -> Result<(), String>) -> PathBuf {
    let mut last = (String::new(), String::new());
    let mut passed = false;
    for _ in 0..ATTEMPTS {
        let dom = run_chromium(url, &["--dump-dom".to_string()]);
        match check(&dom) {
            Ok(()) => {
                passed = true;
                break;
            }
            Err(why) => last = (why, dom),
        }
    }
    assert!(
        passed,
        "the {name} view ({url}): {}\nits DOM's tail:\n{}",
        last.0,
        tail(&last.1)
    );
    let png = shots_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    run_chromium(url, &[format!("--screenshot={}", png.display())]);
    assert!(
        std::fs::metadata(&png).is_ok_and(|m| m.len() > 0),
        "no screenshot of {url} at {}",
        png.display()
    );
    println!("screenshot of the {name} view: {}", png.display());
    png
}

/// `Err` naming the first of `wanted` that `dom` (lower-cased) lacks.
fn has_all(dom: &str, wanted: &[String]) -> Result<(), String> {
    let lower = dom.to_lowercase();
    for w in wanted {
        if !lower.contains(&w.to_lowercase()) {
            return Err(format!("the page lacks {w:?}"));
        }
    }
    Ok(())
}

/// The `node_id`s of the `[[cluster.members]]` in a node's config.toml, in member order
/// (`bcos init` writes them by node index).
fn member_node_ids(config: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(config)
        .unwrap_or_else(|e| panic!("read {}: {e}", config.display()));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("node_id = "))
        .map(|v| v.trim_matches('"').to_string())
        .collect()
}

#[test]
fn browser_shows_blocks_transactions_search_and_addresses_of_a_running_cluster() {
    let c = Cluster::start_with(4, &[0, 1, 2, 3], &["--groups", "2"]);
    let rpc = c.rpc(0);

    // Transfers in group 0 through node 1, in three rounds so the charts have a few blocks
    // (the first is the one the views are checked for), and one in group 1 through node 2.
    let hash = send_transfers(&c, 1, 0, 0, 1).remove(0);
    let mut sent = 1;
    for count in [4, 2] {
        wait_receipts(rpc, &send_transfers(&c, 1, 0, sent, count));
        sent += count;
    }
    let raw1 = TxSpec {
        chain_id: CHAIN_ID + 1,
        nonce: 0,
        to: address_of(&unfunded_key(9)),
        value: U256::from(5_000u64),
        ..TxSpec::default()
    }
    .raw(&dev_key(3));
    let hash1 = send_raw(&c.rpc(2).group(1), &raw1).expect("group 1 takes the transfer");
    let r = wait_receipt(rpc, &hash);
    assert!(status_ok(&r), "{r}");
    let r1 = wait_receipt(&rpc.group(1), &hash1);
    assert!(status_ok(&r1), "{r1}");
    let blk = as_u64(&r["blockNumber"]);
    let blk1 = as_u64(&r1["blockNumber"]);
    let sender = addr_hex(&address_of(&dev_key(0)));
    let base = format!("{}/browser/", c.node(0).rpc_url);

    let mut shots = Vec::new();

    // Home: the latest block number (an idle chain seals no more blocks, but allow for one).
    let low = head(rpc);
    shots.push(check_view(&format!("{base}#/"), "home", |dom| {
        let high = head(rpc);
        let shown =
            (low..=high).any(|h| dom.contains(&format!("id=\"latest-block\" data-number=\"{h}\"")));
        if !shown {
            return Err(format!("no latest block between {low} and {high}"));
        }
        has_all(
            dom,
            &[
                "data-ready=\"home\"".into(),
                format!("#/tx/{hash}"),
                "id=\"pending-card\" href=\"#/pending\"".into(),
            ],
        )
    }));

    // The transaction: its hash, its block (linked) and its status.
    shots.push(check_view(
        &format!("{base}#/tx/{hash}"),
        "transaction",
        |dom| {
            has_all(
                dom,
                &[
                    "data-ready=\"tx\"".into(),
                    format!("id=\"tx-hash\">{hash}<"),
                    format!("id=\"tx-block\"><a href=\"#/block/{blk}\">{blk}</a>"),
                    "<span class=\"badge ok\">Success</span>".into(),
                    format!("#/address/{sender}"),
                ],
            )
        },
    ));

    // Searching for the hash finds the transaction in its block.
    shots.push(check_view(
        &format!("{base}#/search/{hash}"),
        "search",
        |dom| {
            has_all(
                dom,
                &[
                    "data-ready=\"search\"".into(),
                    "id=\"search-results\"".into(),
                    format!("href=\"#/tx/{hash}\">{hash} (in block {blk})"),
                ],
            )
        },
    ));

    // The block lists the transaction.
    shots.push(check_view(
        &format!("{base}#/block/{blk}"),
        "block",
        |dom| {
            has_all(
                dom,
                &[
                    "data-ready=\"block\"".into(),
                    format!("id=\"block-number\">{blk}<"),
                    format!("href=\"#/tx/{hash}\""),
                    "Commit certificate".into(),
                ],
            )
        },
    ));

    // The block list links the block and counts its certificate's signers.
    shots.push(check_view(&format!("{base}#/blocks"), "blocks", |dom| {
        has_all(
            dom,
            &[
                "data-ready=\"blocks\"".into(),
                format!("href=\"#/block/{blk}\">{blk}<"),
                "Signed by".into(),
            ],
        )
    }));

    // The sender's page: its address, its nonce and the transfer among its transactions.
    shots.push(check_view(
        &format!("{base}#/address/{sender}"),
        "address",
        |dom| {
            has_all(
                dom,
                &[
                    "data-ready=\"address\"".into(),
                    format!("id=\"address\">{sender}<"),
                    format!("id=\"nonce\">{sent}<"),
                    format!("href=\"#/tx/{hash}\""),
                ],
            )
        },
    ));

    // Group 1's transaction through a group-1 link, and the nodes page.
    shots.push(check_view(
        &format!("{base}#/g/1/tx/{hash1}"),
        "group1-transaction",
        |dom| {
            has_all(
                dom,
                &[
                    "data-ready=\"tx\"".into(),
                    format!("id=\"tx-hash\">{hash1}<"),
                    format!("id=\"tx-block\"><a href=\"#/g/1/block/{blk1}\">{blk1}</a>"),
                    "<option value=\"1\" selected=\"\">Group 1</option>".into(),
                ],
            )
        },
    ));
    // The nodes page lists node 0's three peers, by the ids `bcos init` gave them, as
    // connected.
    let ids = member_node_ids(&node_dir(&c.dir.path().join("c"), 0).join("config.toml"));
    assert_eq!(ids.len(), 4, "{ids:?}");
    shots.push(check_view(&format!("{base}#/nodes"), "nodes", |dom| {
        let mut wanted: Vec<String> = vec![
            "data-ready=\"nodes\"".into(),
            "PBFT".into(),
            "Groups on this node".into(),
            "id=\"peers-connected\">3 of 3 configured<".into(),
        ];
        // Its own id, from bcos_getNodeInfo.
        wanted.push(format!("id=\"own-node-id\">{}<", ids[0]));
        for (i, id) in ids.iter().enumerate().skip(1) {
            wanted.push(format!("id=\"peer-{i}-id\" title=\"{id}\">{id}<"));
            wanted.push(format!("id=\"peer-{i}-state\">connected<"));
        }
        has_all(dom, &wanted)
    }));

    // A transfer five nonces ahead of its sender's next one waits in node 0's pool for good;
    // the pending page lists it.
    let waiter = dev_key(2);
    let next = nonce(rpc, &address_of(&waiter), "pending");
    let gapped = send_raw(
        rpc,
        &TxSpec {
            nonce: next + 5,
            to: address_of(&unfunded_key(7)),
            value: U256::from(7_000u64),
            ..TxSpec::default()
        }
        .raw(&waiter),
    )
    .expect("node 0 pools a gapped transfer");
    assert!(pending_size(rpc) >= 1, "the gapped transfer is not pooled");
    let waiter_hex = addr_hex(&address_of(&waiter));
    shots.push(check_view(&format!("{base}#/pending"), "pending", |dom| {
        if dom.contains("id=\"pending-size\">0<") {
            return Err("the pool size shows 0".into());
        }
        has_all(
            dom,
            &[
                "data-ready=\"pending\"".into(),
                format!("href=\"#/tx/{gapped}\""),
                format!("href=\"#/address/{waiter_hex}\""),
            ],
        )
    }));
    shots.push(check_view(&format!("{base}#/charts/50"), "charts", |dom| {
        has_all(
            dom,
            &["data-ready=\"charts\"".into(), "id=\"hist-txs\"".into()],
        )
    }));

    println!("browser screenshots in {}", shots_dir().display());
    for s in &shots {
        println!("  {}", s.display());
    }
}
