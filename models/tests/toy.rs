//! A toy propose-vote-commit protocol checked through the same adapter as the real cores:
//! nodes below `proposers` broadcast their own block; every node votes once per height for
//! the first proposal it sees (a proposer for its own), persists that vote, and commits a
//! block once `quorum` votes name it. With a majority quorum and persisted votes agreement holds;
//! the seeded bugs (quorum 1, votes not persisted across a crash) break it.

use bcos_consensus::{Input, NodeIndex, Output, Protocol};
use bcos_models::properties::{progress_possible, safety, SafetyNames};
use bcos_models::{
    equivocal, run, DurableRecord, Faults, ModelCfg, ModelCore, ModelSpec, Restarts, Role,
    RunOptions, Verdict,
};
use bcos_types::{Height, B256};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ToyMsg {
    Propose { height: Height, hash: B256 },
    Vote { height: Height, hash: B256 },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ToyTimer {
    Resend,
}

#[derive(Debug, Clone)]
struct ToyCfg {
    proposers: u32,
    quorum: usize,
    /// Seeded bug when false: the vote is not persisted, so a restarted node votes again.
    persist_vote: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Toy {
    me: NodeIndex,
    proposer: bool,
    quorum: usize,
    persist_vote: bool,
    next: Height,
    voted: Option<B256>,
    votes: BTreeMap<B256, BTreeSet<NodeIndex>>,
    /// Resends left for the current vote: bounded, or every resend adds another copy to the
    /// modelled network and the state space never closes.
    resends_left: u8,
}

const RESENDS_MAX: u8 = 1;

type Outs = Vec<Output<ToyMsg, ToyTimer, B256>>;

impl Toy {
    fn vote(&mut self, hash: B256, outs: &mut Outs) {
        self.voted = Some(hash);
        self.resends_left = RESENDS_MAX;
        self.votes.entry(hash).or_default().insert(self.me);
        if self.persist_vote {
            outs.push(Output::Persist(hash));
        }
        outs.push(Output::Broadcast(ToyMsg::Vote {
            height: self.next,
            hash,
        }));
        outs.push(Output::SetTimer {
            timer: ToyTimer::Resend,
            ticks: 1,
        });
    }

    fn try_commit(&mut self, outs: &mut Outs) {
        let decided = self
            .votes
            .iter()
            .find(|(_, v)| v.len() >= self.quorum)
            .map(|(h, _)| *h);
        if let Some(hash) = decided {
            outs.push(Output::Commit(bcos_consensus::Decision {
                height: self.next,
                block_hash: hash,
                certificate: vec![],
            }));
            outs.push(Output::CancelTimer(ToyTimer::Resend));
            self.next += 1;
            self.voted = None;
            self.votes.clear();
        }
    }
}

impl Protocol for Toy {
    type Message = ToyMsg;
    type Timer = ToyTimer;
    type Durable = B256;

    fn next_height(&self) -> Height {
        self.next
    }
    fn may_propose(&self) -> bool {
        self.proposer && self.voted.is_none()
    }
    fn handle(&mut self, input: Input<ToyMsg, ToyTimer>) -> Outs {
        let mut outs = Vec::new();
        match input {
            Input::Propose(p) if p.height == self.next && self.voted.is_none() => {
                outs.push(Output::Broadcast(ToyMsg::Propose {
                    height: p.height,
                    hash: p.block_hash,
                }));
                self.vote(p.block_hash, &mut outs);
            }
            Input::Message {
                msg: ToyMsg::Propose { height, hash },
                ..
            } if height == self.next && self.voted.is_none() => {
                self.vote(hash, &mut outs);
            }
            Input::Message {
                from,
                msg: ToyMsg::Vote { height, hash },
            } if height == self.next => {
                self.votes.entry(hash).or_default().insert(from);
            }
            Input::Timeout(ToyTimer::Resend) => {
                if let Some(hash) = self.voted.filter(|_| self.resends_left > 0) {
                    self.resends_left -= 1;
                    outs.push(Output::Broadcast(ToyMsg::Vote {
                        height: self.next,
                        hash,
                    }));
                    if self.resends_left > 0 {
                        outs.push(Output::SetTimer {
                            timer: ToyTimer::Resend,
                            ticks: 1,
                        });
                    }
                }
            }
            _ => {}
        }
        self.try_commit(&mut outs);
        outs
    }
}

impl ModelCore for Toy {
    type Config = ToyCfg;
    fn boot(cfg: &ToyCfg, me: NodeIndex, _n: u32, restored: Option<&DurableRecord<B256>>) -> Self {
        let next = restored.map_or(1, DurableRecord::next_height);
        let mut toy = Toy {
            me,
            proposer: me < cfg.proposers,
            quorum: cfg.quorum,
            persist_vote: cfg.persist_vote,
            next,
            voted: None,
            votes: BTreeMap::new(),
            resends_left: 0,
        };
        // A persisted vote for the height we resume at binds us again after a restart.
        if let Some(hash) = restored.and_then(|r| r.last) {
            if bcos_models::decode_digest(&hash).is_some_and(|(_, h, _)| h == next) {
                toy.voted = Some(hash);
                toy.votes.entry(hash).or_default().insert(me);
            }
        }
        toy
    }
    fn forge_proposal(msg: &ToyMsg) -> Option<ToyMsg> {
        match msg {
            ToyMsg::Propose { height, hash } => Some(ToyMsg::Propose {
                height: *height,
                hash: equivocal(hash),
            }),
            ToyMsg::Vote { .. } => None,
        }
    }
    fn forge_vote(msg: &ToyMsg) -> Option<ToyMsg> {
        match msg {
            ToyMsg::Vote { height, hash } => Some(ToyMsg::Vote {
                height: *height,
                hash: equivocal(hash),
            }),
            ToyMsg::Propose { .. } => None,
        }
    }
}

const S1: &str = "TOY-S1 agreement";
const S2: &str = "TOY-S2 validity";
const S3: &str = "TOY-S3 integrity";
const L1: &str = "TOY-L1 progress";

fn check(
    n: u32,
    cfg: ToyCfg,
    faults: Faults,
    byzantine: Option<(NodeIndex, Role)>,
    depth_max: Option<usize>,
) -> bcos_models::Outcome {
    let spec = ModelSpec::<Toy> {
        core: cfg,
        cfg: ModelCfg {
            n,
            byzantine,
            max_height: 1,
            bound: None,
        },
        faults,
    };
    let mut props = safety(SafetyNames {
        agreement: S1,
        validity: S2,
        integrity: S3,
    });
    props.push(progress_possible(L1));
    let model = spec.build(props);
    // A run expected to pass visits every state (for the pinned count); one expected to fail
    // stops at its first counterexample (a restarted node that forgets its vote can vote
    // again and again, so that space never closes).
    let opts = RunOptions {
        depth_max,
        threads: 1,
        stop_on_failure: true,
        ..RunOptions::default()
    };
    run(model, &opts, bcos_models::protocols::describe::<Toy>)
}

/// The same check without silent-step fusion (the unreduced model).
fn check_unfused(n: u32, cfg: ToyCfg, faults: Faults) -> bcos_models::Outcome {
    let spec = ModelSpec::<Toy> {
        core: cfg,
        cfg: ModelCfg {
            n,
            byzantine: None,
            max_height: 1,
            bound: None,
        },
        faults,
    };
    let mut model = spec.build(safety(SafetyNames {
        agreement: S1,
        validity: S2,
        integrity: S3,
    }));
    model.env.fuse_silent = false;
    let opts = RunOptions {
        threads: 1,
        ..RunOptions::default()
    };
    run(model, &opts, bcos_models::protocols::describe::<Toy>)
}

fn correct() -> ToyCfg {
    ToyCfg {
        proposers: 2,
        quorum: 2,
        persist_vote: true,
    }
}

fn reorder() -> Faults {
    Faults {
        reordering: true,
        ..Faults::default()
    }
}

/// At most `k` restarts: the unreduced model's whole space is enumerated in the fusion test,
/// and with unbounded restarts a restarted node's resends refill the reordering network
/// without end there.
fn restarts_up_to(k: u8, f: Faults) -> Faults {
    Faults {
        restarts: Restarts::UpTo(k),
        ..f
    }
}

fn restarts(f: Faults) -> Faults {
    Faults {
        restarts: Restarts::Any,
        ..f
    }
}

#[test]
fn correct_toy_holds_and_pins_its_state_count() {
    let out = check(3, correct(), reorder(), None, None);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.examples, vec![L1]);
    assert_eq!(out.unique_states, 681, "{}", out.render());
}

#[test]
fn quorum_of_one_is_caught_with_a_counterexample() {
    let cfg = ToyCfg {
        quorum: 1,
        ..correct()
    };
    let out = check(3, cfg, reorder(), None, None);
    let failure = out
        .failures
        .iter()
        .find(|f| f.property == S1)
        .unwrap_or_else(|| panic!("{}", out.render()));
    assert!(failure.steps >= 1);
    assert!(failure.trace.contains("final state"), "{}", failure.trace);
}

#[test]
fn crash_restart_with_persisted_votes_holds() {
    let out = check(3, correct(), restarts(reorder()), None, None);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.unique_states, 7_775, "{}", out.render());
}

