//! Groups (issue 13, spec/groups.md GRP-R2): one RocksDB per group against one RocksDB shared
//! by all the groups of a node, measured with `G` groups committing blocks concurrently, one
//! thread per group, as the node's group drivers do.
//!
//! Layouts (every database opened with the options of `bcos_storage::rocks::open_db`: 64 MiB
//! write buffer per column family, its own 256 MiB LRU block cache, bloom filters, LZ4,
//! memtable bloom; the sizes come from `StorageConfig::default()`):
//!
//! - `a`: one database per group, the 11 column families of spec/durability.md §3 (what the
//!   node does: `<data_dir>/groups/<g>/chain/state`, group 0 at `<data_dir>/chain/state`).
//! - `b-cf`: one database for the node with 11 column families per group (`g<g>.accounts`, ...).
//!   Each group keeps its own LSM trees and memtables; the WAL, the block cache, the MANIFEST
//!   and the write path (group commit of concurrent synced writes) are shared.
//! - `b-prefix`: one database with the 11 column families, every key prefixed with the group
//!   (be32). Memtables, LSM trees, WAL and cache are all shared.
//!
//! Both shared variants are run because they save different things: `b-cf` shares only the
//! WAL, cache and files, `b-prefix` also the memtables; the results and the decision are in
//! spec/durability.md §7.
//!
//! Workload, per block and group: the block's segment record appended and fdatasync'ed to the
//! group's own segment file (both layouts keep one segment directory per group; `--no-segments`
//! leaves it out), then one WriteBatch written with a synced WAL (`sync_state_writes = true`).
//! The batch is the one `bcos_storage::rocks::build_batch` builds for a block of `--txs`
//! transfers (`bcos_benches::chain::transfer_commit`: about two accounts per transfer, the
//! receipts, senders, tx index, header indexes, block location and head), taken once as a
//! template; per block its keys are renewed (block number keys, tx hashes and the payees'
//! addresses are fresh, the senders recur), so state grows as on a chain of transfers between
//! strangers. Values are the template's. Nothing is read (the executor's reads are not part
//! of this comparison).
//!
//! Measured per run, in a child process of its own so that memory, threads and I/O counters
//! start clean: blocks/s and tx/s (all groups together), commit latency, RSS growth, RocksDB's
//! memtable / table-reader / block-cache properties, bytes the process sent to the disk
//! (`/proc/self/io` write_bytes, less the segment pages) and RocksDB's WAL / flush /
//! compaction byte counters (statistics are enabled for that; the only option that differs
//! from the node's), all divided by the user bytes (keys and values of the node's batches), the
//! WAL syncs, threads and open files.
//!
//! ```text
//! cargo run --release -p bcos-benches --example group_storage -- --groups 8 --blocks 150
//! ```
//!
//! takes about 30 s on two cores (8 child runs).
//!
//! Flags: `--groups G` (8), `--blocks N` per group and run (150), `--txs T` per block (1000),
//! `--repeat R` (2; the layouts run interleaved: a(G=1), a, b-cf, b-prefix, a(G=1), a, ...),
//! `--layouts a,b-cf,b-prefix`, `--no-baseline` (no G=1 run), `--no-segments`,
//! `--write-buffer-mib M` (64) and `--block-cache-mib M` (256) to scale RocksDB,
//! `--json PATH` (every run's figures). The store lives under `BCOS_BENCH_DIR` (default: the
//! system temp directory; it must be a real disk for the fsyncs to count).

// One `json!` object with every figure of a run.
#![recursion_limit = "256"]

use bcos_benches::chain::transfer_commit;
use bcos_benches::{accounts, bench_dir, mixed_transfers};
use bcos_storage::rocks::{self, ALL_CFS};
use bcos_storage::segment::{encode_record, segment_file_name, sync_dir, RecordLocation};
use bcos_storage::StorageConfig;
use bcos_types::receipt::encode_receipts;
use bcos_types::B256;
use rocksdb::statistics::Ticker;
use rocksdb::{
    Cache, ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, WriteBatchIteratorCf,
    WriteOptions, DB,
};
use serde_json::{json, Value};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const PAGE: u64 = 4096;

