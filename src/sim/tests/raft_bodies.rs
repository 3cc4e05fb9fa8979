//! A Raft follower's room for block bodies (`BLOCKS_KEPT_MAX`, 64) must not fill with bodies
//! of heights it already passed. Raft seed 674 (4 nodes, 10,000 ticks, wallet-like
//! resubmission) kept bodies of heights 1..64 that never left (their heights were filled by
//! other blocks): every later body was refused, so nodes 0 and 1 never executed, never
//! acknowledged entry 196, and 46 transactions waited for good. Bodies at or below the head
//! now give way when the room is full (`RaftDriver::keep_block`).

use bcos_sim::config::{Protocol, SimConfig};

#[test]
fn a_body_room_full_of_passed_heights_does_not_stop_a_follower() {
    let mut cfg = SimConfig::new(Protocol::Raft, 4, 674);
    cfg.ticks = 10_000;
    let r = bcos_sim::run(&cfg).expect("the run starts");
    assert!(r.passed(), "raft seed 674:\n{r}");
    assert!(
        r.height > 195,
        "raft seed 674 stopped at {}:\n{r}",
        r.height
    );
}
