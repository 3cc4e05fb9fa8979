//! The Raft model (spec/raft.md): the real `bcos_consensus::raft::Raft` core, n = 3 by
//! default (a bounded n = 5 on request), with crash-restart, message loss, duplication,
//! reordering and partitions (the [`Partitioned`] wrapper). Seeded bugs (`--bug vote-twice`,
//! `--bug commit-old-term`) switch on the core's `SeededBug`.
//!
//! Driver behaviour modelled here: the leader's sealer offers `digest(leader, height, 0)`
//! whenever the core may propose, up to `max_height`; a node (re)starts from its last
//! `Persist` and its stored head and resumes (RAFT-R13); every timer may fire at any step.
//! `--views N` bounds terms: states where a node is past term N are not expanded.

use super::{CheckRequest, ModelError};
use crate::core::{DurableRecord, ModelCore};
use crate::faults::Faults;
use crate::model::{CoreModel, ModelCfg, ModelSpec};
use crate::partition::{InnerAction, InnerState, PState, Partitioned};
use crate::properties::{agreement, all_commit_max_height, integrity, validity};
use crate::runner::{run, Outcome};
use bcos_consensus::raft::{Role, SeededBug};
use bcos_consensus::{NodeIndex, Output, Raft, RaftConfig, RaftDurable, RaftMsg, RaftTimer};
use bcos_types::Height;
use stateright::actor::{ActorModelAction, Network};
use stateright::Property;
use std::collections::BTreeMap;

pub const RAFT_S1: &str = "RAFT-S1 election safety: at most one leader per term";
pub const RAFT_S2: &str =
    "RAFT-S2 leader append-only: a leader never overwrites or deletes its entries";
pub const RAFT_S3: &str =
    "RAFT-S3 log matching: entries with equal index and term have equal logs up to them";
pub const RAFT_S4: &str =
    "RAFT-S4 leader completeness: a leader, or a node that could win an election, holds every committed block";
pub const RAFT_S5: &str =
    "RAFT-S5 state machine safety: no two nodes commit different blocks at one height";
pub const RAFT_L1: &str = "RAFT-L1 progress: some run commits every height on every live node";

/// Seeded bugs the Raft model knows, by CLI name.
pub const BUGS: &[(&str, SeededBug)] = &[
    ("vote-twice", SeededBug::VoteTwice),
    ("commit-old-term", SeededBug::CommitOldTerm),
];

/// Defaults of the CLI run (see README.md for their cost): n = 3, one height, terms up to
/// 3, FIFO links, one crash at a time and one partition.
pub const NODES_DEFAULT: u32 = 3;
pub const MAX_HEIGHT_DEFAULT: Height = 1;
pub const TERMS_DEFAULT: u64 = 3;
pub const DEPTH_DEFAULT: usize = 14;
/// Depth of the `commit-old-term` run: its counterexample has 18 steps, and the checker
/// evaluates properties only below the bound.
pub const FIGURE8_DEPTH: usize = 22;

const FLAG_REWRITE: u8 = 1;
const FLAG_INCOMPLETE: u8 = 2;

/// The model's config: the template `RaftConfig` (its `me` is replaced per node) and two
/// restrictions of the environment that keep the space small.
#[derive(Debug, Clone)]
pub struct RaftModelCfg {
    pub template: RaftConfig,
    /// Only nodes `0..candidates` have their election timer fire; the others vote, follow
    /// and lead never (default 2: two candidates suffice for every split vote and every
    /// competing-leader history of n = 3; a majority still needs the others' votes).
    pub candidates: u32,
    /// A leader's heartbeat fires only while none of its messages is in flight (a resend
    /// then only repeats what is on its way; after a loss it still retransmits). Default on;
    /// a duplicating network keeps every heartbeat (it holds a set, repeats add no state).
    pub quiet_heartbeats: bool,
}

/// Default of [`RaftModelCfg::candidates`].
pub const CANDIDATES_DEFAULT: u32 = 2;

