use super::*;

fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn cache() -> StateCache {
    StateCache::new(1 << 20).expect("enabled")
}

fn acct(balance: u64) -> Option<Account> {
    Some(Account::with_balance(U256::from(balance)))
}

fn miss<V: std::fmt::Debug>(l: Lookup<V>) -> Ticket {
    match l {
        Lookup::Miss(t) => t,
        Lookup::Hit(v) => panic!("expected a miss, hit {v:?}"),
    }
}

fn hit<V>(l: Lookup<V>) -> V {
    match l {
        Lookup::Hit(v) => v,
        Lookup::Miss(_) => panic!("expected a hit"),
    }
}

fn slots_diff(address: Address, slots: &[(u64, u64)]) -> StateDiff {
    let mut d = StateDiff::default();
    let m = d.storage.entry(address).or_default();
    for (s, v) in slots {
        m.insert(U256::from(*s), U256::from(*v));
    }
    d
}

#[test]
fn too_small_or_zero_disables() {
    assert!(StateCache::new(0).is_none());
    assert!(StateCache::new(SHARDS * STATE_CACHE_ENTRY_BYTES - 1).is_none());
    let c = StateCache::new(SHARDS * STATE_CACHE_ENTRY_BYTES).expect("one per shard");
    assert_eq!(
        c.stats().bytes_max,
        (SHARDS * STATE_CACHE_ENTRY_BYTES) as u64
    );
}

#[test]
fn negative_entries_are_cached_and_counted() {
    let c = cache();
    let t = miss(c.account(&addr(1)));
    c.fill_account(&addr(1), t, None);
    assert_eq!(hit(c.account(&addr(1))), None);
    let t = miss(c.storage(&addr(1), &U256::from(7)));
    c.fill_storage(&addr(1), &U256::from(7), t, U256::ZERO);
    assert_eq!(hit(c.storage(&addr(1), &U256::from(7))), U256::ZERO);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.entries), (2, 2, 2));
    assert_eq!(s.bytes, 2 * STATE_CACHE_ENTRY_BYTES as u64);
}

#[test]
fn a_fill_read_before_a_commit_is_dropped_after_it() {
    let c = cache();
    // The reader misses and reads the old value; the commit lands and writes through.
    let t = miss(c.account(&addr(1)));
    let mut d = StateDiff::default();
    d.accounts.insert(addr(1), acct(2));
    c.apply(&d);
    c.fill_account(&addr(1), t, acct(1));
    assert_eq!(hit(c.account(&addr(1))), acct(2));

    // Same for a key the commit deletes: the stale fill must not resurrect it.
    let t = miss(c.storage(&addr(2), &U256::from(1)));
    c.apply(&slots_diff(addr(2), &[(1, 0)]));
    c.fill_storage(&addr(2), &U256::from(1), t, U256::from(9));
    assert_eq!(hit(c.storage(&addr(2), &U256::from(1))), U256::ZERO);
}

#[test]
fn a_fill_that_lands_before_the_commit_is_overwritten() {
    let c = cache();
    let t = miss(c.account(&addr(1)));
    c.fill_account(&addr(1), t, acct(1));
    let mut d = StateDiff::default();
    d.accounts.insert(addr(1), None);
    c.apply(&d);
    assert_eq!(hit(c.account(&addr(1))), None);
}

#[test]
fn a_wipe_invalidates_every_cached_slot_of_the_address() {
    let c = cache();
    let a = addr(3);
    for s in 0..50u64 {
        let t = miss(c.storage(&a, &U256::from(s)));
        c.fill_storage(&a, &U256::from(s), t, U256::from(s + 100));
    }
    // Another address's slots and the account itself survive.
    let t = miss(c.storage(&addr(4), &U256::from(1)));
    c.fill_storage(&addr(4), &U256::from(1), t, U256::from(1));
    let t = miss(c.account(&a));
    c.fill_account(&a, t, acct(5));

    let mut d = slots_diff(a, &[(1, 42)]);
    d.wiped_storage.insert(a);
    c.apply(&d);
    assert_eq!(hit(c.storage(&a, &U256::from(1))), U256::from(42));
    for s in (0..50u64).filter(|s| *s != 1) {
        let t = miss(c.storage(&a, &U256::from(s)));
        c.fill_storage(&a, &U256::from(s), t, U256::ZERO);
        assert_eq!(hit(c.storage(&a, &U256::from(s))), U256::ZERO);
    }
    assert_eq!(hit(c.storage(&addr(4), &U256::from(1))), U256::from(1));
    assert_eq!(hit(c.account(&a)), acct(5));
}