#[derive(Debug, Clone)]
struct Args {
    groups: usize,
    blocks: u64,
    txs: usize,
    repeat: usize,
    layouts: Vec<String>,
    baseline: bool,
    segments: bool,
    write_buffer_mib: usize,
    block_cache_mib: usize,
    json: Option<PathBuf>,
    /// Child mode: run one layout and print its figures as one JSON line.
    child: Option<String>,
}

fn parse_args() -> Args {
    let defaults = StorageConfig::default();
    let mut a = Args {
        groups: 8,
        blocks: 150,
        txs: 1000,
        repeat: 2,
        layouts: vec!["a".into(), "b-cf".into(), "b-prefix".into()],
        baseline: true,
        segments: true,
        write_buffer_mib: defaults.rocksdb_write_buffer_bytes >> 20,
        block_cache_mib: defaults.rocksdb_block_cache_bytes >> 20,
        json: None,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--groups" => a.groups = num(&value()),
            "--blocks" => a.blocks = num(&value()) as u64,
            "--txs" => a.txs = num(&value()),
            "--repeat" => a.repeat = num(&value()),
            "--layouts" => a.layouts = value().split(',').map(str::to_string).collect(),
            "--no-baseline" => a.baseline = false,
            "--no-segments" => a.segments = false,
            "--write-buffer-mib" => a.write_buffer_mib = num(&value()),
            "--block-cache-mib" => a.block_cache_mib = num(&value()),
            "--json" => a.json = Some(PathBuf::from(value())),
            "--child" => a.child = Some(value()),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    for l in &a.layouts {
        if !["a", "b-cf", "b-prefix"].contains(&l.as_str()) {
            usage(&format!("unknown layout {l}"));
        }
    }
    if a.groups == 0 || a.blocks == 0 || a.txs < 2 {
        usage("--groups and --blocks must be positive, --txs at least 2");
    }
    a
}

fn num(s: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| usage(&format!("{s} is not a number")))
}

fn usage(why: &str) -> ! {
    eprintln!(
        "group_storage: {why}\nflags: --groups G --blocks N --txs T --repeat R \
         --layouts a,b-cf,b-prefix --no-baseline --no-segments --write-buffer-mib M \
         --block-cache-mib M --json PATH"
    );
    std::process::exit(2)
}

fn main() {
    let args = parse_args();
    match &args.child {
        Some(layout) => {
            let figures = child(&args, layout);
            println!("{figures}");
        }
        None => parent(&args),
    }
}

// ---------------------------------------------------------------------------------------------
// The template batch: what `rocks::build_batch` writes for one block of transfers.

/// How an operation's key changes from block to block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vary {
    /// The same key every block (senders' accounts, the beneficiary, `meta`).
    Fixed,
    /// The block number, be64 (`receipts`, `senders`, `certificates`, `block_index`,
    /// `number_to_hash`).
    Number,
    /// A hash, fresh every block (`tx_index`, `hash_to_number`).
    Hash,
    /// A payee's address, fresh every block (transfers between strangers).
    Payee,
}

struct Op {
    /// Index in `ALL_CFS`.
    cf: usize,
    key: Vec<u8>,
    value: Vec<u8>,
    vary: Vary,
}

struct Template {
    ops: Vec<Op>,
    /// Keys and values of one block's batch: the user bytes write amplification divides by.
    user_bytes: u64,
    /// `WriteBatch::size_in_bytes` of the node's batch (what its WAL record carries).
    batch_bytes: u64,
    /// The block's segment record (header + `rlp(block)`).
    record: Vec<u8>,
    per_cf_bytes: Vec<(String, u64, u64)>,
}

struct Collect {
    cf_index: Vec<(u32, usize)>,
    ops: Vec<(usize, Vec<u8>, Vec<u8>)>,
    deletes: usize,
}

impl Collect {
    fn index(&self, cf_id: u32) -> usize {
        self.cf_index
            .iter()
            .find(|(id, _)| *id == cf_id)
            .map(|(_, i)| *i)
            .expect("the batch writes only the store's column families")
    }
}