impl ModelCore for Raft {
    type Config = RaftModelCfg;

    fn boot(
        cfg: &RaftModelCfg,
        me: NodeIndex,
        _n: u32,
        restored: Option<&DurableRecord<RaftDurable>>,
    ) -> Self {
        let c = RaftConfig {
            me,
            ..cfg.template.clone()
        };
        let head = restored.map_or(0, |r| r.next_height() - 1);
        let durable = restored.and_then(|r| r.last.clone());
        // `check` validated the template, and the record holds the node's own commits and
        // snapshot (commits leave after the Persist covering them), so restore cannot refuse.
        match Raft::restore(c, head, durable) {
            Ok(r) => r,
            Err(e) => panic!("Raft model misconfigured for node {me}: {e}"),
        }
    }

    /// RAFT-R13: every (re)start arms the election timer.
    fn after_boot(&mut self, _restored: bool) -> Vec<Output<RaftMsg, RaftTimer, RaftDurable>> {
        self.resume()
    }
}

pub type RaftModel = Partitioned<Raft>;
type S = PState<Raft>;

fn cores(s: &InnerState<Raft>) -> impl Iterator<Item = &Raft> {
    s.actor_states.iter().map(|st| &st.core)
}

/// RAFT-S1: no two nodes (crashed ones included: their last state) lead one term.
fn election_safety(_: &RaftModel, s: &S) -> bool {
    let leaders: Vec<u64> = cores(&s.inner)
        .filter(|c| c.role() == Role::Leader)
        .map(Raft::term)
        .collect();
    let mut sorted = leaders.clone();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() == leaders.len()
}

/// RAFT-S3: for two logs, the highest index where both hold an entry of the same term
/// bounds a prefix on which both agree entry for entry.
fn log_matching(_: &RaftModel, s: &S) -> bool {
    let logs: Vec<_> = cores(&s.inner).map(|c| &c.state().log).collect();
    for (i, a) in logs.iter().enumerate() {
        for b in &logs[i + 1..] {
            let common: Vec<Height> = a
                .entries
                .iter()
                .map(|e| e.index)
                .filter(|i| b.get(*i).is_some())
                .collect();
            let top = common
                .iter()
                .rev()
                .find(|i| a.get(**i).map(|e| e.term) == b.get(**i).map(|e| e.term));
            if let Some(top) = top {
                if common
                    .iter()
                    .filter(|i| *i <= top)
                    .any(|i| a.get(*i) != b.get(*i))
                {
                    return false;
                }
            }
        }
    }
    true
}

/// RAFT-S2 and S4 are about steps: `on_step` raises flags, these read them.
fn append_only(_: &RaftModel, s: &S) -> bool {
    s.flags & FLAG_REWRITE == 0
}

/// RAFT-S4, as a step check (flag) and as a state invariant: a node that lacks a committed
/// block cannot win an election, i.e. fewer than a majority of members have a log no more
/// up to date than its own (RAFT-R4's comparison). The invariant is what the Raft proof of
/// S4 establishes; checking it catches a broken commit rule as soon as the commit happens,
/// not only after the election it makes possible.
fn completeness(_: &RaftModel, s: &S) -> bool {
    if s.flags & FLAG_INCOMPLETE != 0 {
        return false;
    }
    let nodes = &s.inner.actor_states;
    let lasts: Vec<(u64, Height)> = nodes
        .iter()
        .map(|st| {
            let l = st.core.state().log.last();
            (l.term, l.index)
        })
        .collect();
    for (x, st) in nodes.iter().enumerate() {
        let core = &st.core;
        let members = core.members();
        let voters = members
            .iter()
            .filter(|y| lasts.get(**y as usize).is_some_and(|l| *l <= lasts[x]))
            .count();
        if voters < members.len() / 2 + 1 {
            continue;
        }
        let log = &core.state().log;
        let holds_all = nodes.iter().all(|other| {
            other.commits.iter().all(|(h, hash)| {
                if *h <= log.base.index {
                    st.commits.get(h).is_none_or(|mine| mine == hash)
                } else {
                    log.get(*h).map(|e| e.block_hash) == Some(*hash)
                }
            })
        });
        if !holds_all {
            return false;
        }
    }
    true
}

