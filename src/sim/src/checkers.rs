//! The properties checked after every step of a run (spec/coverage.md, "simulation"
//! column). Each failure is a [`Violation`] naming its property; the first one ends the run.
//!
//! - **agreement** (PBFT-S1, RAFT-S5): no two honest nodes store different blocks at one
//!   height; hash, state root and receipts root are compared (an announced block too).
//! - **certificate** (PBFT-R8 / PBFT-S2, RAFT-R11): every stored block carries a valid
//!   certificate: a BLS aggregate of a quorum of commit votes on exactly this block and its
//!   roots (PBFT), the block's own log position (Raft).
//! - **durability** (DUR-3): a node that announced a block (its receipts were visible) still
//!   holds it when it restarts after a crash.
//! - **one vote per slot** (PBFT-R2, R11; RAFT-R2, R4): an honest node never sends two
//!   different prepares or commits for one (height, view), nor grants votes to two
//!   candidates in one term, across restarts.
//! - **election safety** (RAFT-S1): at most one leader per term.
//! - **lock kept** (PBFT-R6, step check): within a height a node's lock never disappears
//!   and never moves to a lower view.
//! - **commit rule** (RAFT-R9, step check): a leader's commit index advances only onto an
//!   entry of its own term (earlier entries commit beneath one).
//! - **restart keeps durable state** (PBFT-R2, RAFT-R2): a restarted node resumes at least
//!   where it stood after the last step in which it sent anything (view, lock and own votes
//!   at its height; term, vote and log), since peers may rely on what it sent.
//! - **no driver failure**: an honest driver never stops with an error or panics.
//! - **liveness** (PBFT-L1/L2, RAFT-L1): once faults stop, every transaction gets a receipt
//!   and the honest nodes reach one head within [`LIVENESS_BOUND_MS`].

use crate::config::Protocol;
use crate::node::CoreState;
use crate::setup::Validator;
use bcos_consensus::raft::{decode_certificate, RaftMsg};
use bcos_crypto::bls::BlsPublicKey;
use bcos_node::cluster::votes::{verify_block_certificate, VoteBook};
use bcos_node::cluster::wire::Wire;
use bcos_storage::ChainStore;
use bcos_types::{keccak256, CommittedBlock, B256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Virtual time the cluster gets, once faults stop, to give every transaction a receipt
/// and bring every honest node to one head. PBFT's longest view timeout is 16 view
/// timeouts (16 s here), so a cluster whose views ran far apart needs a few of those.
pub const LIVENESS_BOUND_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The property, as spec/coverage.md names it.
    pub property: &'static str,
    pub at_ms: u64,
    /// The group whose checkers found it, in a run of several groups.
    pub group: Option<u32>,
    pub node: Option<u32>,
    pub detail: String,
    /// Set when the failure matches a driver bug the simulator already found and that is
    /// fixed since (src/sim/README.md, "Bugs found"), so a regression is named: it still fails the run, but a test
    /// may tell it apart from a new finding.
    pub known_bug: Option<&'static str>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} ms", self.property, self.at_ms)?;
        if let Some(k) = self.known_bug {
            write!(f, " [known driver bug {k}]")?;
        }
        match (self.group, self.node) {
            (Some(g), Some(n)) => write!(f, " (group {g}, node {n})")?,
            (Some(g), None) => write!(f, " (group {g})")?,
            (None, Some(n)) => write!(f, " (node {n})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.detail)
    }
}

/// What the first node to store a height stored there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    hash: B256,
    state_root: B256,
    receipts_root: B256,
    node: u32,
}

/// The checkers of one group: each group is a chain of its own, so agreement, votes and
/// leaders are per group. Nodes are named by their index in the cluster.
pub struct Checkers {
    protocol: Protocol,
    /// The group named in violations (`None` in a single-group run).
    label: Option<u32>,
    /// The chain as the honest nodes stored it, by height.
    chain: BTreeMap<u64, Stored>,
    /// Verifies PBFT certificates against the validator set.
    book: Option<VoteBook>,
    /// (block hash, certificate hash) already verified.
    certs_ok: BTreeSet<(B256, B256)>,
    /// PBFT: the validator set the first node to store each height named, and that node.
    sets: BTreeMap<u64, (u32, Vec<u32>)>,
    /// PBFT: (node, height, view, commit?) -> what it voted for.
    votes: BTreeMap<(u32, u64, u64, bool), B256>,
    /// Raft: (node, term) -> the candidate it granted its vote.
    granted: BTreeMap<(u32, u64), u32>,
    /// Raft: term -> its leader.
    leaders: BTreeMap<u64, u32>,
    pub violations: Vec<Violation>,
}

