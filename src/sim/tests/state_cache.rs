//! The state cache under the simulator (issue 15: "never a source of divergence: the
//! simulator's state-root checker runs with it"; spec/durability.md §2.1). Every node's
//! store is a MemStore behind `bcos_storage::CachedStore` with one entry per shard, so
//! the cache evicts and refills all the time while every checker (agreement on hash, state
//! root and receipts root per height, durability across crashes, the settlement checker's
//! storage and balance reads, ...) runs. The same seeds run without the cache and with one
//! that never evicts: the trace hash, which closes over every block hash (state roots
//! included), every head and every violation, must not change, and the small cache must
//! miss more than the large one (the extra misses are refills of evicted entries).

use bcos_sim::config::{Protocol, SimConfig};
use bcos_sim::settlement::SettlementSpec;
use bcos_sim::Report;

/// Virtual ms of the faulty phase (the CLI's default is 10,000).
const TICKS: u64 = 4_000;
/// Entries per shard of the small cache (64 shards: 64 entries per store), the default.
const SMALL: usize = bcos_sim::config::STATE_CACHE_ENTRIES_DEFAULT;
/// Entries per shard of a cache that never evicts in these runs.
const LARGE: usize = 4_096;

fn with_cache(mut cfg: SimConfig, entries: usize) -> Report {
    cfg.state_cache_entries = entries;
    bcos_sim::run(&cfg).expect("the run starts")
}

/// Runs `cfg` with the small cache, without one and with the large one; returns the small
/// run's report after checking what the three must share.
fn check(cfg: SimConfig) -> Report {
    let what = cfg.replay_command();
    let small = with_cache(cfg.clone(), SMALL);
    assert!(
        small.passed(),
        "{what} failed with the state cache:\n{small}"
    );
    assert!(small.height > 0, "{what} committed nothing");
    let sc = small.state_cache;
    assert!(sc.hits > 0 && sc.misses > 0, "{what}: cache unused: {sc:?}");
    assert!(sc.bytes <= sc.bytes_max, "{what}: over its bound: {sc:?}");

    let bare = with_cache(cfg.clone(), 0);
    assert!(bare.passed(), "{what} failed without the cache:\n{bare}");
    assert_eq!(bare.state_cache, Default::default());
    let large = with_cache(cfg, LARGE);
    assert!(large.passed(), "{what} failed with a large cache:\n{large}");
    for other in [&bare, &large] {
        assert_eq!(
            small.trace_hash, other.trace_hash,
            "{what}: the state cache changed the run"
        );
        assert_eq!(small.height, other.height);
    }
    // The same reads in the same order: the small cache holds a subset of what the large
    // one holds, so it misses at least as often, and more once it evicted a key read again.
    let lc = large.state_cache;
    assert_eq!(
        sc.hits + sc.misses,
        lc.hits + lc.misses,
        "{what}: reads differ"
    );
    assert!(
        sc.misses > lc.misses,
        "{what}: no refill after an eviction: small {sc:?}, large {lc:?}"
    );
    println!(
        "{what}: height {}, {} txs ({} deploys, {} calls), {} crashes; small cache: {} hits, {} \
         misses, {} of {} entries held; large cache: {} hits, {} misses (refills after \
         eviction: {})",
        small.height,
        small.client.created,
        small.client.deploys,
        small.client.calls,
        small.crashes,
        sc.hits,
        sc.misses,
        sc.entries,
        sc.bytes_max / bcos_storage::STATE_CACHE_ENTRY_BYTES as u64,
        lc.hits,
        lc.misses,
        sc.misses - lc.misses
    );
    small
}

fn single(protocol: Protocol, seed: u64) -> SimConfig {
    let mut cfg = SimConfig::new(protocol, 4, seed);
    cfg.ticks = TICKS;
    cfg
}

/// Transfers (to dev accounts and fresh addresses), counter deployments and calls (each
/// call writes the counter's slot 0), under each seed's faults.
#[test]
fn pbft_and_raft_agree_with_a_small_state_cache() {
    let mut deploys_and_calls = (0, 0);
    let mut crashes = 0;
    for (protocol, seed) in [
        (Protocol::Pbft, 0),
        (Protocol::Pbft, 1),
        (Protocol::Raft, 0),
        (Protocol::Raft, 1),
    ] {
        let r = check(single(protocol, seed));
        deploys_and_calls.0 += r.client.deploys;
        deploys_and_calls.1 += r.client.calls;
        crashes += r.crashes;
    }
    assert!(
        deploys_and_calls.0 > 0 && deploys_and_calls.1 > 0,
        "no contract storage written: {deploys_and_calls:?}"
    );
    // A crash empties the node's cache (DUR-R7), so restarts read cold.
    assert!(crashes > 0, "the seeds crashed no node");
}

/// Settlement: the system contracts write storage on both chains, and the settlement
/// checker reads it (and balances) through the cache after every step.
#[test]
fn settlement_holds_with_a_small_state_cache() {
    let mut cfg = SimConfig::with_settlement(4, 0, 1, SettlementSpec::default());
    cfg.ticks = TICKS;
    let r = check(cfg);
    let s = r.settlement.as_ref().expect("a settlement run");
    assert!(s.records_credited() > 0, "nothing credited:\n{r}");
}