#[test]
fn forgetting_the_vote_across_a_crash_is_caught() {
    let faults = restarts(reorder());
    let out = check(
        3,
        ToyCfg {
            persist_vote: false,
            ..correct()
        },
        faults,
        None,
        None,
    );
    let failure = out
        .failures
        .iter()
        .find(|f| f.property == S1)
        .unwrap_or_else(|| panic!("{}", out.render()));
    assert!(failure.trace.contains("RESTART"), "{}", failure.trace);
}

#[test]
fn loss_and_duplication_keep_agreement() {
    let cfg = ToyCfg {
        proposers: 1,
        ..correct()
    };
    let out = check(
        3,
        cfg,
        Faults {
            loss: true,
            duplication: true,
            reordering: true,
            restarts: Restarts::None,
        },
        None,
        None,
    );
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.unique_states, 24_561, "{}", out.render());
}

#[test]
fn silent_node_blocks_progress_but_not_safety() {
    let out = check(3, correct(), reorder(), Some((2, Role::Silent)), None);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(
        out.unreached,
        vec![L1],
        "two split proposers and a silent third cannot decide"
    );
}

#[test]
fn double_voter_cannot_split_a_two_thirds_quorum() {
    let cfg = ToyCfg {
        proposers: 1,
        quorum: 3,
        persist_vote: true,
    };
    let out = check(4, cfg, reorder(), Some((3, Role::DoubleVote)), None);
    assert!(out.passed(), "{}", out.render());
    assert_eq!(out.unique_states, 232_342, "{}", out.render());
}

