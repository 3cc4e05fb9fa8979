//! Network and crash faults, chosen per run: loss (stateright's lossy network), duplication
//! and reordering (the network kind), crash-restart (stateright's crash/recover actions; a
//! node restarts from its [`DurableRecord`](crate::core::DurableRecord)); partitions (one node
//! cut off from the rest, then healed) for models wrapped in
//! [`Partitioned`](crate::partition::Partitioned) (raft).

use stateright::actor::Network;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// Which faults the environment may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Any message may be dropped.
    pub loss: bool,
    /// A delivered message may be delivered again, any number of times.
    pub duplication: bool,
    /// Messages between two nodes may arrive out of order.
    pub reordering: bool,
    /// Up to this many nodes may be crashed at once; each may restart from its durable record.
    pub crashes_max: usize,
    /// How many times the environment may cut one node off from the others (and heal the
    /// cut). Only models built with [`crate::partition::Partitioned`] honour it (raft).
    pub partitions_max: usize,
}

impl Faults {
    /// Loss, duplication, reordering and one crash at a time.
    pub fn all() -> Self {
        Faults {
            loss: true,
            duplication: true,
            reordering: true,
            crashes_max: 1,
            partitions_max: 0,
        }
    }

    /// The stateright network that realises duplication and reordering. Stateright has no
    /// ordered duplicating network, so duplication implies reordering.
    pub fn network<M: Eq + Hash + Ord + Clone>(&self) -> Network<M> {
        if self.duplication {
            Network::new_unordered_duplicating([])
        } else if self.reordering {
            Network::new_unordered_nonduplicating([])
        } else {
            Network::new_ordered([])
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown fault {0:?} (expected loss, dup, reorder, crash, partition, all or none)")]
pub struct UnknownFault(String);

/// Parses a comma-separated list: `loss,dup,reorder,crash,partition`, `all` or `none`
/// (`all` leaves partitions out: only some models honour them).
impl FromStr for Faults {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "loss" => f.loss = true,
                "dup" | "duplication" => f.duplication = true,
                "reorder" | "reordering" => f.reordering = true,
                "crash" => f.crashes_max = f.crashes_max.max(1),
                "partition" => f.partitions_max = f.partitions_max.max(1),
                "all" => f = Faults::all(),
                "none" => f = Faults::default(),
                other => return Err(UnknownFault(other.to_string())),
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.loss {
            parts.push("loss".to_string());
        }
        if self.duplication {
            parts.push("dup".to_string());
        }
        if self.reordering || self.duplication {
            parts.push("reorder".to_string());
        }
        if self.crashes_max > 0 {
            parts.push(format!("crash(max {})", self.crashes_max));
        }
        if self.partitions_max > 0 {
            parts.push(format!("partition(max {})", self.partitions_max));
        }
        if parts.is_empty() {
            f.write_str("none")
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
        assert!(f.loss && f.reordering && !f.duplication && f.crashes_max == 0);
        assert_eq!("all".parse::<Faults>().ok(), Some(Faults::all()));
        assert!("flood".parse::<Faults>().is_err());
        let p: Faults = "crash,partition".parse().unwrap_or_default();
        assert_eq!((p.crashes_max, p.partitions_max), (1, 1));
        assert_eq!(p.to_string(), "crash(max 1),partition(max 1)");
    }
}
