//! A deterministic in-memory 3-node Raft cluster (spec/raft.md RAFT-S1, S5, L1): a FIFO loop
//! carries every output to its destination, timers fire only when the test says so, and a
//! crashed node loses its volatile state and restarts from its last `Persist` and its
//! committed head.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bcos_consensus::raft::{decode_certificate, Role};
use bcos_consensus::{
    Decision, Input, NodeIndex, Output, Proposal, Protocol, Raft, RaftConfig, RaftDurable, RaftMsg,
    RaftTimer,
};
use bcos_types::{Height, B256};

const N: u32 = 3;

struct Cluster {
    nodes: Vec<Raft>,
    down: BTreeSet<NodeIndex>,
    queue: VecDeque<(NodeIndex, NodeIndex, RaftMsg)>,
    decisions: BTreeMap<NodeIndex, Vec<Decision>>,
    durable: BTreeMap<NodeIndex, RaftDurable>,
}

impl Cluster {
    fn new() -> Self {
        Cluster {
            nodes: (0..N)
                .map(|me| Raft::new(RaftConfig::new(N, me), 0).unwrap())
                .collect(),
            down: BTreeSet::new(),
            queue: VecDeque::new(),
            decisions: BTreeMap::new(),
            durable: BTreeMap::new(),
        }
    }

    fn input(&mut self, at: NodeIndex, input: Input<RaftMsg, RaftTimer>) {
        if self.down.contains(&at) {
            return;
        }
        let out = self.nodes[at as usize].handle(input);
        self.apply(at, out);
    }

    fn apply(&mut self, at: NodeIndex, out: Vec<Output<RaftMsg, RaftTimer, RaftDurable>>) {
        let mut persisted = false;
        for o in out {
            match o {
                Output::Persist(d) => {
                    persisted = true;
                    self.durable.insert(at, d);
                }
                Output::Broadcast(m) => {
                    for to in (0..N).filter(|to| *to != at) {
                        self.queue.push_back((at, to, m.clone()));
                    }
                }
                Output::Send { to, msg } => self.queue.push_back((at, to, msg)),
                Output::Commit(d) => {
                    let mine = self.decisions.entry(at).or_default();
                    let expect = mine.last().map_or(1, |p| p.height + 1);
                    assert_eq!(d.height, expect, "node {at} commits in height order");
                    mine.push(d);
                }
                Output::SetTimer { .. } | Output::CancelTimer(_) => {}
                Output::Evidence { .. } => panic!("Raft produces no evidence"),
            }
            // Whatever changed term, vote or log was persisted before this batch's sends.
            let cur = self.nodes[at as usize].state().durable();
            if persisted || cur.term > 0 {
                assert_eq!(
                    self.durable.get(&at),
                    Some(&cur),
                    "node {at} sends unpersisted state"
                );
            }
        }
    }

    fn run(&mut self) {
        let mut steps = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 10_000, "message loop does not quiesce");
            if self.down.contains(&from) {
                continue;
            }
            self.input(to, Input::Message { from, msg });
        }
    }

    fn fire(&mut self, at: NodeIndex, t: RaftTimer) {
        self.input(at, Input::Timeout(t));
        self.run();
    }

    /// The leader proposes as long as it may, one block per round trip.
    fn seal(&mut self, leader: NodeIndex, upto: Height) {
        loop {
            let l = &self.nodes[leader as usize];
            let h = l.next_height();
            if !l.may_propose() || h > upto {
                break;
            }
            let p = Proposal {
                height: h,
                block_hash: B256::repeat_byte(h as u8),
            };
            self.input(leader, Input::Propose(p));
            self.run();
        }
        self.fire(leader, RaftTimer::Heartbeat);
    }

    fn heights(&self, at: NodeIndex) -> Vec<Height> {
        self.decisions
            .get(&at)
            .map(|d| d.iter().map(|x| x.height).collect())
            .unwrap_or_default()
    }

    fn crash(&mut self, at: NodeIndex) {
        self.down.insert(at);
    }

    fn restart(&mut self, at: NodeIndex) {
        let head = self.heights(at).last().copied().unwrap_or(0);
        let mut r =
            Raft::restore(RaftConfig::new(N, at), head, self.durable.get(&at).cloned()).unwrap();
        self.down.remove(&at);
        let out = r.resume();
        self.nodes[at as usize] = r;
        self.apply(at, out);
    }

    fn assert_agreement(&self) {
        let mut seen: BTreeMap<Height, B256> = BTreeMap::new();
        for d in self.decisions.values().flatten() {
            assert_eq!(*seen.entry(d.height).or_insert(d.block_hash), d.block_hash);
        }
    }
}

#[test]
fn elects_one_leader_replicates_and_commits() {
    let mut c = Cluster::new();
    c.fire(0, RaftTimer::Election);
    let roles: Vec<Role> = c.nodes.iter().map(|n| n.role()).collect();
    assert_eq!(roles, vec![Role::Leader, Role::Follower, Role::Follower]);
    assert!(c
        .nodes
        .iter()
        .all(|n| n.leader() == Some(0) && n.term() == 1));
    c.seal(0, 3);
    for i in 0..N {
        assert_eq!(c.heights(i), vec![1, 2, 3], "node {i}");
    }
    let d = &c.decisions[&1][2];
    assert_eq!(
        decode_certificate(&d.certificate).map(|p| (p.term, p.index)),
        Some((1, 3))
    );
    c.assert_agreement();
}

#[test]
fn leader_crash_elects_a_new_leader_and_a_restarted_node_catches_up() {
    let mut c = Cluster::new();
    c.fire(0, RaftTimer::Election);
    c.seal(0, 2);
    c.crash(0);
    // A proposal the old leader appended but never sent is lost with it.
    c.fire(1, RaftTimer::Election);
    assert_eq!((c.nodes[1].role(), c.nodes[1].term()), (Role::Leader, 2));
    c.seal(1, 4);
    assert_eq!(c.heights(1), vec![1, 2, 3, 4]);
    assert_eq!(c.heights(2), vec![1, 2, 3, 4]);
    c.restart(0);
    assert_eq!(c.nodes[0].role(), Role::Follower);
    c.fire(1, RaftTimer::Heartbeat);
    assert_eq!(
        c.heights(0),
        vec![1, 2, 3, 4],
        "the restarted node caught up"
    );
    assert_eq!(c.nodes[0].leader(), Some(1));
    c.seal(1, 5);
    assert!(c.decisions.values().all(|d| d.len() == 5));
    c.assert_agreement();
}

#[test]
fn a_split_vote_resolves_in_a_later_term() {
    let mut c = Cluster::new();
    // Nodes 0 and 1 campaign in term 1 at once: node 2 votes for the first request only.
    c.input(0, Input::Timeout(RaftTimer::Election));
    c.input(1, Input::Timeout(RaftTimer::Election));
    c.run();
    let leaders = c.nodes.iter().filter(|n| n.role() == Role::Leader).count();
    assert_eq!(leaders, 1, "exactly one leader of term 1");
    c.fire(1, RaftTimer::Election);
    assert_eq!((c.nodes[1].role(), c.nodes[1].term()), (Role::Leader, 2));
    c.seal(1, 2);
    assert!(c.decisions.values().all(|d| d.len() == 2));
}
