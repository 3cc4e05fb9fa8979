//! High-frequency-account settlement under simulation (issue 14, spec/settlement.md): a
//! merchant chain (group 0) and user chains on the same four simulated nodes, with the
//! settlement contracts the node installs, simulated payers, a settler, an honest and a
//! Byzantine relayer, and the run's seeded faults. After every step the settlement checker
//! holds exactly-once in order, conservation and no credit beyond what was settled.

use bcos_settlement::SeededBug;
use bcos_sim::checkers::Violation;
use bcos_sim::config::SimConfig;
use bcos_sim::settlement::checker::{EXACTLY_ONCE, NOT_BEYOND_SETTLED, PRODUCED_ONLY};
use bcos_sim::settlement::{RelayerKind, SettlementSpec};
use bcos_sim::{GroupVerdict, Report, Verdict};

/// Virtual ms of the faulty phase (the CLI's default is 10,000).
const TICKS: u64 = 3_000;
/// Between them (seed, user chains): drops, duplicates, delays, partitions, isolations,
/// crashes and crashes right after a step, on the chains and on the clients' links.
const SEEDS: [(u64, u32); 5] = [(0, 1), (1, 1), (2, 1), (3, 2), (4, 2)];

fn config(seed: u64, user_chains: u32, spec: SettlementSpec) -> SimConfig {
    let mut cfg = SimConfig::with_settlement(4, seed, user_chains, spec);
    cfg.ticks = TICKS;
    cfg
}

fn run(cfg: &SimConfig) -> Report {
    bcos_sim::run(cfg).expect("the run starts")
}

#[test]
fn faulty_runs_credit_every_payment_exactly_once() {
    let (mut faults, mut crashes, mut credited, mut refused) = (0, 0, 0, 0);
    for (seed, users) in SEEDS {
        let r = run(&config(seed, users, SettlementSpec::default()));
        assert!(r.passed(), "seed {seed} did not pass:\n{r}");
        let s = r.settlement.as_ref().expect("a settlement report");
        assert_eq!(s.chains.len(), users as usize);
        assert!(s.payments() > 0, "seed {seed}: no payment committed:\n{r}");
        assert!(
            s.records_credited() > 0,
            "seed {seed}: nothing credited:\n{r}"
        );
        // XS-L1 with an honest relayer: once faults stopped, everything paid arrived.
        assert!(s.complete_after_ms.is_some(), "seed {seed}:\n{r}");
        for c in &s.chains {
            assert!(c.proxy.is_zero(), "seed {seed}: chain {}:\n{r}", c.chain_id);
            assert_eq!(
                c.credited, c.paid,
                "seed {seed}: chain {}:\n{r}",
                c.chain_id
            );
            assert_eq!(c.credited_records, c.records, "seed {seed}:\n{r}");
        }
        let paid = s
            .chains
            .iter()
            .fold(bcos_types::U256::ZERO, |a, c| a + c.paid);
        assert_eq!(s.merchant_balance, paid, "seed {seed}:\n{r}");
        for g in &r.groups {
            assert_eq!(g.verdict, GroupVerdict::Pass, "seed {seed}:\n{r}");
        }
        faults += r.faults_injected();
        crashes += r.crashes;
        credited += s.records_credited();
        refused += s.refused();
    }
    assert!(faults > 0 && crashes > 0, "the seeds injected no faults");
    assert!(credited >= 10, "only {credited} records credited");
    assert!(
        refused > 0,
        "the merchant chain refused nothing: the Byzantine relayer never got through"
    );
}

#[test]
fn without_a_relayer_nothing_is_credited_and_the_run_is_inconclusive() {
    let spec = SettlementSpec {
        relayers: Vec::new(),
        bug: None,
    };
    let r = run(&config(1, 1, spec));
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r}");
    assert!(!r.passed() && !r.failed(), "{r}");
    assert!(r.violations.is_empty(), "{r}");
    let s = r.settlement.as_ref().expect("a settlement report");
    assert_eq!(s.records_credited(), 0);
    assert!(s.payments() > 0, "{r}");
    assert!(r.to_string().contains("INCONCLUSIVE"), "{r}");
}

#[test]
fn a_settlement_seed_replays_to_the_same_trace_hash() {
    let spec = SettlementSpec::default();
    let a = run(&config(5, 1, spec.clone()));
    let b = run(&config(5, 1, spec.clone()));
    assert_eq!(a.trace_hash, b.trace_hash, "seed 5 did not replay");
    assert_eq!(a.settlement, b.settlement);
    let c = run(&config(6, 1, spec));
    assert_ne!(a.trace_hash, c.trace_hash, "two seeds, one trace");
    assert!(a.config.replay_command().ends_with(
        "--groups 2 --group-protocols pbft,pbft --settlement --relayers honest,byzantine"
    ));
}

/// The first settlement violation of a seeded verifier bug within ten seeds.
fn found(bug: SeededBug) -> (u64, Violation, String) {
    for seed in 0..10 {
        let spec = SettlementSpec {
            bug: Some(bug),
            ..SettlementSpec::default()
        };
        let cfg = config(seed, 1, spec);
        let r = run(&cfg);
        if let Some(v) = r
            .violations
            .iter()
            .find(|v| v.property.starts_with("settlement"))
        {
            // A failure replays from its seed.
            let again = run(&cfg);
            assert_eq!(r.trace_hash, again.trace_hash, "{bug:?} seed {seed}");
            return (seed, v.clone(), r.config.replay_command());
        }
        assert!(r.passed(), "{bug:?} seed {seed} failed otherwise:\n{r}");
    }
    panic!("{bug:?} was not found in 10 seeds");
}

/// Each of the verifier's seeded bugs lets a Byzantine relayer's submission through, and
/// the property it breaks says so, on the merchant chain.
#[test]
fn seeded_verifier_bugs_are_found() {
    for (bug, properties) in [
        // A replayed record credited a second time.
        (SeededBug::NoSeqCheck, &[EXACTLY_ONCE][..]),
        // A record with a raised amount, its receipt off the receipts root.
        (
            SeededBug::SkipInclusionProof,
            &[PRODUCED_ONLY, NOT_BEYOND_SETTLED][..],
        ),
        // A made-up record under another block's certificate.
        (
            SeededBug::AcceptUnsigned,
            &[PRODUCED_ONLY, NOT_BEYOND_SETTLED][..],
        ),
    ] {
        let (seed, v, replay) = found(bug);
        assert!(properties.contains(&v.property), "{bug:?} seed {seed}: {v}");
        assert_eq!(v.group, Some(0), "{v}");
        assert!(replay.contains("--settlement-bug"), "{replay}");
    }
}

#[test]
fn an_honest_relayer_alone_suffices() {
    let spec = SettlementSpec {
        relayers: vec![RelayerKind::Honest],
        bug: None,
    };
    let r = run(&config(2, 1, spec));
    assert!(r.passed(), "{r}");
    let s = r.settlement.as_ref().expect("a settlement report");
    assert!(
        s.records_credited() > 0 && s.complete_after_ms.is_some(),
        "{r}"
    );
}
