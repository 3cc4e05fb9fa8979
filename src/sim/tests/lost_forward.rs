//! A transaction whose one gossip forward never reached the leader (PBFT; spec/pbft.md,
//! `bcos_node::cluster::stall_forward`). The client resubmits to the node it first sent to,
//! as a wallet does (`--resubmit same`, the default), and that node answers "already
//! known", so only the stall hand-over (`cluster/pbft/forward.rs`) can bring the
//! transaction to a proposer: a lone replica's view changes form no quorum (PBFT-R9).
//!
//! Each seed here fails liveness with `self.forward_if_stalled();` taken out of
//! `PbftDriver::after_wake` (transactions only non-leaders held, never committed), and
//! passes with it; with `--resubmit other` (a random live member each time) every one of
//! them passes even without it, which is how the simulator missed the gap.

use bcos_sim::client::RESUBMIT_AFTER_MS;
use bcos_sim::config::{Protocol, Resubmit, SimConfig};

/// PBFT seeds (default `--ticks`) whose forward was lost to a dropped frame.
const DROP_SEEDS: [u64; 3] = [6, 8, 10];
/// PBFT seeds whose forward was lost to a partition (12) or to a crashed node (0).
const OTHER_LOSS_SEEDS: [u64; 2] = [12, 0];

fn run(seed: u64) -> bcos_sim::Report {
    let cfg = SimConfig::new(Protocol::Pbft, 4, seed);
    assert_eq!(
        cfg.resubmit,
        Resubmit::Same,
        "the wallet-like client is the default"
    );
    bcos_sim::run(&cfg).expect("the run starts")
}

/// The run passes, and it reached the situation: a resubmission went back to the node
/// that first had the transaction and was refused there (it held it), and some
/// transaction waited longer than a resubmission period before its receipt.
fn assert_handed_over(seed: u64) -> bcos_sim::Report {
    let r = run(seed);
    assert!(
        r.passed(),
        "pbft seed {seed} left a transaction behind:\n{r}"
    );
    assert!(
        r.client.refused_same_node > 0,
        "pbft seed {seed}: no resubmission was refused by the node holding it:\n{r}"
    );
    assert!(
        r.latency_ms_max > RESUBMIT_AFTER_MS,
        "pbft seed {seed}: no transaction waited past a resubmission:\n{r}"
    );
    r
}

#[test]
fn a_forward_lost_to_a_dropped_frame_is_handed_over_when_the_chain_stalls() {
    for seed in DROP_SEEDS {
        let r = assert_handed_over(seed);
        assert!(r.net.dropped > 0, "pbft seed {seed} dropped nothing:\n{r}");
    }
}

#[test]
fn a_forward_lost_to_a_partition_or_a_crash_is_handed_over_too() {
    for seed in OTHER_LOSS_SEEDS {
        let r = assert_handed_over(seed);
        assert!(
            r.net.partitioned + r.net.to_down_node > 0,
            "pbft seed {seed} cut and lost nothing:\n{r}"
        );
    }
}
