//! High-frequency-account settlement under simulation (spec/settlement.md, issue 14).
//!
//! `--settlement` makes group 0 the **merchant chain** and every other group a **user chain**
//! (PBFT: its BLS commit certificates are what the merchant chain checks). Each group's
//! executor gets the settlement system contract of its side exactly as the node installs it
//! (`bcos_node::settlement::system_contracts`, with the node's own `Registry` built from the
//! simulated validators' BLS keys and vote domains; [`setup`]). Simulated clients
//! ([`actors`]) then drive it:
//!
//! - **payers**: the user chains' simulated users pay the merchant's proxy account (a share
//!   of their transfers, [`crate::client::PAY_PERCENT`]);
//! - a **settler** per user chain sends `settle()` every few hundred virtual ms while the
//!   proxy holds something, one at a time, resent until it lands;
//! - **relayers** read committed user-chain blocks from a random live member, build each
//!   uncredited record's proof (`SettlementProof::build`) and submit it to the merchant chain;
//!   an honest one relays every record until it is credited, a Byzantine one replays,
//!   reorders, duplicates and forges.
//!
//! Their transactions reach a node over a client link that meets the run's seeded faults
//! (loss, duplication, delay; a node that is down when it arrives loses it), then the node's
//! gossip and pool like any transaction; crashes, partitions and the rest hit the chains as
//! usual. After every step the [`checker`] asserts exactly-once in order (XS-S1),
//! conservation (XS-S2), no credit beyond what was settled (XS-S3), credits only of records
//! the user chain produced (XS-S4) and the producer rules (XS-R1..R3); once the faults stop,
//! with an honest relayer, every payment must end up credited (XS-L1). A run that credited
//! nothing is INCONCLUSIVE, not PASS.

pub mod actors;
pub mod checker;
pub mod proofs;
pub mod report;
pub mod setup;

use crate::config::Protocol;
use crate::groups::SimGroup;
use crate::rng::SimRng;
use bcos_settlement::SeededBug;
use bcos_types::{keccak256, Address};
use std::fmt;
use std::str::FromStr;

/// The merchant chain's group.
pub const MERCHANT_GROUP: usize = 0;
/// Relayers in one run at most (each pays gas from a dev account of its own).
pub const RELAYERS_MAX: usize = 3;
/// Dev accounts (of the chain's 20) the random traffic uses in a settlement run; the others
/// belong to the settler and the relayers, whose nonces must not collide with the users'.
pub const CLIENT_ACCOUNTS: usize = 16;
/// The settler's dev account on every user chain (the node's `DEV_SETTLER_ACCOUNT`).
pub const SETTLER_ACCOUNT: usize = 19;

/// Relayer `i`'s dev account on the merchant chain.
pub fn relayer_account(i: usize) -> usize {
    SETTLER_ACCOUNT - 1 - i
}

/// The high-frequency merchant: its proxy account on each user chain and the account
/// credited on the merchant chain (no genesis funds it, nothing else pays it).
pub fn merchant() -> Address {
    Address::from_word(keccak256(b"bcos-sim merchant"))
}

/// What a relayer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayerKind {
    /// Submits the proof of every committed, uncredited record, again until it is credited.
    Honest,
    /// Replays credited records, submits records out of order and twice, and forges
    /// (a changed amount, a made-up record under a copied certificate, another chain's
    /// proof): everything must be refused or be the next record.
    Byzantine,
}

impl fmt::Display for RelayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelayerKind::Honest => "honest",
            RelayerKind::Byzantine => "byzantine",
        })
    }
}

impl FromStr for RelayerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "honest" => Ok(RelayerKind::Honest),
            "byzantine" => Ok(RelayerKind::Byzantine),
            other => Err(format!(
                "unknown relayer {other:?} (expected honest or byzantine)"
            )),
        }
    }
}

/// The verifier's seeded bugs by their command-line names (the model's, `check --bug`).
pub const BUG_NAMES: [(&str, SeededBug); 3] = SeededBug::NAMED;