/// RAFT-S5: agreement and integrity of the committed blocks, and each a proposed one.
fn state_machine_safety(m: &RaftModel, s: &S) -> bool {
    agreement(&m.inner, &s.inner) && integrity(&m.inner, &s.inner) && validity(&m.inner, &s.inner)
}

fn progress(m: &RaftModel, s: &S) -> bool {
    all_commit_max_height(&m.inner, &s.inner)
}

/// Step checks for RAFT-S2 (a leader that stays leader of its term keeps every entry) and
/// RAFT-S4 (a node that just became leader of term t holds every block committed in a term
/// below t). `memo` maps each committed height to the lowest term a node committed it in.
fn on_step(
    _: &CoreModel<Raft>,
    before: &InnerState<Raft>,
    after: &InnerState<Raft>,
    memo: &mut BTreeMap<u64, u64>,
) -> u8 {
    let mut flags = 0;
    for st in after.actor_states.iter() {
        for h in st.commits.keys() {
            let t = memo.entry(*h).or_insert(st.core.term());
            *t = (*t).min(st.core.term());
        }
    }
    for (i, (b, a)) in before
        .actor_states
        .iter()
        .zip(&after.actor_states)
        .enumerate()
    {
        let (bc, ac) = (&b.core, &a.core);
        if ac.role() != Role::Leader {
            continue;
        }
        let was_leader = bc.role() == Role::Leader && bc.term() == ac.term() && !before.crashed[i];
        if was_leader {
            let alog = &ac.state().log;
            let kept = bc
                .state()
                .log
                .entries
                .iter()
                .filter(|e| e.index > alog.base.index)
                .all(|e| alog.get(e.index) == Some(e));
            if !kept {
                flags |= FLAG_REWRITE;
            }
        } else {
            let log = &ac.state().log;
            let complete = before.actor_states.iter().all(|other| {
                other.commits.iter().all(|(h, hash)| {
                    if memo.get(h).is_some_and(|t| *t >= ac.term()) {
                        true
                    } else if *h <= log.base.index {
                        a.commits.get(h) == Some(hash)
                    } else {
                        log.get(*h).map(|e| e.block_hash) == Some(*hash)
                    }
                })
            });
            if !complete {
                flags |= FLAG_INCOMPLETE;
            }
        }
    }
    flags
}

/// The Raft model with its properties, terms bounded by `cfg.bound`.
pub fn model(template: RaftConfig, cfg: ModelCfg, faults: Faults) -> RaftModel {
    model_with(
        RaftModelCfg {
            template,
            candidates: CANDIDATES_DEFAULT,
            quiet_heartbeats: true,
        },
        cfg,
        faults,
    )
}

/// Which timeouts the environment fires ([`RaftModelCfg`]).
fn allow(m: &CoreModel<Raft>, s: &InnerState<Raft>, a: &InnerAction<Raft>) -> bool {
    let ActorModelAction::Timeout(id, timer) = a else {
        return true;
    };
    let i = usize::from(*id);
    let Some(actor) = m.actors.get(i) else {
        return true;
    };
    match timer {
        RaftTimer::Election => (i as u32) < actor.cfg.candidates,
        RaftTimer::Heartbeat => {
            // A duplicating network is a set: a repeated heartbeat adds no state there.
            !actor.cfg.quiet_heartbeats
                || matches!(s.network, Network::UnorderedDuplicating(..))
                || s.network
                    .iter_deliverable()
                    .all(|e| usize::from(e.src) != i)
        }
    }
}

