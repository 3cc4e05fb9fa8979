//! Network and crash faults, chosen per run: loss, duplication and reordering (the network
//! kind, [`NetKind`]) and crash-restart (a node restarts from its
//! [`DurableRecord`](crate::core::DurableRecord); crash and recovery are one step, see
//! `system.rs`).
//!
//! Partitions are not a separate fault: without loss, a partition only delays the messages
//! across the cut, and an asynchronous network already delays any message for as long as
//! the scheduler likes; with loss, it is a set of losses. So a partition adds no state that
//! the other faults do not reach.

use crate::net::NetKind;
use std::fmt;
use std::str::FromStr;

/// How many restarts the environment may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restarts {
    #[default]
    None,
    /// At most this many in a run.
    UpTo(u8),
    /// Any number, any node, any time (one node down at a time: crash and recovery are
    /// one step).
    Any,
}

impl Restarts {
    /// The bound the model enforces (`None`: unbounded; `Some(0)`: none).
    pub fn max(self) -> Option<u8> {
        match self {
            Restarts::None => Some(0),
            Restarts::UpTo(k) => Some(k),
            Restarts::Any => None,
        }
    }
}

/// Which faults the environment may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Any message may be lost.
    pub loss: bool,
    /// A delivered message may be delivered again, any number of times.
    pub duplication: bool,
    /// Messages between two nodes may arrive out of order.
    pub reordering: bool,
    pub restarts: Restarts,
}

impl Faults {
    /// Loss, duplication, reordering and crash-restart.
    pub fn all() -> Self {
        Faults {
            loss: true,
            duplication: true,
            reordering: true,
            restarts: Restarts::Any,
        }
    }

    /// The safety default: duplication and reordering (the set network, which admits every
    /// delivery order) and restarts; no loss (a lost message is one never delivered, which
    /// the unordered network already allows).
    pub fn safety() -> Self {
        Faults {
            loss: false,
            duplication: true,
            reordering: true,
            restarts: Restarts::Any,
        }
    }

    /// The network kind that realises duplication and reordering (duplication implies
    /// reordering: there is no ordered duplicating network).
    pub fn net(&self) -> NetKind {
        if self.duplication {
            NetKind::Set
        } else if self.reordering {
            NetKind::Bag
        } else {
            NetKind::Fifo
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BadFault {
    #[error("unknown fault {0:?} (expected loss, dup, reorder, crash, crash=N, all or none)")]
    Unknown(String),
    #[error(
        "partitions are not a separate fault: without loss a partition only delays messages \
         (every run already does), with loss it is a set of losses (`loss`)"
    )]
    Partition,
    #[error("bad restart count in {0:?}")]
    Count(String),
}

/// Parses a comma-separated list: `loss,dup,reorder,crash` (`crash=N`: at most N restarts),
/// `all` or `none`.
impl FromStr for Faults {
    type Err = BadFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "loss" => f.loss = true,
                "dup" | "duplication" => f.duplication = true,
                "reorder" | "reordering" => f.reordering = true,
                "crash" | "restart" => f.restarts = Restarts::Any,
                "partition" => return Err(BadFault::Partition),
                "all" => f = Faults::all(),
                "none" => f = Faults::default(),
                other => match other.strip_prefix("crash=") {
                    Some(k) => {
                        let k: u8 = k.parse().map_err(|_| BadFault::Count(other.to_string()))?;
                        f.restarts = Restarts::UpTo(k);
                    }
                    None => return Err(BadFault::Unknown(other.to_string())),
                },
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.loss {
            parts.push("loss".into());
        }
        if self.duplication {
            parts.push("dup".into());
        }
        if self.reordering || self.duplication {
            parts.push("reorder".into());
        }
        match self.restarts {
            Restarts::None => {}
            Restarts::UpTo(k) => parts.push(format!("crash(≤ {k} restarts)")),
            Restarts::Any => parts.push("crash".into()),
        }
        if parts.is_empty() {
            f.write_str("none (FIFO)")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_rejects_unknown() {
        let f: Faults = "loss, reorder".parse().unwrap_or_default();
        assert!(f.loss && f.reordering && !f.duplication && f.restarts == Restarts::None);
        assert_eq!("all".parse::<Faults>().ok(), Some(Faults::all()));
        assert!("flood".parse::<Faults>().is_err());
        assert!(matches!(
            "partition".parse::<Faults>(),
            Err(BadFault::Partition)
        ));
        let c: Faults = "dup,crash=2".parse().unwrap_or_default();
        assert_eq!(c.restarts, Restarts::UpTo(2));
        assert_eq!(c.to_string(), "dup,reorder,crash(≤ 2 restarts)");
        assert_eq!(c.net(), NetKind::Set);
    }
}
