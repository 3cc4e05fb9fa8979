//! A deterministic in-memory 4-node PBFT cluster (spec/pbft.md PBFT-S1 … S3, L1, L2): a
//! FIFO loop carries every output to its destination, "execution" answers each delivered
//! proposal at once with roots derived from the block hash, and timers fire only when the
//! test says so.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bcos_consensus::pbft::{Commit, CommitBody, CommitCert, PrePrepare, Prepare};
use bcos_consensus::{
    Decision, ExecutedRoots, Input, NodeIndex, Output, Pbft, PbftConfig, PbftMsg, PbftTimer,
    Proposal, Protocol, SeededBug,
};
use bcos_types::{Height, B256};

const N: u32 = 4;

fn hash(b: u8) -> B256 {
    B256::repeat_byte(b)
}

fn body(block_hash: B256) -> CommitBody {
    let mut s = block_hash;
    s.0[0] ^= 0x55;
    let mut r = block_hash;
    r.0[0] ^= 0xaa;
    CommitBody {
        block_hash,
        state_root: s,
        receipts_root: r,
    }
}

type DropFn = Box<dyn Fn(NodeIndex, NodeIndex, &PbftMsg) -> bool>;

struct Cluster {
    nodes: Vec<Pbft>,
    /// Nodes not run by a core (a Byzantine node the test scripts by hand).
    scripted: BTreeSet<NodeIndex>,
    queue: VecDeque<(NodeIndex, NodeIndex, PbftMsg)>,
    decisions: BTreeMap<NodeIndex, Vec<Decision>>,
    evidence: Vec<(NodeIndex, NodeIndex)>,
    timers: BTreeMap<NodeIndex, BTreeSet<PbftTimer>>,
    drop: DropFn,
}

impl Cluster {
    fn new(bug: Option<SeededBug>) -> Self {
        let nodes = (0..N)
            .map(|me| {
                let mut cfg = PbftConfig::new(N, me);
                cfg.bug = bug;
                Pbft::new(cfg, 1).unwrap()
            })
            .collect();
        Cluster {
            nodes,
            scripted: BTreeSet::new(),
            queue: VecDeque::new(),
            decisions: BTreeMap::new(),
            evidence: Vec::new(),
            timers: BTreeMap::new(),
            drop: Box::new(|_, _, _| false),
        }
    }

    fn input(&mut self, at: NodeIndex, input: Input<PbftMsg, PbftTimer>) {
        if self.scripted.contains(&at) {
            return;
        }
        let out = self.nodes[at as usize].handle(input);
        self.apply(at, out);
    }

    fn apply(
        &mut self,
        at: NodeIndex,
        out: Vec<Output<PbftMsg, PbftTimer, bcos_consensus::PbftDurable>>,
    ) {
        for o in out {
            match o {
                Output::Persist(_) => {}
                Output::Broadcast(m) => {
                    for to in (0..N).filter(|to| *to != at) {
                        self.queue.push_back((at, to, m.clone()));
                    }
                }
                Output::Send { to, msg } => self.queue.push_back((at, to, msg)),
                Output::SetTimer { timer, .. } => {
                    self.timers.entry(at).or_default().insert(timer);
                }
                Output::CancelTimer(t) => {
                    self.timers.entry(at).or_default().remove(&t);
                }
                Output::Commit(d) => self.decisions.entry(at).or_default().push(d),
                Output::Evidence { culprit, .. } => self.evidence.push((at, culprit)),
            }
        }
    }

    /// Delivers queued messages in FIFO order until none is left. A delivered proposal is
    /// executed at once (the driver's job in a real node).
    fn run(&mut self) {
        let mut steps = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "message loop does not quiesce");
            if (self.drop)(from, to, &msg) {
                continue;
            }
            let executes = match &msg {
                PbftMsg::PrePrepare(pp) => Some((pp.height, pp.block_hash)),
                PbftMsg::NewView(nv) => nv.reproposal.map(|b| (nv.height, b)),
                _ => None,
            };
            self.input(to, Input::Message { from, msg });
            if let Some((height, block_hash)) = executes {
                self.execute(to, height, block_hash);
            }
        }
    }

    fn execute(&mut self, at: NodeIndex, height: Height, block_hash: B256) {
        let b = body(block_hash);
        self.input(
            at,
            Input::Executed(ExecutedRoots {
                height,
                block_hash,
                state_root: b.state_root,
                receipts_root: b.receipts_root,
            }),
        );
    }

    /// The leader of the node's current (height, view) seals, executes and proposes.
    fn propose(&mut self, leader: NodeIndex, block_hash: B256) {
        let height = self.nodes[leader as usize].next_height();
        assert!(
            self.nodes[leader as usize].may_propose(),
            "node {leader} may not propose"
        );
        self.input(leader, Input::Propose(Proposal { height, block_hash }));
        self.execute(leader, height, block_hash);
    }

    /// Fires every timer armed at the given nodes.
    fn fire_timers(&mut self, at: &[NodeIndex]) {
        for &i in at {
            for t in self.timers.remove(&i).unwrap_or_default() {
                self.input(i, Input::Timeout(t));
            }
        }
    }

    fn decided(&self, at: NodeIndex, height: Height) -> Option<B256> {
        self.decisions
            .get(&at)?
            .iter()
            .find(|d| d.height == height)
            .map(|d| d.block_hash)
    }

    /// PBFT-S1 over everything decided so far: one block per height among `honest`.
    fn agreement(&self, honest: &[NodeIndex]) -> bool {
        let mut per_height: BTreeMap<Height, BTreeSet<B256>> = BTreeMap::new();
        for i in honest {
            for d in self.decisions.get(i).into_iter().flatten() {
                per_height.entry(d.height).or_default().insert(d.block_hash);
            }
        }
        per_height.values().all(|s| s.len() == 1)
    }
}

