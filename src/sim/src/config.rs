//! What one simulated run is: protocol, cluster size, seed, length, its groups (one chain on
//! every node unless told otherwise, [`crate::groups`]), an optional seeded bug and an
//! optional Byzantine node. Everything else (fault rates, workload) is drawn from the
//! seed ([`crate::faults::FaultPlan`]), so one seed names one run.

use crate::groups::SimGroup;
use crate::settlement::SettlementSpec;
use bcos_node::cluster::config::SeededBug;
use std::fmt;
use std::str::FromStr;

/// Which consensus the simulated cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Pbft,
    Raft,
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pbft" => Ok(Protocol::Pbft),
            "raft" => Ok(Protocol::Raft),
            other => Err(format!(
                "unknown protocol {other:?} (expected pbft or raft)"
            )),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pbft => "pbft",
            Protocol::Raft => "raft",
        })
    }
}

/// The seeded bugs by their command-line names (the models' names for the cores' bugs).
pub const BUG_NAMES: [(&str, SeededBug); 7] = [
    ("quorum-2f", SeededBug::PbftQuorumTwoF),
    ("no-lock", SeededBug::PbftNoLock),
    ("vote-twice", SeededBug::RaftVoteTwice),
    ("commit-old-term", SeededBug::RaftCommitOldTerm),
    (
        "sync-without-certificate",
        SeededBug::SyncWithoutCertificate,
    ),
    ("send-before-persist", SeededBug::SendBeforePersist),
    ("ack-before-durable", SeededBug::AckBeforeDurable),
];

pub fn parse_bug(s: &str) -> Result<SeededBug, String> {
    BUG_NAMES
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, b)| *b)
        .ok_or_else(|| {
            let names: Vec<&str> = BUG_NAMES.iter().map(|(n, _)| *n).collect();
            format!("unknown bug {s:?} (expected one of {})", names.join(", "))
        })
}

pub fn bug_name(b: SeededBug) -> &'static str {
    BUG_NAMES
        .iter()
        .find(|(_, x)| *x == b)
        .map_or("?", |(n, _)| *n)
}

/// A Byzantine behaviour, run in the simulated transport of one PBFT node
/// ([`crate::byzantine`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByzantineKind {
    /// Sends one block to some peers and another to the rest for each proposal.
    Equivocate,
    /// Sends nothing at all.
    Silent,
    /// Follows every vote with a validly signed vote for another block in the same slot.
    DoubleVote,
    /// Sends malformed frames, replays stale ones and lies about numbers, beside its
    /// honest traffic.
    Garbage,
    /// Claims a head above its own and answers block sync with a forged chain (valid
    /// blocks, certificates that do not match them).
    FakeSync,
}

pub const BYZANTINE_NAMES: [(&str, ByzantineKind); 5] = [
    ("equivocate", ByzantineKind::Equivocate),
    ("silent", ByzantineKind::Silent),
    ("double-vote", ByzantineKind::DoubleVote),
    ("garbage", ByzantineKind::Garbage),
    ("fake-sync", ByzantineKind::FakeSync),
];

impl fmt::Display for ByzantineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = BYZANTINE_NAMES
            .iter()
            .find(|(_, k)| k == self)
            .map_or("?", |(n, _)| *n);
        f.write_str(name)
    }
}

/// `KIND@NODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByzantineSpec {
    pub kind: ByzantineKind,
    pub node: u32,
}

impl FromStr for ByzantineSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, node) = s
            .split_once('@')
            .ok_or_else(|| format!("--byzantine {s:?}: expected KIND@NODE, e.g. silent@1"))?;
        let kind = BYZANTINE_NAMES
            .iter()
            .find(|(n, _)| *n == kind)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = BYZANTINE_NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown Byzantine kind {kind:?} (expected one of {})",
                    names.join(", ")
                )
            })?;
        let node = node
            .parse()
            .map_err(|_| format!("--byzantine {s:?}: {node:?} is not a node index"))?;
        Ok(ByzantineSpec { kind, node })
    }
}

impl fmt::Display for ByzantineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.kind, self.node)
    }
}

/// Where the simulated client resends a transaction that has no receipt yet
/// ([`crate::client`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resubmit {
    /// To the node it was first sent to while that node is up (a wallet talks to its one
    /// RPC endpoint: a node that already holds it answers "already known", so a forward
    /// lost on the way to the proposer stays lost); to a random live member only while
    /// that node is down.
    #[default]
    Same,
    /// To a random live member each time (the simulator's behaviour before: it hides a
    /// lost forward, since some other node admits it again and forwards it anew).
    Other,
}

impl FromStr for Resubmit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "same" => Ok(Resubmit::Same),
            "other" => Ok(Resubmit::Other),
            other => Err(format!(
                "unknown resubmission {other:?} (expected same or other)"
            )),
        }
    }
}

impl fmt::Display for Resubmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resubmit::Same => "same",
            Resubmit::Other => "other",
        })
    }
}

