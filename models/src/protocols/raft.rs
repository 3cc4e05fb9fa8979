//! The Raft model (spec/raft.md): the real `bcos_consensus::raft::Raft` core, n = 3 by
//! default, over the reduced [`SystemModel`] with crash-restart, duplication and reordering
//! (and loss on request). Seeded bugs (`--bug vote-twice`, `--bug commit-old-term`) switch
//! on the core's `SeededBug`; `--scenario membership` adds and removes a voter (RAFT-R15).
//!
//! Driver behaviour modelled here: the leader's sealer offers `digest(leader, height, 0)`
//! whenever the core may propose, up to `max_height`, first queueing the next membership
//! change of the model's plan (as the node does for a block that passed a governance
//! `setSealer` proposal); a node (re)starts from its last `Persist` and its stored head and resumes
//! (RAFT-R13); every timer may fire at any step. `--views N` bounds terms: states where a
//! node is past term N are not expanded.

use super::{CheckRequest, ModelError, Report};
use crate::core::{DurableRecord, ModelCore};
use crate::faults::Faults;
use crate::model::{ModelCfg, ModelSpec};
use crate::properties::{agreement, all_commit_max_height, integrity, validity};
use crate::runner::{depth_or, run, RunOptions};
use crate::system::{Step, SysState, SystemModel};
use bcos_consensus::raft::{MemberChange, Role, SeededBug};
use bcos_consensus::{NodeIndex, Output, Raft, RaftConfig, RaftDurable, RaftTimer};
use bcos_types::Height;
use stateright::Property;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

pub const RAFT_S1: &str = "RAFT-S1 election safety: at most one leader per term";
pub const RAFT_S2: &str =
    "RAFT-S2 leader append-only: a leader never overwrites or deletes its entries";
pub const RAFT_S3: &str =
    "RAFT-S3 log matching: entries with equal index and term have equal logs up to them";
pub const RAFT_S4: &str =
    "RAFT-S4 leader completeness: a leader, or a node that could win an election, holds every committed block";
pub const RAFT_S5: &str =
    "RAFT-S5 state machine safety: no two nodes commit different blocks at one height";
pub const RAFT_L1: &str = "RAFT-L1 progress: some run commits every height on every node";
pub const RAFT_L1_ALWAYS: &str =
    "RAFT-L1 progress (fair form): after GST every run commits every height on every node";

/// Coverage probe: a node committed an entry that adds a voter.
pub const PROBE_ADDED: &str = "a node committed the addition of a voter";
/// Coverage probe: a node committed an entry that removes a voter.
pub const PROBE_REMOVED: &str = "a node committed the removal of a voter";
/// Coverage probe: a log holds three entries or more.
pub const PROBE_THREE_ENTRIES: &str = "a log holds three entries or more";

/// Seeded bugs the Raft model knows, by CLI name.
pub const BUGS: &[(&str, SeededBug)] = &[
    ("vote-twice", SeededBug::VoteTwice),
    ("commit-old-term", SeededBug::CommitOldTerm),
];

/// Defaults of the CLI run (see README.md for their cost): n = 3, three heights, terms up
/// to 3, duplicating network, restarts at any time.
pub const NODES_DEFAULT: u32 = 3;
pub const MAX_HEIGHT_DEFAULT: Height = 3;
pub const TERMS_DEFAULT: u64 = 3;
pub const DEPTH_DEFAULT: usize = 10;
/// Depth of the `commit-old-term` run (its counterexample takes 17 steps of the reduced
/// model on FIFO links).
pub const FIGURE8_DEPTH: usize = 20;
/// Depth of the membership run (FIFO links): the addition commits from 15 steps in, the
/// removal from 18.
pub const MEMBERSHIP_DEPTH: usize = 20;
/// Depth of a free run with more than three nodes (`--nodes 5`: 4 M states at depth 8).
pub const DEPTH_LARGE: usize = 8;

const FLAG_REWRITE: u8 = 1;
const FLAG_INCOMPLETE: u8 = 2;