impl WriteBatchIteratorCf for Collect {
    fn put_cf(&mut self, cf_id: u32, key: &[u8], value: &[u8]) {
        let i = self.index(cf_id);
        self.ops.push((i, key.to_vec(), value.to_vec()));
    }
    fn delete_cf(&mut self, _cf_id: u32, _key: &[u8]) {
        self.deletes += 1;
    }
    fn merge_cf(&mut self, _cf_id: u32, _key: &[u8], _value: &[u8]) {
        self.deletes += 1;
    }
}

/// Builds block 1 of `txs` transfers with the benches' fixtures, and its batch with the
/// store's own `build_batch` against a scratch database opened by the store's own `open_db`.
fn template(txs: usize) -> Template {
    let (keys, addrs) = accounts(txs);
    let transfers = mixed_transfers(&keys, &addrs);
    let commit = transfer_commit(1, B256::repeat_byte(0x11), &transfers, &addrs);
    let payload = commit.block.block.encode_bytes();
    let record = encode_record(1, &payload).expect("a block this small fits a record");
    let receipts = encode_receipts(&commit.receipts);
    let loc = RecordLocation {
        segment: 0,
        offset: 0,
        length: record.len() as u32,
    };
    let dir = bench_dir();
    let db = rocks::open_db(dir.path(), &StorageConfig::default()).expect("scratch db opens");
    let batch = rocks::build_batch(&db, &commit.as_commit(), &receipts, loc, txs as u64)
        .expect("the batch builds");

    // Which column family id is which name: one put each, read back.
    let mut cf_index = Vec::new();
    for (i, name) in ALL_CFS.iter().enumerate() {
        let mut probe = WriteBatch::default();
        probe.put_cf(rocks::cf(&db, name).expect("cf"), b"k", b"v");
        struct Id(Option<u32>);
        impl WriteBatchIteratorCf for Id {
            fn put_cf(&mut self, cf_id: u32, _: &[u8], _: &[u8]) {
                self.0 = Some(cf_id);
            }
            fn delete_cf(&mut self, _: u32, _: &[u8]) {}
            fn merge_cf(&mut self, _: u32, _: &[u8], _: &[u8]) {}
        }
        let mut id = Id(None);
        probe.iterate_cf(&mut id);
        cf_index.push((id.0.expect("the probe put is seen"), i));
    }
    let mut c = Collect {
        cf_index,
        ops: Vec::new(),
        deletes: 0,
    };
    batch.iterate_cf(&mut c);
    assert_eq!(c.deletes, 0, "a block of transfers deletes nothing");
    let batch_bytes = batch.size_in_bytes() as u64;
    drop(batch);
    drop(db);

    let mut per_cf_bytes: Vec<(String, u64, u64)> = ALL_CFS
        .iter()
        .map(|n| (n.to_string(), 0u64, 0u64))
        .collect();
    let mut user_bytes = 0u64;
    let ops = c
        .ops
        .into_iter()
        .map(|(cf, key, value)| {
            let name = ALL_CFS[cf];
            let vary = match name {
                rocks::CF_ACCOUNTS if key.len() == 20 && key[..12].iter().all(|b| *b == 0) => {
                    Vary::Payee
                }
                rocks::CF_TX_INDEX | rocks::CF_HASH_TO_NUMBER => Vary::Hash,
                rocks::CF_NUMBER_TO_HASH
                | rocks::CF_RECEIPTS
                | rocks::CF_SENDERS
                | rocks::CF_CERTIFICATES
                | rocks::CF_BLOCK_INDEX => Vary::Number,
                _ => Vary::Fixed,
            };
            let n = (key.len() + value.len()) as u64;
            user_bytes += n;
            per_cf_bytes[cf].1 += 1;
            per_cf_bytes[cf].2 += n;
            Op {
                cf,
                key,
                value,
                vary,
            }
        })
        .collect();
    per_cf_bytes.retain(|(_, count, _)| *count > 0);
    Template {
        ops,
        user_bytes,
        batch_bytes,
        record,
        per_cf_bytes,
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The key `op` has in block `number` of group `group`, with the group prefix if any.
fn block_key(op: &Op, number: u64, salt: u64, prefix: Option<[u8; 4]>, out: &mut Vec<u8>) {
    out.clear();
    if let Some(p) = prefix {
        out.extend_from_slice(&p);
    }
    let s = out.len();
    match op.vary {
        Vary::Fixed => out.extend_from_slice(&op.key),
        Vary::Number => out.extend_from_slice(&number.to_be_bytes()),
        Vary::Hash => {
            out.extend_from_slice(&op.key);
            for (b, x) in out[s..s + 8].iter_mut().zip(salt.to_be_bytes()) {
                *b ^= x;
            }
        }
        Vary::Payee => {
            out.extend_from_slice(&op.key);
            out[s + 4..s + 12].copy_from_slice(&salt.to_be_bytes());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Databases

struct Store {
    db: DB,
    cache: Cache,
    opts: Options,
    cf_names: Vec<String>,
}

/// `rocks::open_db`'s options (`rocks::db_options`, `rocks::column_family_options`) with
/// other column family names, a block cache the caller can query and statistics on.
fn open_store(path: &Path, cf_names: Vec<String>, args: &Args) -> Store {
    std::fs::create_dir_all(path).expect("database directory");
    let config = StorageConfig {
        rocksdb_write_buffer_bytes: args.write_buffer_mib << 20,
        rocksdb_block_cache_bytes: args.block_cache_mib << 20,
        ..StorageConfig::default()
    };
    let cache = Cache::new_lru_cache(config.rocksdb_block_cache_bytes);
    let (mut db_opts, cf_opts) = rocks::db_options(&config, &cache);
    db_opts.enable_statistics();
    // A family's shape goes by its name after the group prefix (`g3.accounts`).
    let cfs = cf_names.iter().map(|name| {
        let base = name.rsplit('.').next().unwrap_or(name);
        ColumnFamilyDescriptor::new(name.as_str(), rocks::column_family_options(base, &cf_opts))
    });
    let db = DB::open_cf_descriptors(&db_opts, path, cfs).expect("database opens");
    Store {
        db,
        cache,
        opts: db_opts,
        cf_names,
    }
}

/// What one group writes into: its database, its 11 column families (in `ALL_CFS` order)
/// and its key prefix.
struct GroupView<'a> {
    db: &'a DB,
    cfs: Vec<&'a ColumnFamily>,
    prefix: Option<[u8; 4]>,
}

fn open_layout(layout: &str, groups: usize, root: &Path, args: &Args) -> Vec<Store> {
    let names = |g: Option<usize>| -> Vec<String> {
        ALL_CFS
            .iter()
            .map(|n| match g {
                Some(g) => format!("g{g}.{n}"),
                None => n.to_string(),
            })
            .collect()
    };
    match layout {
        "a" => (0..groups)
            .map(|g| open_store(&root.join(format!("g{g}/state")), names(None), args))
            .collect(),
        "b-cf" => {
            let all = (0..groups).flat_map(|g| names(Some(g))).collect();
            vec![open_store(&root.join("state"), all, args)]
        }
        "b-prefix" => vec![open_store(&root.join("state"), names(None), args)],
        other => usage(&format!("unknown layout {other}")),
    }
}

fn group_views<'a>(layout: &str, groups: usize, stores: &'a [Store]) -> Vec<GroupView<'a>> {
    (0..groups)
        .map(|g| {
            let (store, first_cf, prefix) = match layout {
                "a" => (&stores[g], 0, None),
                "b-cf" => (&stores[0], g * ALL_CFS.len(), None),
                _ => (&stores[0], 0, Some((g as u32).to_be_bytes())),
            };
            let cfs = store.cf_names[first_cf..first_cf + ALL_CFS.len()]
                .iter()
                .map(|n| store.db.cf_handle(n).expect("column family exists"))
                .collect();
            GroupView {
                db: &store.db,
                cfs,
                prefix,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Process counters

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of the process (all threads), in seconds.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15, in clock ticks (USER_HZ = 100 on Linux).
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The 1-minute load average: other work on the machine during the run.
fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn io_write_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("write_bytes:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Open descriptors by what they point at: directories, WALs, SSTs, other files, the rest
/// (pipes, eventfds, sockets).
fn fd_kinds() -> Value {
    let (mut dirs, mut wals, mut ssts, mut files, mut other) = (0, 0, 0, 0, 0);
    for e in std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let name = target.to_string_lossy();
        if !name.starts_with('/') {
            other += 1;
        } else if target.is_dir() {
            dirs += 1;
        } else if name.ends_with(".log") && !name.ends_with("/LOG") {
            wals += 1;
        } else if name.ends_with(".sst") {
            ssts += 1;
        } else {
            files += 1;
        }
    }
    json!({"dirs": dirs, "wals": wals, "ssts": ssts, "files": files, "other": other})
}

/// Files and bytes under `dir`, and how many of them are SSTs / WALs.
fn dir_census(dir: &Path) -> (u64, u64, u64, u64) {
    let (mut files, mut bytes, mut ssts, mut wals) = (0, 0, 0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
                continue;
            }
            files += 1;
            bytes += meta.len();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".sst") {
                ssts += 1;
            } else if name.ends_with(".log") && name != "LOG" {
                wals += 1;
            }
        }
    }
    (files, bytes, ssts, wals)
}

fn prop_sum(stores: &[Store], name: &str) -> u64 {
    stores
        .iter()
        .map(|s| {
            s.cf_names
                .iter()
                .filter_map(|n| s.db.cf_handle(n))
                .map(|cf| {
                    s.db.property_int_value_cf(cf, name)
                        .ok()
                        .flatten()
                        .unwrap_or(0)
                })
                .sum::<u64>()
        })
        .sum()
}

fn ticker(stores: &[Store], t: Ticker) -> u64 {
    stores.iter().map(|s| s.opts.get_ticker_count(t)).sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

// ---------------------------------------------------------------------------------------------
// One run (child process)

fn child(args: &Args, layout: &str) -> Value {
    let groups = args.groups;
    // Before any database is open (the template opens one): RocksDB's thread pools are
    // process-wide and start with the first database.
    let threads_process = status_kib("Threads:");
    let tpl = template(args.txs);
    let dir = bench_dir();
    let root = dir.path();

    let rss_start = status_kib("VmRSS:");
    let threads_start = status_kib("Threads:");
    let fds_start = open_fds();
    let opened = Instant::now();
    let stores = open_layout(layout, groups, root, args);
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    let views = group_views(layout, groups, &stores);
    let rss_open = status_kib("VmRSS:");
    let threads_open = status_kib("Threads:");
    let fds_open = open_fds();

    // One segment file per group, in both layouts (spec/durability.md §1).
    let segments: Vec<File> = (0..groups)
        .map(|g| {
            let d = root.join(format!("g{g}/blocks"));
            std::fs::create_dir_all(&d).expect("segment dir");
            let f = File::create(d.join(segment_file_name(0))).expect("segment file");
            sync_dir(&d).expect("segment dir fsync");
            f
        })
        .collect();

    let barrier = Barrier::new(groups + 1);
    let io_before = io_write_bytes();
    let cpu_before = cpu_seconds();
    let load_before = load1();
    let (wall, mut latencies, seg_dirty) = std::thread::scope(|s| {
        let handles: Vec<_> = views
            .iter()
            .zip(&segments)
            .enumerate()
            .map(|(g, (view, seg))| {
                let tpl = &tpl;
                let barrier = &barrier;
                let segments_on = args.segments;
                let blocks = args.blocks;
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(blocks as usize);
                    let mut offset = 0u64;
                    let mut dirtied = 0u64;
                    let mut key = Vec::with_capacity(64);
                    let mut wopts = WriteOptions::default();
                    wopts.set_sync(true);
                    barrier.wait();
                    for number in 1..=blocks {
                        let started = Instant::now();
                        if segments_on {
                            // DUR-1: pwrite at the append position, then fdatasync (the std
                            // backend).
                            seg.write_all_at(&tpl.record, offset)
                                .expect("segment write");
                            seg.sync_data().expect("segment fdatasync");
                            let len = tpl.record.len() as u64;
                            dirtied += ((offset + len - 1) / PAGE - offset / PAGE + 1) * PAGE;
                            offset += len;
                        }
                        // DUR-2: the block's batch, WAL fsynced.
                        let salt = mix(((g as u64) << 48) ^ number);
                        let mut batch = WriteBatch::with_capacity_bytes(
                            tpl.batch_bytes as usize + 8 * tpl.ops.len(),
                        );
                        for op in &tpl.ops {
                            block_key(op, number, salt, view.prefix, &mut key);
                            batch.put_cf(view.cfs[op.cf], &key, &op.value);
                        }
                        view.db.write_opt(batch, &wopts).expect("batch writes");
                        lat.push(started.elapsed());
                    }
                    (lat, dirtied)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let mut lat = Vec::new();
        let mut dirtied = 0;
        for h in handles {
            let (l, d) = h.join().expect("group thread");
            lat.extend(l);
            dirtied += d;
        }
        (started.elapsed(), lat, dirtied)
    });
    let io_after = io_write_bytes();
    let cpu_used = cpu_seconds() - cpu_before;

    let rss_end = status_kib("VmRSS:");
    let threads_end = status_kib("Threads:");
    let fds_end = open_fds();
    let fds_by_kind = fd_kinds();
    let memtables = prop_sum(&stores, "rocksdb.cur-size-all-mem-tables");
    let table_readers = prop_sum(&stores, "rocksdb.estimate-table-readers-mem");
    let sst_bytes = prop_sum(&stores, "rocksdb.total-sst-files-size");
    let cache_usage: u64 = stores.iter().map(|s| s.cache.get_usage() as u64).sum();
    let cache_capacity = (stores.len() * args.block_cache_mib) as u64;
    let wal_bytes = ticker(&stores, Ticker::WalFileBytes);
    let flush_bytes = ticker(&stores, Ticker::FlushWriteBytes);
    let compact_bytes = ticker(&stores, Ticker::CompactWriteBytes);
    let wal_syncs = ticker(&stores, Ticker::WalFileSynced);
    let writes_self = ticker(&stores, Ticker::WriteDoneBySelf);
    let writes_other = ticker(&stores, Ticker::WriteDoneByOther);
    let rocks_bytes_written = ticker(&stores, Ticker::BytesWritten);
    let (files, disk_bytes, ssts, wals) = dir_census(root);

    let total_blocks = groups as u64 * args.blocks;
    let user = total_blocks * tpl.user_bytes;
    let secs = wall.as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(i)
            .copied()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            * 1e3
    };
    let proc_written = io_after.saturating_sub(io_before);
    let figures = json!({
        "layout": layout,
        "groups": groups,
        "blocks_per_group": args.blocks,
        "txs_per_block": args.txs,
        "segments": args.segments,
        "write_buffer_mib": args.write_buffer_mib,
        "block_cache_mib": args.block_cache_mib,
        "databases": stores.len(),
        "column_families": stores.iter().map(|s| s.cf_names.len() + 1).sum::<usize>(),
        "open_ms": open_ms,
        "wall_s": secs,
        "blocks_per_s": total_blocks as f64 / secs,
        "tx_per_s": (total_blocks * args.txs as u64) as f64 / secs,
        "cpu_ms_per_block": cpu_used * 1e3 / total_blocks as f64,
        "load1_at_start": load_before,
        "commit_ms_p50": pct(0.5),
        "commit_ms_p99": pct(0.99),
        "rss_start_mib": rss_start as f64 / 1024.0,
        "rss_open_growth_mib": (rss_open as f64 - rss_start as f64) / 1024.0,
        "rss_growth_mib": (rss_end as f64 - rss_start as f64) / 1024.0,
        "rss_hwm_mib": status_kib("VmHWM:") as f64 / 1024.0,
        "memtables_mib": mib(memtables),
        "table_readers_kib": table_readers as f64 / 1024.0,
        "block_cache_usage_mib": mib(cache_usage),
        "block_cache_capacity_mib": cache_capacity,
        "sst_mib": mib(sst_bytes),
        "user_bytes_per_block": tpl.user_bytes,
        "batch_bytes_per_block": tpl.batch_bytes,
        "record_bytes_per_block": tpl.record.len(),
        "user_mib": mib(user),
        "rocks_bytes_written_mib": mib(rocks_bytes_written),
        "wal_mib": mib(wal_bytes),
        "flush_mib": mib(flush_bytes),
        "compaction_mib": mib(compact_bytes),
        "wa_rocksdb": (wal_bytes + flush_bytes + compact_bytes) as f64 / user as f64,
        "proc_write_mib": mib(proc_written),
        "segment_pages_mib": mib(seg_dirty),
        "wa_proc_io": proc_written.saturating_sub(seg_dirty) as f64 / user as f64,
        "wal_syncs": wal_syncs,
        "writes_led": writes_self,
        "writes_joined": writes_other,
        "threads_process_start": threads_process,
        "threads_start": threads_start,
        "threads_open": threads_open,
        "threads_end": threads_end,
        "rocksdb_threads": threads_end.saturating_sub(threads_process),
        "fds_start": fds_start,
        "fds_open": fds_open,
        "fds_end": fds_end,
        "fds_by_kind": fds_by_kind,
        "files_on_disk": files,
        "sst_files": ssts,
        "wal_files": wals,
        "disk_mib": mib(disk_bytes),
        "per_cf_template": tpl.per_cf_bytes.iter().map(|(n, c, b)| json!({"cf": n, "puts": c, "bytes": b})).collect::<Vec<_>>(),
    });
    drop(views);
    drop(stores);
    drop(segments);
    drop(dir);
    figures
}

// ---------------------------------------------------------------------------------------------
// The comparison (parent process)

fn parent(args: &Args) {
    let exe = std::env::current_exe().expect("own executable");
    let mut schedule: Vec<(usize, String, usize)> = Vec::new();
    for rep in 1..=args.repeat {
        if args.baseline {
            schedule.push((rep, "a".into(), 1));
        }
        for l in &args.layouts {
            schedule.push((rep, l.clone(), args.groups));
        }
    }
    let machine = machine();
    eprintln!("group_storage: {} runs on {machine}", schedule.len());
    let mut runs: Vec<(usize, Value)> = Vec::new();
    for (rep, layout, groups) in &schedule {
        // Writeback of the previous run's files would land in this one's fsyncs.
        let _ = Command::new("sync").status();
        let mut cmd = Command::new(&exe);
        cmd.args(["--child", layout])
            .args(["--groups", &groups.to_string()])
            .args(["--blocks", &args.blocks.to_string()])
            .args(["--txs", &args.txs.to_string()])
            .args(["--write-buffer-mib", &args.write_buffer_mib.to_string()])
            .args(["--block-cache-mib", &args.block_cache_mib.to_string()]);
        if !args.segments {
            cmd.arg("--no-segments");
        }
        let out = cmd.output().expect("child runs");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            panic!("run {rep} {layout} G={groups} failed: {}", out.status);
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(line.trim()).expect("child prints JSON");
        eprintln!(
            "  run {rep} {layout:>8} G={groups}: {:.0} blocks/s, {:.0} tx/s",
            v["blocks_per_s"].as_f64().unwrap_or(0.0),
            v["tx_per_s"].as_f64().unwrap_or(0.0)
        );
        runs.push((*rep, v));
    }
    print_tables(args, &machine, &runs);
    if let Some(path) = &args.json {
        let doc = json!({
            "machine": machine,
            "args": format!("{args:?}"),
            "runs": runs.iter().map(|(rep, v)| json!({"rep": rep, "figures": v})).collect::<Vec<_>>(),
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&doc).expect("json") + "\n",
        )
        .expect("json written");
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown cpu")
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = mem
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / (1024.0 * 1024.0);
    format!("{cpus} x {model}, {mem_gib:.1} GiB")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn print_tables(args: &Args, machine: &str, runs: &[(usize, Value)]) {
    let Some((_, first)) = runs.first() else {
        return;
    };
    println!(
        "group_storage: {} tx/block, {} blocks per group and run, segments {}, write buffer {} MiB/CF, block cache {} MiB/db; {machine}",
        args.txs,
        args.blocks,
        if args.segments { "on" } else { "off" },
        args.write_buffer_mib,
        args.block_cache_mib
    );
    println!(
        "per block: {} B of keys+values in {} puts ({} B batch), segment record {} B",
        first["user_bytes_per_block"],
        first["per_cf_template"].as_array().map_or(0, |a| a
            .iter()
            .map(|c| c["puts"].as_u64().unwrap_or(0))
            .sum::<u64>()),
        first["batch_bytes_per_block"],
        first["record_bytes_per_block"]
    );
    if let Some(cfs) = first["per_cf_template"].as_array() {
        let parts: Vec<String> = cfs
            .iter()
            .map(|c| {
                format!(
                    "{} {}×/{} B",
                    c["cf"].as_str().unwrap_or("?"),
                    c["puts"],
                    c["bytes"]
                )
            })
            .collect();
        println!("  {}", parts.join(", "));
    }
    println!();
    println!("| run | layout | G | load | dbs / CFs | blocks/s | tx/s | CPU ms/block | commit p50 / p99 ms | WAL syncs / blocks | RSS at open / end MiB | memtables MiB | table readers KiB | block cache used / cap MiB | WA proc io | WA rocksdb (WAL+flush+compact) | threads (RocksDB) | open fds (dirs) | files | flush / compaction MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (rep, v) in runs {
        let blocks =
            v["groups"].as_u64().unwrap_or(0) * v["blocks_per_group"].as_u64().unwrap_or(0);
        println!(
            "| {rep} | {} | {} | {:.1} | {} / {} | {:.0} | {:.0} | {:.1} | {:.1} / {:.1} | {} / {blocks} | {:.0} / {:.0} | {:.1} | {:.0} | {:.1} / {} | {:.3} | {:.3} | {} ({}) | {} ({}) | {} | {:.0} / {:.0} |",
            v["layout"].as_str().unwrap_or("?"),
            v["groups"],
            f(v, "load1_at_start"),
            v["databases"],
            v["column_families"],
            f(v, "blocks_per_s"),
            f(v, "tx_per_s"),
            f(v, "cpu_ms_per_block"),
            f(v, "commit_ms_p50"),
            f(v, "commit_ms_p99"),
            v["wal_syncs"],
            f(v, "rss_open_growth_mib"),
            f(v, "rss_growth_mib"),
            f(v, "memtables_mib"),
            f(v, "table_readers_kib"),
            f(v, "block_cache_usage_mib"),
            v["block_cache_capacity_mib"],
            f(v, "wa_proc_io"),
            f(v, "wa_rocksdb"),
            v["threads_end"],
            v["rocksdb_threads"],
            v["fds_end"],
            v["fds_by_kind"]["dirs"],
            v["files_on_disk"],
            f(v, "flush_mib"),
            f(v, "compaction_mib"),
        );
    }
    // B / A within each repetition, for the runs with G groups.
    let a_of = |rep: usize| {
        runs.iter().find(|(r, v)| {
            *r == rep && v["layout"] == "a" && v["groups"].as_u64() == Some(args.groups as u64)
        })
    };
    println!();
    println!("| run | ratio | tx/s | CPU/block | commit p50 | RSS growth | memtables | WA proc io | WAL syncs | threads | open fds |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (rep, v) in runs {
        if v["layout"] == "a" {
            continue;
        }
        let Some((_, a)) = a_of(*rep) else { continue };
        let r = |k: &str| f(v, k) / f(a, k);
        println!(
            "| {rep} | {} / a | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            v["layout"].as_str().unwrap_or("?"),
            r("tx_per_s"),
            r("cpu_ms_per_block"),
            r("commit_ms_p50"),
            r("rss_growth_mib"),
            r("memtables_mib"),
            r("wa_proc_io"),
            r("wal_syncs"),
            r("threads_end"),
            r("fds_end"),
        );
    }
}