#[test]
fn four_nodes_commit_the_same_blocks_and_then_idle() {
    let mut c = Cluster::new(None);
    for (height, block) in [(1u64, hash(0x11)), (2, hash(0x22))] {
        let leader = ((height) % u64::from(N)) as NodeIndex;
        c.propose(leader, block);
        c.run();
        for i in 0..N {
            assert_eq!(
                c.decided(i, height),
                Some(block),
                "node {i} height {height}"
            );
            assert_eq!(c.nodes[i as usize].next_height(), height + 1);
        }
    }
    for d in c.decisions.values().flatten() {
        let cert = CommitCert::decode(&d.certificate).unwrap();
        assert!(
            cert.voters.len() >= 3 && cert.body == body(d.block_hash) && cert.height == d.height
        );
    }
    assert!(c.evidence.is_empty());
    // No work: no timer anywhere, so an idle cluster neither seals nor changes views.
    assert!(
        c.timers.values().all(BTreeSet::is_empty),
        "timers left: {:?}",
        c.timers
    );
}

#[test]
fn silent_leader_is_replaced_and_the_next_leader_commits() {
    let mut c = Cluster::new(None);
    // Node 1 leads (1, 0) and says nothing.
    c.drop = Box::new(|from, _, _| from == 1);
    // The other sealers have transactions: pending work arms their view timers.
    for i in [0, 2, 3] {
        c.input(
            i,
            Input::Propose(Proposal {
                height: 1,
                block_hash: hash(0xee),
            }),
        );
    }
    assert!([0, 2, 3].iter().all(|i| !c.timers[i].is_empty()));
    c.fire_timers(&[0, 2, 3]);
    c.run();
    // Node 2 leads (1, 1); with no prepared block it proposes a fresh one.
    assert_eq!(c.nodes[2].view(), 1);
    c.propose(2, hash(0x21));
    c.run();
    for i in [0, 2, 3] {
        assert_eq!(c.decided(i, 1), Some(hash(0x21)), "node {i}");
    }
    assert!(c.agreement(&[0, 1, 2, 3]));
}

#[test]
fn prepared_block_survives_the_view_change() {
    let mut c = Cluster::new(None);
    // Every commit vote in view 0 is lost, and the leader falls silent after its proposal:
    // the block is prepared (and locked) everywhere but decided nowhere.
    c.drop = Box::new(|from, _, m| {
        matches!(m, PbftMsg::Commit(_))
            || (from == 1 && !matches!(m, PbftMsg::PrePrepare(_) | PbftMsg::Prepare(_)))
    });
    c.propose(1, hash(0x11));
    c.run();
    assert!(c.decisions.is_empty());
    assert!(c.nodes[0].state().lock.is_some());
    c.drop = Box::new(|from, _, _| from == 1);
    c.fire_timers(&[0, 2, 3]);
    c.run();
    // The new leader re-proposed the locked block instead of a fresh one (PBFT-S3).
    for i in [0, 2, 3] {
        assert_eq!(c.decided(i, 1), Some(hash(0x11)), "node {i}");
    }
}

/// Node 1, the leader of (1, 0), equivocates: block A to nodes 0 and 2, block B to node 3,
/// then the other block to each, with matching prepare and commit votes.
fn equivocation(bug: Option<SeededBug>) -> Cluster {
    let mut c = Cluster::new(bug);
    c.scripted.insert(1);
    let (a, b) = (hash(0xaa), hash(0xbb));
    let pp = |h| {
        PbftMsg::PrePrepare(PrePrepare {
            height: 1,
            view: 0,
            block_hash: h,
        })
    };
    let pr = |h| {
        PbftMsg::Prepare(Prepare {
            height: 1,
            view: 0,
            block_hash: h,
        })
    };
    let cm = |h| {
        PbftMsg::Commit(Commit {
            height: 1,
            view: 0,
            body: body(h),
        })
    };
    for (to, block) in [(0, a), (2, a), (3, b)] {
        c.queue.push_back((1, to, pp(block)));
        c.queue.push_back((1, to, pr(block)));
        c.queue.push_back((1, to, cm(block)));
    }
    c.run();
    for (to, block) in [(0, b), (2, b), (3, a)] {
        c.queue.push_back((1, to, pp(block)));
    }
    c.run();
    c
}

#[test]
fn equivocating_leader_yields_evidence_and_no_fork() {
    let c = equivocation(None);
    let accused: BTreeSet<NodeIndex> = c.evidence.iter().map(|(_, culprit)| *culprit).collect();
    assert_eq!(accused, BTreeSet::from([1]));
    assert!(c.evidence.iter().any(|(at, _)| *at == 3));
    assert!(c.agreement(&[0, 2, 3]));
    // A's quorum (0, 2 and the liar) decides it there; node 3 saw only two votes for A
    // and decides nothing (block sync brings it along), certainly not B.
    for i in [0, 2] {
        assert_eq!(c.decided(i, 1), Some(hash(0xaa)), "node {i}");
    }
    assert_eq!(c.decided(3, 1), None);
}

#[test]
fn seeded_quorum_bug_forks_under_the_same_attack() {
    // The scenario above has teeth: with quorums of 2f the liar and node 3 decide B alone.
    let c = equivocation(Some(SeededBug::QuorumTwoF));
    assert!(!c.agreement(&[0, 2, 3]));
}