#[test]
fn a_fill_read_before_a_wipe_is_dropped() {
    let c = cache();
    let a = addr(5);
    let t = miss(c.storage(&a, &U256::from(1)));
    let mut d = StateDiff::default();
    d.wiped_storage.insert(a);
    c.apply(&d);
    c.fill_storage(&a, &U256::from(1), t, U256::from(8));
    let _ = miss(c.storage(&a, &U256::from(1)));
}

#[test]
fn many_wipes_drop_the_invalidated_slots_and_stay_bounded() {
    let c = cache();
    let n = WIPES_PER_SHARD_MAX as u8 + 1;
    for i in 0..n {
        let t = miss(c.storage(&addr(i), &U256::from(1)));
        c.fill_storage(&addr(i), &U256::from(1), t, U256::from(1));
    }
    assert_eq!(c.stats().entries, u64::from(n));
    for i in 0..n {
        let mut d = StateDiff::default();
        d.wiped_storage.insert(addr(i));
        c.apply(&d);
    }
    // Each shard forgot its wipes once it had recorded more than the bound, dropping
    // every slot they invalidated.
    assert_eq!(c.stats().entries, 0);
    for shard in c.shards.iter() {
        let s = shard.lock();
        assert!(s.wipes.is_empty(), "{}", s.wipes.len());
        assert_eq!(s.clock.len(), s.map.len());
    }
    for i in 0..n {
        let _ = miss(c.storage(&addr(i), &U256::from(1)));
    }
}

#[test]
fn clock_gives_referenced_entries_a_second_chance() {
    let mut s = Shard::new(2);
    let (a, b, c) = (
        Key::Account(addr(1)),
        Key::Account(addr(2)),
        Key::Account(addr(3)),
    );
    let get = |v: &Value| Some(v.clone());
    s.put(a, Value::Account(None));
    s.put(b, Value::Account(None));
    assert!(s.lookup(&a, get).is_some());
    s.put(c, Value::Account(None));
    assert!(s.map.contains_key(&a) && s.map.contains_key(&c));
    assert!(!s.map.contains_key(&b));
    assert_eq!(s.clock.len(), 2);
}

#[test]
fn entries_never_exceed_the_bound() {
    let c = StateCache::new(SHARDS * STATE_CACHE_ENTRY_BYTES * 3).expect("enabled");
    let bytes_max = c.stats().bytes_max;
    for i in 0..2000u64 {
        let t = miss(c.storage(&addr(1), &U256::from(i)));
        c.fill_storage(&addr(1), &U256::from(i), t, U256::from(i));
        if i % 3 == 0 {
            c.apply(&slots_diff(addr(2), &[(i, i), (i + 1, i)]));
        }
        assert!(c.stats().bytes <= bytes_max);
    }
    assert!(c.stats().entries <= 3 * SHARDS as u64);
}

#[test]
fn clear_forgets_everything_and_drops_pending_fills() {
    let c = cache();
    let t0 = miss(c.account(&addr(1)));
    c.fill_account(&addr(1), t0, acct(1));
    let t = miss(c.account(&addr(2)));
    c.clear();
    c.fill_account(&addr(2), t, acct(2));
    assert_eq!(c.stats().entries, 0);
    let _ = miss(c.account(&addr(1)));
    let _ = miss(c.account(&addr(2)));
}

// docs/memory-budget.md states about 0.5 KiB per entry (461 B on x86_64).
const _: () = assert!(STATE_CACHE_ENTRY_BYTES <= 512);
const _: () = assert!(STATE_CACHE_ENTRY_BYTES >= size_of::<(Key, Cached)>());