pub fn parse_bug(s: &str) -> Result<SeededBug, String> {
    SeededBug::from_name(s).ok_or_else(|| {
        format!(
            "unknown settlement bug {s:?} (expected one of {})",
            SeededBug::names()
        )
    })
}

pub fn bug_name(b: SeededBug) -> &'static str {
    b.name()
}

/// A run's settlement: its relayers and an optional seeded bug of the merchant chain's
/// verifier (`VerifierConfig::bug`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettlementSpec {
    pub relayers: Vec<RelayerKind>,
    pub bug: Option<SeededBug>,
}

impl Default for SettlementSpec {
    /// One honest and one Byzantine relayer.
    fn default() -> Self {
        SettlementSpec {
            relayers: vec![RelayerKind::Honest, RelayerKind::Byzantine],
            bug: None,
        }
    }
}

impl SettlementSpec {
    /// Whether XS-L1 is judged: only an honest relayer promises that every record arrives.
    pub fn judges_liveness(&self) -> bool {
        self.relayers.contains(&RelayerKind::Honest)
    }
}

/// `--relayers honest,byzantine` (or `none`).
pub fn parse_relayers(s: &str) -> Result<Vec<RelayerKind>, String> {
    if s.trim() == "none" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|k| k.trim().parse())
        .collect::<Result<_, String>>()
        .map_err(|e| format!("--relayers {s:?}: {e}"))
}

/// Refuses settlement runs that cannot mean anything: fewer than two groups, a Raft user
/// chain (no signed certificate to check, spec/settlement.md §1), too many relayers.
pub fn validate(spec: &SettlementSpec, groups: &[SimGroup]) -> Result<(), String> {
    if groups.len() < 2 {
        return Err("--settlement needs a merchant chain and a user chain: --groups >= 2".into());
    }
    if let Some((g, _)) = groups
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, g)| g.protocol != Protocol::Pbft)
    {
        return Err(format!(
            "--settlement: group {g} is a user chain and must run PBFT (a Raft certificate \
             is not signed, so the merchant chain cannot check it)"
        ));
    }
    if spec.relayers.len() > RELAYERS_MAX {
        return Err(format!("--relayers: at most {RELAYERS_MAX}"));
    }
    Ok(())
}

/// The flags that reproduce `spec` (after `--groups ..`).
pub fn cli_flags(spec: &SettlementSpec) -> String {
    let relayers: Vec<String> = spec.relayers.iter().map(|r| r.to_string()).collect();
    let mut s = format!(
        " --settlement --relayers {}",
        if relayers.is_empty() {
            "none".to_string()
        } else {
            relayers.join(",")
        }
    );
    if let Some(b) = spec.bug {
        s.push_str(&format!(" --settlement-bug {}", bug_name(b)));
    }
    s
}

/// What a settlement run's link from a client (settler, relayer) to a node did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub delayed: u64,
    /// Arrived at a node that was down by then.
    pub to_down_node: u64,
    /// Found no live member to send to.
    pub no_node: u64,
    /// The node's pool refused it (already known, nonce too low, ...).
    pub refused: u64,
}

impl LinkStats {
    pub fn faults(&self) -> u64 {
        self.dropped + self.duplicated + self.delayed
    }
}

/// The settlement part of a running world.
pub struct Settlement {
    pub spec: SettlementSpec,
    pub merchant: Address,
    /// The user chains' groups.
    pub user_groups: Vec<usize>,
    /// How often the settler looks at the proxies, and how often each relayer runs a round
    /// (drawn from the seed).
    pub settle_every_ms: u64,
    pub relay_every_ms: u64,
    pub settlers: Vec<actors::Settler>,
    pub relayers: Vec<actors::Relayer>,
    pub checker: checker::SettlementChecker,
    pub link: LinkStats,
    /// When every payment was credited, ms after the faults stopped.
    pub complete_after_ms: Option<u64>,
}