/// The model's config: the template `RaftConfig` (its `me` is replaced per node), which
/// nodes campaign, and the membership changes the leaders' sealers make.
#[derive(Debug, Clone)]
pub struct RaftModelCfg {
    pub template: RaftConfig,
    /// Only nodes `0..candidates` have their election timer fire; the others vote, follow
    /// and lead never (default 2: two candidates suffice for every split vote and every
    /// competing-leader history of n = 3; a majority still needs the others' votes).
    pub candidates: u32,
    /// Membership changes, in order: a leader about to propose queues the first one not yet
    /// in its log (RAFT-R15).
    pub plan: Vec<MemberChange>,
    /// Whether a leader's heartbeat timer fires. Off only for the `commit-old-term` search:
    /// without loss nothing needs a retransmission, and a leader still replicates when it
    /// is elected, proposes and hears a reply (RAFT-R7, R12).
    pub heartbeats: bool,
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
    fn after_boot(
        &mut self,
        _restored: bool,
    ) -> Vec<Output<bcos_consensus::RaftMsg, RaftTimer, RaftDurable>> {
        self.resume()
    }

    /// The properties read roles, terms and logs besides the commits.
    fn observed(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.role().hash(&mut h);
        self.term().hash(&mut h);
        self.state().log.hash(&mut h);
        h.finish()
    }

    /// RAFT-R15: the next change of the plan rides on this block, if the core takes it now
    /// (one change at a time, after an own-term commit); otherwise a later block carries it.
    fn before_propose(&mut self, cfg: &RaftModelCfg, _height: Height) {
        let members = self.members();
        let next = cfg.plan.iter().find(|c| match c {
            MemberChange::Add(x) => !members.contains(x),
            MemberChange::Remove(x) => members.contains(x),
        });
        if let Some(change) = next {
            let _ = self.change_membership(*change);
        }
    }
}

pub type RaftModel = SystemModel<Raft>;
type S = SysState<Raft>;

fn cores<'a>(m: &'a RaftModel, s: &'a S) -> impl Iterator<Item = &'a Raft> + 'a {
    m.nodes(s).map(|st| &st.core)
}

/// RAFT-S1: no two nodes lead one term.
fn election_safety(m: &RaftModel, s: &S) -> bool {
    let mut leaders: Vec<u64> = cores(m, s)
        .filter(|c| c.role() == Role::Leader)
        .map(Raft::term)
        .collect();
    let all = leaders.len();
    leaders.sort_unstable();
    leaders.dedup();
    leaders.len() == all
}

