//! Byzantine behaviours, one module each, written as transformers of an honest core's outputs
//! (the Byzantine node runs the real core and lies about what it says). Behaviours that need
//! to know what a message means use the [`ModelCore`] hooks `forge_proposal` / `forge_vote`,
//! which each protocol implements; for a protocol without them the behaviour is honest.

pub mod double_vote;
pub mod equivocate;
pub mod hide_lock;
pub mod silent;

use crate::core::ModelCore;
use bcos_consensus::{NodeIndex, Output};
use std::fmt;
use std::str::FromStr;

/// How one node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Role {
    #[default]
    Honest,
    /// Sends different proposals to different peers ([`equivocate`]).
    Equivocate,
    /// Says nothing and ignores everything ([`silent`]).
    Silent,
    /// Votes for two digests at once ([`double_vote`]).
    DoubleVote,
    /// Claims no lock in its view changes ([`hide_lock`]).
    HideLock,
}

impl Role {
    pub fn is_honest(self) -> bool {
        self == Role::Honest
    }

    /// Shown after the node's name in traces.
    pub fn suffix(self) -> &'static str {
        match self {
            Role::Honest => "",
            Role::Equivocate => "(equivocating)",
            Role::Silent => "(silent)",
            Role::DoubleVote => "(double-voter)",
            Role::HideLock => "(hides locks)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown Byzantine behaviour {0:?} (expected equivocate, silent, double-vote, hide-lock or honest)"
)]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "honest" => Ok(Role::Honest),
            "equivocate" => Ok(Role::Equivocate),
            "silent" => Ok(Role::Silent),
            "double-vote" => Ok(Role::DoubleVote),
            "hide-lock" => Ok(Role::HideLock),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Honest => "honest",
            Role::Equivocate => "equivocate",
            Role::Silent => "silent",
            Role::DoubleVote => "double-vote",
            Role::HideLock => "hide-lock",
        })
    }
}

/// The outputs a node with `role` actually emits for the honest core's `outs`.
pub fn transform<P: ModelCore>(
    role: Role,
    me: NodeIndex,
    n: u32,
    outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
) -> Vec<Output<P::Message, P::Timer, P::Durable>> {
    match role {
        Role::Honest => outs,
        Role::Silent => silent::transform::<P>(outs),
        Role::Equivocate => equivocate::transform::<P>(me, n, outs),
        Role::DoubleVote => double_vote::transform::<P>(outs),
        Role::HideLock => hide_lock::transform::<P>(outs),
    }
}