impl Settlement {
    /// The settlement actors and checker of a world whose groups are `groups` (their
    /// clients are re-made: the settler's and relayers' accounts are taken out of the
    /// random traffic, and the user chains' users pay the merchant).
    pub fn new(
        spec: SettlementSpec,
        rng: &mut SimRng,
        groups: &mut [crate::group::Group],
    ) -> anyhow::Result<Settlement> {
        let merchant = merchant();
        let settle_every_ms = *rng.pick(&[100u64, 300, 1_000]).unwrap_or(&300);
        let relay_every_ms = *rng.pick(&[100u64, 250, 600]).unwrap_or(&250);
        for g in groups.iter_mut() {
            let c = &g.chain.chain;
            let keys = g.chain.genesis.keys.get(..CLIENT_ACCOUNTS).ok_or_else(|| {
                anyhow::anyhow!("the dev chain has fewer than {CLIENT_ACCOUNTS} accounts")
            })?;
            let client = crate::client::Client::new(keys, c.chain_id, c.base_fee_wei);
            g.client = if g.id as usize == MERCHANT_GROUP {
                client
            } else {
                client.paying(merchant)
            };
        }
        let user_groups: Vec<usize> = (0..groups.len()).filter(|g| *g != MERCHANT_GROUP).collect();
        let settlers = user_groups
            .iter()
            .map(|&g| actors::Settler::new(&groups[g]))
            .collect::<anyhow::Result<_>>()?;
        let relayers = spec
            .relayers
            .iter()
            .enumerate()
            .map(|(i, k)| actors::Relayer::new(*k, i, &groups[MERCHANT_GROUP]))
            .collect::<anyhow::Result<_>>()?;
        let checker = checker::SettlementChecker::new(
            merchant,
            user_groups
                .iter()
                .map(|&g| (g, groups[g].chain.chain.chain_id))
                .collect(),
        );
        Ok(Settlement {
            spec,
            merchant,
            user_groups,
            settle_every_ms,
            relay_every_ms,
            settlers,
            relayers,
            checker,
            link: LinkStats::default(),
            complete_after_ms: None,
        })
    }

    /// Liveness of the settlement: judged only with an honest relayer; then every payment
    /// is credited ([`checker::SettlementChecker::complete`]).
    pub fn done(&self) -> bool {
        !self.spec.judges_liveness() || self.checker.complete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_print_back() {
        assert_eq!(
            parse_relayers("honest, byzantine"),
            Ok(vec![RelayerKind::Honest, RelayerKind::Byzantine])
        );
        assert_eq!(parse_relayers("none"), Ok(vec![]));
        assert!(parse_relayers("sneaky").is_err());
        for (name, bug) in BUG_NAMES {
            assert_eq!(parse_bug(name), Ok(bug));
        }
        let spec = SettlementSpec {
            relayers: vec![],
            bug: Some(SeededBug::NoSeqCheck),
        };
        assert_eq!(
            cli_flags(&spec),
            " --settlement --relayers none --settlement-bug no-seq-check"
        );
        assert!(!spec.judges_liveness());
        assert!(SettlementSpec::default().judges_liveness());
    }

    #[test]
    fn raft_user_chains_and_single_groups_are_refused() {
        let pbft = SimGroup::all_nodes(Protocol::Pbft, 4);
        let raft = SimGroup::all_nodes(Protocol::Raft, 4);
        let spec = SettlementSpec::default();
        assert!(validate(&spec, std::slice::from_ref(&pbft)).is_err());
        assert!(validate(&spec, &[pbft.clone(), raft.clone()]).is_err());
        // A Raft merchant chain is allowed: it checks, it is not checked.
        assert!(validate(&spec, &[raft, pbft.clone()]).is_ok());
        let many = SettlementSpec {
            relayers: vec![RelayerKind::Honest; RELAYERS_MAX + 1],
            bug: None,
        };
        assert!(validate(&many, &[pbft.clone(), pbft]).is_err());
    }
}