impl Checkers {
    /// `vals`: the group's validators in consensus-position order (certificates name
    /// signers by position); `group_id`: its vote domain.
    pub fn new(
        protocol: Protocol,
        vals: &[Validator],
        group_id: u32,
        label: Option<u32>,
    ) -> anyhow::Result<Self> {
        let book = match protocol {
            Protocol::Pbft => {
                let keys = vals
                    .iter()
                    .map(|v| {
                        BlsPublicKey::from_hex(&v.member.bls_public_key)
                            .map_err(|e| anyhow::anyhow!("validator key: {e}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let any = vals
                    .first()
                    .map(|v| v.keys.bls.clone())
                    .ok_or_else(|| anyhow::anyhow!("no validators"))?;
                Some(VoteBook::new(group_id, 0, any, keys, 16, 1))
            }
            Protocol::Raft => None,
        };
        Ok(Checkers {
            protocol,
            label,
            chain: BTreeMap::new(),
            book,
            certs_ok: BTreeSet::new(),
            sets: BTreeMap::new(),
            votes: BTreeMap::new(),
            granted: BTreeMap::new(),
            leaders: BTreeMap::new(),
            violations: Vec::new(),
        })
    }

    pub(crate) fn fail(&mut self, property: &'static str, at_ms: u64, node: u32, detail: String) {
        self.violations.push(Violation {
            property,
            at_ms,
            group: self.label,
            node: Some(node),
            detail,
            known_bug: None,
        });
    }

    pub fn fail_global(&mut self, property: &'static str, at_ms: u64, detail: String) {
        self.fail_known(property, at_ms, detail, None);
    }

    pub fn fail_known(
        &mut self,
        property: &'static str,
        at_ms: u64,
        detail: String,
        known_bug: Option<&'static str>,
    ) {
        self.violations.push(Violation {
            property,
            at_ms,
            group: self.label,
            node: None,
            detail,
            known_bug,
        });
    }

    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// Highest height any honest node stored.
    pub fn height(&self) -> u64 {
        self.chain.keys().next_back().copied().unwrap_or(0)
    }

    /// Checks the blocks `node` stored above `from`; returns the new checked head. `sets`:
    /// the validator set `node` says decided a height (PBFT-R20).
    pub fn check_store(
        &mut self,
        now: u64,
        node: u32,
        store: &dyn ChainStore,
        from: u64,
        sets: &dyn Fn(u64) -> Option<Vec<u32>>,
    ) -> anyhow::Result<u64> {
        let head = store.head().map_or(0, |(h, _)| h);
        for h in from + 1..=head {
            let Some(b) = store.committed_block(h)? else {
                self.fail(
                    "agreement",
                    now,
                    node,
                    format!("block {h} missing below head {head}"),
                );
                return Ok(head);
            };
            self.agree(now, node, &b, "stored");
            self.check_certificate(now, node, &b, sets(h));
        }
        Ok(head.max(from))
    }

    fn agree(&mut self, now: u64, node: u32, b: &CommittedBlock, how: &str) {
        let h = b.number();
        let hd = b.block.header();
        let mine = Stored {
            hash: b.block.hash,
            state_root: hd.state_root,
            receipts_root: hd.receipts_root,
            node,
        };
        match self.chain.get(&h) {
            None => {
                self.chain.insert(h, mine);
            }
            Some(first) if first.hash == mine.hash => {}
            Some(first) => {
                let first = *first;
                let what = if first.state_root != mine.state_root {
                    "state roots differ"
                } else if first.receipts_root != mine.receipts_root {
                    "receipts roots differ"
                } else {
                    "same roots"
                };
                self.fail(
                    "agreement",
                    now,
                    node,
                    format!(
                        "{how} block {h} {} but node {} stored {} ({what})",
                        mine.hash, first.node, first.hash
                    ),
                );
            }
        }
    }

    /// PBFT: every node that stored height `h` names the same validator set for it, and
    /// the certificate verifies against that set.
    fn check_certificate(
        &mut self,
        now: u64,
        node: u32,
        b: &CommittedBlock,
        set: Option<Vec<u32>>,
    ) {
        let h = b.number();
        match self.protocol {
            Protocol::Raft => {
                if decode_certificate(&b.certificate).is_none_or(|p| p.index != h || p.term == 0) {
                    self.fail(
                        "certificate",
                        now,
                        node,
                        format!("block {h} has no valid raft certificate"),
                    );
                }
            }
            Protocol::Pbft => {
                if let Some(set) = set {
                    match self.sets.get(&h) {
                        Some((first, other)) if *other != set => {
                            let why = format!(
                                "node {node} says {set:?} decided block {h}, node {first} said {other:?}"
                            );
                            self.fail("validator-set", now, node, why);
                            return;
                        }
                        Some(_) => {}
                        None => {
                            self.sets.insert(h, (node, set.clone()));
                        }
                    }
                    if let Some(book) = self.book.as_mut() {
                        book.set_validators_from(h, set.into_iter().map(|i| i as usize).collect());
                    }
                }
                let key = (b.block.hash, keccak256(&b.certificate));
                if self.certs_ok.contains(&key) {
                    return;
                }
                let Some(book) = &self.book else { return };
                match verify_block_certificate(book, b.block.header(), b.block.hash, &b.certificate)
                {
                    Ok(()) => {
                        self.certs_ok.insert(key);
                    }
                    Err(e) => self.fail(
                        "certificate",
                        now,
                        node,
                        format!(
                            "block {h} ({}) stored with an invalid certificate: {e}",
                            b.block.hash
                        ),
                    ),
                }
            }
        }
    }

    /// `node` announced `b`: it is on the chain, and `node` must keep it.
    pub fn on_announce(&mut self, now: u64, node: u32, b: &CommittedBlock) {
        self.agree(now, node, b, "announced");
    }

    /// At restart: every block the node announced is still in its store.
    pub fn check_acked(
        &mut self,
        now: u64,
        node: u32,
        store: &dyn ChainStore,
        acked: &BTreeMap<u64, B256>,
    ) -> anyhow::Result<()> {
        let head = store.head().map_or(0, |(h, _)| h);
        for (&h, &hash) in acked {
            let have = store.block_hash(h)?;
            if have != Some(hash) {
                self.fail(
                    "durability",
                    now,
                    node,
                    format!(
                        "announced block {h} ({hash}) before the crash; after restart its store \
                         ends at {head} and holds {have:?} there"
                    ),
                );
                return Ok(());
            }
        }
        Ok(())
    }

    /// An honest node sent `w` to `to` (None: to all): one vote per slot.
    pub fn on_send(&mut self, now: u64, node: u32, to: Option<u32>, w: &Wire) {
        match w {
            Wire::Prepare { msg, .. } => {
                self.vote(now, node, (msg.height, msg.view, false), msg.block_hash)
            }
            Wire::Commit { msg, .. } => {
                let b = msg.body;
                let digest =
                    keccak256([b.block_hash.0, b.state_root.0, b.receipts_root.0].concat());
                self.vote(now, node, (msg.height, msg.view, true), digest)
            }
            Wire::Raft { msg, .. } => {
                let Some(to) = to else { return };
                if let Ok(RaftMsg::Vote(v)) = postcard::from_bytes::<RaftMsg>(msg) {
                    if v.granted {
                        match self.granted.get(&(node, v.term)) {
                            None => {
                                self.granted.insert((node, v.term), to);
                            }
                            Some(c) if *c == to => {}
                            Some(c) => {
                                let c = *c;
                                self.fail(
                                    "one vote per slot",
                                    now,
                                    node,
                                    format!("granted its term-{} vote to {c} and to {to}", v.term),
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn vote(&mut self, now: u64, node: u32, (h, v, commit): (u64, u64, bool), digest: B256) {
        match self.votes.get(&(node, h, v, commit)) {
            None => {
                self.votes.insert((node, h, v, commit), digest);
            }
            Some(d) if *d == digest => {}
            Some(d) => {
                let phase = if commit { "commit" } else { "prepare" };
                let d = *d;
                self.fail(
                    "one vote per slot",
                    now,
                    node,
                    format!("sent two {phase} votes at height {h} view {v}: {d} and {digest}"),
                );
            }
        }
    }

    /// Raft: `node` leads `term` now.
    pub fn on_leader(&mut self, now: u64, node: u32, term: u64) {
        match self.leaders.get(&term) {
            None => {
                self.leaders.insert(term, node);
            }
            Some(l) if *l == node => {}
            Some(l) => {
                let l = *l;
                self.fail(
                    "election safety",
                    now,
                    node,
                    format!("leads term {term}, which node {l} led"),
                );
            }
        }
    }

    /// Step checks: `now` is the core's state after a step, `prev` after the one before.
    pub fn on_step(&mut self, at: u64, node: u32, prev: &CoreState, now: &CoreState) {
        match (prev, now) {
            (
                CoreState::Pbft {
                    height: h0,
                    lock_view: Some(v0),
                    ..
                },
                CoreState::Pbft {
                    height, lock_view, ..
                },
            ) if h0 == height && lock_view.is_none_or(|v| v < *v0) => self.fail(
                "lock kept",
                at,
                node,
                format!("at height {height} its lock of view {v0} became {lock_view:?}"),
            ),
            (
                CoreState::Raft {
                    term: t0,
                    commit: c0,
                    leader: true,
                    ..
                },
                CoreState::Raft {
                    term,
                    commit,
                    commit_term,
                    leader: true,
                    ..
                },
            ) if t0 == term && commit > c0 && commit_term.is_some_and(|ct| ct < *term) => self
                .fail(
                    "commit rule",
                    at,
                    node,
                    format!(
                        "leader of term {term} advanced its commit index to {commit}, an entry \
                         of term {commit_term:?}, with no entry of its own term beneath"
                    ),
                ),
            _ => {}
        }
    }

    /// After a restart: the restored core is not behind what the node last sent from.
    pub fn on_restart(&mut self, at: u64, node: u32, sent: &CoreState, restored: &CoreState) {
        let lost = match (sent, restored) {
            (
                CoreState::Pbft {
                    height: h0,
                    view: v0,
                    lock_view: l0,
                    prepared: p0,
                    committed: c0,
                },
                CoreState::Pbft {
                    height,
                    view,
                    lock_view,
                    prepared,
                    committed,
                },
            ) if h0 == height => {
                if view < v0 {
                    Some(format!(
                        "height {height}: view {v0} before the crash, {view} after"
                    ))
                } else if l0.is_some_and(|l| lock_view.is_none_or(|v| v < l)) {
                    Some(format!("height {height}: lock of view {l0:?} before the crash, {lock_view:?} after"))
                } else if view == v0 && (prepared != p0 || committed != c0) {
                    Some(format!(
                        "height {height} view {view}: its votes were {p0:?} / {c0:?} before the \
                         crash, {prepared:?} / {committed:?} after"
                    ))
                } else {
                    None
                }
            }
            (
                CoreState::Raft {
                    term: t0,
                    voted_for: vf0,
                    last: l0,
                    ..
                },
                CoreState::Raft {
                    term,
                    voted_for,
                    last,
                    ..
                },
            ) => {
                if term < t0 {
                    Some(format!("term {t0} before the crash, {term} after"))
                } else if term == t0 && vf0.is_some() && voted_for != vf0 {
                    Some(format!(
                        "term {term}: voted for {vf0:?} before the crash, {voted_for:?} after"
                    ))
                } else if last.0 < l0.0 {
                    Some(format!(
                        "log ended at {} before the crash, at {} after",
                        l0.0, last.0
                    ))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(detail) = lost {
            self.fail("restart keeps durable state", at, node, detail);
        }
    }

    /// Distinct leaders seen (Raft), for the report.
    pub fn leader_terms(&self) -> usize {
        self.leaders.len()
    }
}