/// Virtual milliseconds of the faulty phase when `--ticks` is not given.
pub const TICKS_DEFAULT: u64 = 10_000;
/// Entries per shard of each node's state cache when `--state-cache-entries` is not given:
/// one (64 entries per store, below a short run's working set of accounts and slots), so
/// the cache evicts and refills all the time (spec/durability.md §2.1).
pub const STATE_CACHE_ENTRIES_DEFAULT: usize = 1;
/// Validators in a simulated cluster at most (keys, quorums and the event rate grow with it).
pub const NODES_MAX: u32 = 16;

/// One run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    pub protocol: Protocol,
    pub nodes: u32,
    pub seed: u64,
    /// Virtual milliseconds of the faulty phase (1 tick = 1 ms, the drivers' timer unit);
    /// a quiet phase follows in which faults stop and liveness is checked.
    pub ticks: u64,
    pub bug: Option<SeededBug>,
    pub byzantine: Option<ByzantineSpec>,
    /// The groups the nodes run; empty: one group, `protocol` on every node (the
    /// single-chain run, which replays every seed as before groups existed). When given,
    /// group 0's protocol is `protocol`.
    pub groups: Vec<SimGroup>,
    /// High-frequency-account settlement (spec/settlement.md; [`crate::settlement`]):
    /// group 0 is the merchant chain, the other groups are user chains, with a settler and
    /// relayers as simulated clients. `None`: no settlement contracts, no settlement actors.
    pub settlement: Option<SettlementSpec>,
    /// Entries per shard of the state cache (`bcos_storage::CachedStore`) in front of each
    /// node's chain store, so every checker runs with it; 0: the bare MemStore. The cache
    /// changes no answer, so not the trace either.
    pub state_cache_entries: usize,
    /// Where the client resends a transaction without a receipt (`--resubmit`).
    pub resubmit: Resubmit,
    /// Raft: the committee removes the last node from the voters a quarter into the faulty
    /// phase and adds it back at five eighths, by governance proposals
    /// (spec/governance.md GOV-R9), while the faults go on (`--membership-changes`).
    pub membership_changes: bool,
}

impl SimConfig {
    pub fn new(protocol: Protocol, nodes: u32, seed: u64) -> Self {
        SimConfig {
            protocol,
            nodes,
            seed,
            ticks: TICKS_DEFAULT,
            bug: None,
            byzantine: None,
            groups: Vec::new(),
            settlement: None,
            state_cache_entries: STATE_CACHE_ENTRIES_DEFAULT,
            resubmit: Resubmit::default(),
            membership_changes: false,
        }
    }

    /// `groups` on `nodes` nodes (`protocol` is group 0's).
    pub fn with_groups(nodes: u32, seed: u64, groups: Vec<SimGroup>) -> Self {
        let protocol = groups.first().map_or(Protocol::Pbft, |g| g.protocol);
        SimConfig {
            groups,
            ..SimConfig::new(protocol, nodes, seed)
        }
    }

    /// A settlement run on `nodes` nodes: group 0 the merchant chain and `user_chains` user
    /// chains, every group PBFT on every node (what `--settlement` gives).
    pub fn with_settlement(nodes: u32, seed: u64, user_chains: u32, spec: SettlementSpec) -> Self {
        let groups = (0..=user_chains)
            .map(|_| SimGroup::all_nodes(Protocol::Pbft, nodes))
            .collect();
        SimConfig {
            settlement: Some(spec),
            ..SimConfig::with_groups(nodes, seed, groups)
        }
    }

    /// The groups of the run, the single-chain run's one group included.
    pub fn group_list(&self) -> Vec<SimGroup> {
        if self.groups.is_empty() {
            vec![SimGroup::all_nodes(self.protocol, self.nodes)]
        } else {
            self.groups.clone()
        }
    }

    /// More than one group: events and frames name their group (in the trace too) and
    /// violations name theirs.
    pub fn multi_group(&self) -> bool {
        self.groups.len() > 1
    }