/// The model for an explicit [`RaftModelCfg`].
pub fn model_with(core: RaftModelCfg, cfg: ModelCfg, faults: Faults) -> RaftModel {
    let spec = ModelSpec::<Raft> { core, cfg, faults };
    let mut inner = spec.build(Vec::new());
    inner.within_boundary = |cfg, s| match cfg.bound {
        Some(t) => s.actor_states.iter().all(|st| st.core.term() <= t),
        None => true,
    };
    Partitioned {
        inner,
        partitions_max: u8::try_from(faults.partitions_max).unwrap_or(u8::MAX),
        properties: vec![
            Property::always(RAFT_S1, election_safety),
            Property::always(RAFT_S2, append_only),
            Property::always(RAFT_S3, log_matching),
            Property::always(RAFT_S4, completeness),
            Property::always(RAFT_S5, state_machine_safety),
            Property::sometimes(RAFT_L1, progress),
        ],
        on_step,
        allow,
    }
}

/// Renders a state for a counterexample.
pub fn describe(s: &S) -> String {
    let mut out = String::new();
    if let Some(c) = s.cut {
        out.push_str(&format!("    node{c} is cut off\n"));
    }
    for (i, st) in s.inner.actor_states.iter().enumerate() {
        let c = &st.core;
        let log: Vec<String> = c
            .state()
            .log
            .entries
            .iter()
            .map(|e| match crate::core::decode_digest(&e.block_hash) {
                Some((node, _, _)) => format!("{}:t{}(node{node})", e.index, e.term),
                None => format!("{}:t{}", e.index, e.term),
            })
            .collect();
        out.push_str(&format!(
            "    node{i}: {:?} term {} voted {:?} commit {} log [{}]\n",
            c.role(),
            c.term(),
            c.state().voted_for,
            c.commit_index(),
            log.join(", ")
        ));
    }
    out + &super::describe::<Raft>(&s.inner)
}

/// Parses a `--bug` name.
pub fn bug_by_name(name: &str) -> Result<SeededBug, ModelError> {
    BUGS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .ok_or_else(|| ModelError::UnknownBug {
            protocol: "raft",
            bug: name.to_string(),
            known: BUGS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })
}

pub fn check(req: &CheckRequest) -> Result<Outcome, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    if req.byzantine.is_some() {
        return Err(ModelError::Invalid(
            "raft tolerates crashes, not Byzantine nodes (spec/raft.md §1)".into(),
        ));
    }
    let n = req.nodes.unwrap_or(NODES_DEFAULT);
    let template = RaftConfig {
        bug,
        ..RaftConfig::new(n, 0)
    };
    template
        .validate()
        .map_err(|e| ModelError::Invalid(e.to_string()))?;
    // `commit-old-term` needs a longer history (three leaders, 18 steps): its defaults trade
    // reordering, crashes and the second height for depth (spec/raft.md §8).
    let figure8 = bug == Some(SeededBug::CommitOldTerm);
    let faults = req.faults.unwrap_or(if figure8 {
        Faults::default()
    } else {
        Faults {
            crashes_max: 1,
            partitions_max: 1,
            ..Faults::default()
        }
    });
    let cfg = ModelCfg {
        n,
        byzantine: None,
        max_height: req
            .max_height
            .unwrap_or(if figure8 { 1 } else { MAX_HEIGHT_DEFAULT }),
        bound: Some(req.bound.unwrap_or(TERMS_DEFAULT)),
    };
    let mut opts = req.run.clone();
    if opts.depth_max.is_none() {
        opts.depth_max = Some(if figure8 {
            FIGURE8_DEPTH
        } else {
            DEPTH_DEFAULT
        });
    }
    eprintln!(
        "raft: n = {n}, faults: {faults}, heights: {}, terms: {:?}, depth: {:?}",
        cfg.max_height, cfg.bound, opts.depth_max
    );
    Ok(run(model(template, cfg, faults), &opts, describe))
}