/// RAFT-S3: for two logs, the highest index where both hold an entry of the same term
/// bounds a prefix on which both agree entry for entry.
fn log_matching(m: &RaftModel, s: &S) -> bool {
    let logs: Vec<_> = cores(m, s).map(|c| &c.state().log).collect();
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
fn completeness(m: &RaftModel, s: &S) -> bool {
    if s.flags & FLAG_INCOMPLETE != 0 {
        return false;
    }
    let nodes: Vec<&crate::node::Node<Raft>> = m.nodes(s).collect();
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
    agreement(m, s) && integrity(m, s) && validity(m, s)
}

fn progress(m: &RaftModel, s: &S) -> bool {
    all_commit_max_height(m, s)
}

/// Some node committed an entry whose change `pick` accepts.
fn committed_change(m: &RaftModel, s: &S, pick: fn(&MemberChange) -> bool) -> bool {
    cores(m, s).any(|c| {
        c.state()
            .log
            .entries
            .iter()
            .any(|e| e.index <= c.commit_index() && e.change.as_ref().is_some_and(pick))
    })
}

fn voter_added(m: &RaftModel, s: &S) -> bool {
    committed_change(m, s, |c| matches!(c, MemberChange::Add(_)))
}

fn voter_removed(m: &RaftModel, s: &S) -> bool {
    committed_change(m, s, |c| matches!(c, MemberChange::Remove(_)))
}

fn three_entries(m: &RaftModel, s: &S) -> bool {
    cores(m, s).any(|c| c.state().log.last().index >= 3)
}

/// Step checks for RAFT-S2 (a leader that stays leader of its term keeps every entry) and
/// RAFT-S4 (a node that just became leader of term t holds every block committed in a term
/// below t). `notes` maps each committed height to the lowest term a node committed it in.
/// Run once per transition of the reduced model: its silent steps change no role, term or
/// log (`Raft::observed`), so the check sees every change of those.
fn on_step(m: &RaftModel, before: &S, after: &S, notes: &mut BTreeMap<u64, u64>) -> u8 {
    let mut flags = 0;
    for st in m.nodes(after) {
        for h in st.commits.keys() {
            let t = notes.entry(*h).or_insert(st.core.term());
            *t = (*t).min(st.core.term());
        }
    }
    for (b, a) in m.nodes(before).zip(m.nodes(after)) {
        let (bc, ac) = (&b.core, &a.core);
        if ac.role() != Role::Leader {
            continue;
        }
        let was_leader = bc.role() == Role::Leader && bc.term() == ac.term();
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
            let complete = m.nodes(before).all(|other| {
                other.commits.iter().all(|(h, hash)| {
                    if notes.get(h).is_some_and(|t| *t >= ac.term()) {
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

/// Which timeouts the environment fires ([`RaftModelCfg::candidates`]): node-local.
fn allow(m: &RaftModel, _: &S, step: &Step) -> bool {
    match step {
        Step::Timeout { node, timer } => match m.memo.timers.get(*timer) {
            RaftTimer::Election => m
                .specs
                .get(*node as usize)
                .is_some_and(|spec| *node < spec.cfg.candidates),
            RaftTimer::Heartbeat => m
                .specs
                .get(*node as usize)
                .is_some_and(|spec| spec.cfg.heartbeats),
        },
        _ => true,
    }
}

fn within_terms(m: &RaftModel, s: &S) -> bool {
    match m.cfg.bound {
        Some(t) => m.nodes(s).all(|st| st.core.term() <= t),
        None => true,
    }
}

/// The Raft model with its properties, terms bounded by `cfg.bound`.
pub fn model(template: RaftConfig, cfg: ModelCfg, faults: Faults) -> RaftModel {
    model_with(
        RaftModelCfg {
            template,
            candidates: CANDIDATES_DEFAULT,
            plan: Vec::new(),
            heartbeats: true,
        },
        cfg,
        faults,
    )
}

/// The model for an explicit [`RaftModelCfg`].
pub fn model_with(core: RaftModelCfg, cfg: ModelCfg, faults: Faults) -> RaftModel {
    let spec = ModelSpec::<Raft> { core, cfg, faults };
    let mut m = spec.build(vec![
        Property::always(RAFT_S1, election_safety),
        Property::always(RAFT_S2, append_only),
        Property::always(RAFT_S3, log_matching),
        Property::always(RAFT_S4, completeness),
        Property::always(RAFT_S5, state_machine_safety),
        Property::sometimes(RAFT_L1, progress),
    ]);
    m.bound = within_terms;
    m.allow = Some(allow);
    m.on_step = Some(on_step);
    m.probes = vec![
        (PROBE_THREE_ENTRIES, three_entries),
        (PROBE_ADDED, voter_added),
        (PROBE_REMOVED, voter_removed),
    ];
    m
}

/// Renders a state for a counterexample.
pub fn describe(m: &RaftModel, s: &S) -> String {
    let mut out = String::new();
    for (i, st) in m.nodes(s).enumerate() {
        let c = &st.core;
        let log: Vec<String> = c
            .state()
            .log
            .entries
            .iter()
            .map(|e| {
                let who = crate::core::decode_digest(&e.block_hash)
                    .map_or(String::new(), |(node, _, _)| format!("(node{node})"));
                let change = e.change.map_or(String::new(), |ch| format!("[{ch:?}]"));
                format!("{}:t{}{who}{change}", e.index, e.term)
            })
            .collect();
        out.push_str(&format!(
            "    node{i}: {:?} term {} voted {:?} commit {} members {:?} log [{}]\n",
            c.role(),
            c.term(),
            c.state().voted_for,
            c.commit_index(),
            c.members(),
            log.join(", ")
        ));
    }
    out + &super::describe::<Raft>(m, s)
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

/// The membership scenario: nodes 0..n-1 start as members, node n - 1 is added, then node
/// 0 (a candidate, so possibly the leader that removes itself) is removed.
pub fn membership_plan(n: u32) -> (BTreeSet<NodeIndex>, Vec<MemberChange>) {
    let members = (0..n.saturating_sub(1)).collect();
    (
        members,
        vec![MemberChange::Add(n - 1), MemberChange::Remove(0)],
    )
}

pub fn check(req: &CheckRequest) -> Result<Report, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    if req.byzantine.is_some() {
        return Err(ModelError::Invalid(
            "raft tolerates crashes, not Byzantine nodes (spec/raft.md §1)".into(),
        ));
    }
    let scenario = req.scenario.as_deref().unwrap_or("free");
    let membership = match scenario {
        "free" => false,
        "membership" => true,
        "liveness" => return super::raft_liveness::check(req, bug),
        other => {
            return Err(ModelError::Invalid(format!(
                "unknown raft scenario {other:?} (expected free, membership or liveness)"
            )))
        }
    };
    let figure8 = bug == Some(SeededBug::CommitOldTerm);
    let n = req
        .nodes
        .unwrap_or(if membership { 4 } else { NODES_DEFAULT });
    let mut template = RaftConfig {
        bug,
        ..RaftConfig::new(n, 0)
    };
    let mut plan = Vec::new();
    if membership {
        let (members, changes) = membership_plan(n);
        template.members = members;
        plan = changes;
    }
    template
        .validate()
        .map_err(|e| ModelError::Invalid(e.to_string()))?;
    // `commit-old-term` needs a longer history (three leaders, 17 steps): its defaults
    // trade the restarts, the reordering and the later heights for depth (spec/raft.md §8).
    // The membership run trades restarts, reordering and the second candidate for the
    // depth the removal needs.
    let faults = req.faults.unwrap_or(if figure8 {
        Faults::default()
    } else if membership {
        // FIFO links, no restarts: with reordering the removal lies beyond what BFS
        // reaches within 20 M states.
        Faults::default()
    } else {
        Faults::safety()
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
    let depth = if figure8 {
        FIGURE8_DEPTH
    } else if membership {
        MEMBERSHIP_DEPTH
    } else if n > NODES_DEFAULT {
        DEPTH_LARGE
    } else {
        DEPTH_DEFAULT
    };
    opts.depth_max = match opts.search {
        crate::runner::Search::Bfs => depth_or(opts.depth_max, Some(depth)),
        _ => depth_or(opts.depth_max, None),
    };
    let core = RaftModelCfg {
        template,
        candidates: req
            .candidates
            .unwrap_or(if membership { 1 } else { CANDIDATES_DEFAULT }),
        plan,
        heartbeats: !figure8,
    };
    let label = label(&core, &cfg, faults, &opts, scenario);
    eprintln!("{label} ...");
    let out = run(model_with(core, cfg, faults), &opts, describe);
    Ok(Report::single(label, out))
}

/// A run's configuration in words.
pub fn label(
    core: &RaftModelCfg,
    cfg: &ModelCfg,
    faults: Faults,
    opts: &RunOptions,
    what: &str,
) -> String {
    format!(
        "raft {what}: n = {}, members {:?}, {} candidates, faults {faults}, heights {}, terms <= {}, {:?}{}",
        cfg.n,
        core.template.members,
        core.candidates,
        cfg.max_height,
        cfg.bound.unwrap_or(0),
        opts.search,
        opts.depth_max.map_or(String::new(), |d| format!(", depth {d}"))
    )
}