    /// Refuses combinations that cannot mean anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > NODES_MAX {
            return Err(format!("--nodes must be 1..={NODES_MAX}"));
        }
        if self.ticks == 0 {
            return Err("--ticks must be positive".into());
        }
        if self.membership_changes && (self.multi_group() || self.nodes < 3) {
            return Err("--membership-changes needs a single group of at least 3 nodes".into());
        }
        crate::groups::validate(&self.groups, self.nodes)?;
        if let Some(s) = &self.settlement {
            crate::settlement::validate(s, &self.group_list())?;
        }
        if self
            .groups
            .first()
            .is_some_and(|g| g.protocol != self.protocol)
        {
            return Err("group 0's protocol must be --protocol".into());
        }
        if let Some(b) = self.byzantine {
            if self.multi_group() {
                // The Byzantine modules forge frames of one chain (its vote domain, its
                // positions); several groups would need one module per group.
                return Err("a Byzantine node runs in single-group runs only".into());
            }
            if self.protocol == Protocol::Raft {
                return Err(
                    "Raft tolerates crash faults only; Byzantine nodes are a PBFT experiment"
                        .into(),
                );
            }
            if b.node >= self.nodes {
                return Err(format!("--byzantine node {} is not below --nodes", b.node));
            }
            if self.nodes < 4 {
                return Err("a Byzantine node needs --nodes >= 4 (n >= 3f + 1, f >= 1)".into());
            }
        }
        if let Some(bug) = self.bug {
            let pbft_only = matches!(
                bug,
                SeededBug::PbftQuorumTwoF
                    | SeededBug::PbftNoLock
                    | SeededBug::SyncWithoutCertificate
            );
            let raft_only = matches!(bug, SeededBug::RaftVoteTwice | SeededBug::RaftCommitOldTerm);
            // Every group's drivers carry the bug; it must live in one of them at least.
            let runs = |p: Protocol| self.group_list().iter().any(|g| g.protocol == p);
            if (pbft_only && !runs(Protocol::Pbft)) || (raft_only && !runs(Protocol::Raft)) {
                return Err(format!(
                    "bug {} does not exist in {} (it lives in the other protocol's code)",
                    bug_name(bug),
                    self.protocol
                ));
            }
        }
        Ok(())
    }

    /// The command line that replays this run.
    pub fn replay_command(&self) -> String {
        let mut s = format!(
            "cargo run --release -p bcos-sim -- --protocol {} --nodes {} --seed {} --ticks {}",
            self.protocol, self.nodes, self.seed, self.ticks
        );
        if let Some(b) = self.bug {
            s.push_str(&format!(" --bug {}", bug_name(b)));
        }
        if let Some(b) = self.byzantine {
            s.push_str(&format!(" --byzantine {b}"));
        }
        s.push_str(&crate::groups::cli_flags(&self.groups, self.nodes));
        if let Some(st) = &self.settlement {
            s.push_str(&crate::settlement::cli_flags(st));
        }
        if self.state_cache_entries != STATE_CACHE_ENTRIES_DEFAULT {
            s.push_str(&format!(
                " --state-cache-entries {}",
                self.state_cache_entries
            ));
        }
        if self.resubmit != Resubmit::default() {
            s.push_str(&format!(" --resubmit {}", self.resubmit));
        }
        if self.membership_changes {
            s.push_str(" --membership-changes");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for (name, bug) in BUG_NAMES {
            assert_eq!(parse_bug(name), Ok(bug));
            assert_eq!(bug_name(bug), name);
        }
        assert!(parse_bug("nope").is_err());
        let b: ByzantineSpec = "double-vote@2".parse().expect("parses");
        assert_eq!(b.to_string(), "double-vote@2");
        assert!("silent".parse::<ByzantineSpec>().is_err());
        assert!("loud@1".parse::<ByzantineSpec>().is_err());
    }

    #[test]
    fn a_non_default_state_cache_is_in_the_replay_command() {
        let mut c = SimConfig::new(Protocol::Pbft, 4, 1);
        assert!(!c.replay_command().contains("--state-cache-entries"));
        c.state_cache_entries = 0;
        assert!(c.replay_command().ends_with(" --state-cache-entries 0"));
    }

    #[test]
    fn a_non_default_resubmission_is_in_the_replay_command() {
        let mut c = SimConfig::new(Protocol::Pbft, 4, 1);
        assert!(!c.replay_command().contains("--resubmit"));
        for r in [Resubmit::Same, Resubmit::Other] {
            assert_eq!(r.to_string().parse::<Resubmit>(), Ok(r));
        }
        assert!("nope".parse::<Resubmit>().is_err());
        c.resubmit = Resubmit::Other;
        assert!(c.replay_command().ends_with(" --resubmit other"));
    }

    #[test]
    fn nonsense_combinations_are_refused() {
        let mut c = SimConfig::new(Protocol::Raft, 4, 1);
        c.byzantine = Some("silent@1".parse().expect("parses"));
        assert!(c.validate().is_err());
        let mut c = SimConfig::new(Protocol::Raft, 4, 1);
        c.bug = Some(SeededBug::PbftNoLock);
        assert!(c.validate().is_err());
        let mut c = SimConfig::new(Protocol::Pbft, 4, 1);
        c.byzantine = Some("silent@4".parse().expect("parses"));
        assert!(c.validate().is_err());
        assert!(SimConfig::new(Protocol::Pbft, 4, 1).validate().is_ok());
    }

    #[test]
    fn group_runs_refuse_what_they_cannot_mean() {
        let groups =
            crate::groups::groups_from_cli(4, Protocol::Pbft, 2, None, &[]).expect("two groups");
        let c = SimConfig::with_groups(4, 1, groups);
        assert!(c.validate().is_ok());
        assert!(c
            .replay_command()
            .ends_with("--groups 2 --group-protocols pbft,raft"));
        let mut byz = c.clone();
        byz.byzantine = Some("silent@1".parse().expect("parses"));
        assert!(byz.validate().is_err());
        let mut mismatch = c.clone();
        mismatch.protocol = Protocol::Raft;
        assert!(mismatch.validate().is_err());
        // A Raft bug lives in the Raft group.
        let mut bug = c;
        bug.bug = Some(SeededBug::RaftVoteTwice);
        assert!(bug.validate().is_ok());
    }
}