#[test]
fn equivocating_leader_cannot_split_a_two_thirds_quorum() {
    let cfg = ToyCfg {
        proposers: 1,
        quorum: 3,
        persist_vote: true,
    };
    let out = check(4, cfg, reorder(), Some((0, Role::Equivocate)), None);
    assert!(out.passed(), "{}", out.render());
    // One peer gets the block, two the forgery: no side reaches 3 votes, so nothing commits.
    assert_eq!(out.unreached, vec![L1]);
    assert_eq!(out.unique_states, 31_538, "{}", out.render());
}

/// Every set of commits (per node) some reachable state holds: the observation the safety
/// properties judge.
fn commit_configurations<P: ModelCore>(
    m: &bcos_models::SystemModel<P>,
) -> BTreeSet<Vec<Vec<(Height, B256)>>> {
    use stateright::Model;
    let mut seen = std::collections::HashSet::new();
    let mut todo: Vec<_> = m.init_states();
    let mut found = BTreeSet::new();
    let mut actions = Vec::new();
    while let Some(s) = todo.pop() {
        if !seen.insert(s.clone()) {
            continue;
        }
        found.insert(
            m.nodes(&s)
                .map(|n| n.commits.iter().map(|(h, b)| (*h, *b)).collect())
                .collect(),
        );
        actions.clear();
        m.actions(&s, &mut actions);
        todo.extend(actions.drain(..).filter_map(|a| m.next_state(&s, a)));
    }
    found
}

#[test]
fn silent_step_fusion_reaches_every_commit_configuration() {
    // The reduction's claim (models/README.md "Reductions"): the reduced model reaches
    // exactly the commit configurations of the unreduced one, with crashes, duplication and
    // a seeded bug that breaks agreement (so violating configurations are compared too).
    for (cfg, faults) in [
        (correct(), restarts_up_to(2, reorder())),
        (
            ToyCfg {
                persist_vote: false,
                ..correct()
            },
            restarts_up_to(2, reorder()),
        ),
        (
            ToyCfg {
                quorum: 1,
                ..correct()
            },
            Faults {
                duplication: true,
                ..reorder()
            },
        ),
    ] {
        let spec = ModelSpec::<Toy> {
            core: cfg.clone(),
            cfg: ModelCfg {
                n: 3,
                byzantine: None,
                max_height: 1,
                bound: None,
            },
            faults,
        };
        let fused = spec.build(Vec::new());
        let mut plain = spec.build(Vec::new());
        plain.env.fuse_silent = false;
        let (a, b) = (commit_configurations(&fused), commit_configurations(&plain));
        assert!(b.len() > 1, "the unreduced model commits something");
        assert_eq!(a, b, "{cfg:?} {faults:?}");
    }
    // And the reduction does reduce.
    let fused = check(3, correct(), reorder(), None, None);
    let plain = check_unfused(3, correct(), reorder());
    assert!(
        fused.unique_states < plain.unique_states,
        "{} vs {}",
        fused.unique_states,
        plain.unique_states
    );
    assert!(
        plain.passed() && plain.verdict() == Verdict::Pass,
        "{}",
        plain.render()
    );
}
