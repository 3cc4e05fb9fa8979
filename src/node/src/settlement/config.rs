//! `[settlement]` in the node config (docs/config.md): the merchant, the merchant chain and
//! the user chains, and how often user chains settle.

use crate::cluster::config::ConsensusKind;
use crate::config::NodeConfig;
use crate::groups::config::{all_groups, chain_id_of};
use bcos_types::Address;
use serde::{Deserialize, Serialize};

pub const DEFAULT_SETTLE_INTERVAL_MS: u64 = 1_000;
pub const DEFAULT_SETTLE_EVERY_BLOCKS: u64 = 50;
/// Gas limit of a `settle()` transaction (a plain call costs 21,000 plus calldata).
pub const SETTLE_GAS_LIMIT: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettlementConfig {
    /// The high-frequency merchant: its proxy account on every user chain and the account
    /// credited on the merchant chain are this one address.
    pub merchant: Address,
    /// The group whose chain credits the merchant. Default 0.
    pub merchant_group: u32,
    /// The user chains (PBFT groups: a Raft group has no signed commit certificate).
    pub user_groups: Vec<u32>,
    /// A user chain settles at least this often while its proxy holds something
    /// (XS-R1). Default 1,000.
    pub settle_interval_ms: u64,
    /// ...or after this many blocks since its last record, whichever comes first.
    /// Default 50.
    pub settle_every_blocks: u64,
    /// Hex secp256k1 secret key of the account that sends `settle()` on user chains (it pays
    /// the gas, so it needs a balance there). Empty: this node does not ask; anyone else may
    /// (`settle()` is permissionless). Every node may use the same key: they then sign the
    /// same transaction and the pool keeps one.
    pub settler_key: String,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        SettlementConfig {
            merchant: Address::ZERO,
            merchant_group: 0,
            user_groups: Vec::new(),
            settle_interval_ms: DEFAULT_SETTLE_INTERVAL_MS,
            settle_every_blocks: DEFAULT_SETTLE_EVERY_BLOCKS,
            settler_key: String::new(),
        }
    }
}

/// What a group is in settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementRole {
    Merchant,
    User,
}

impl SettlementConfig {
    pub fn role_of(&self, group: u32) -> Option<SettlementRole> {
        if group == self.merchant_group {
            Some(SettlementRole::Merchant)
        } else if self.user_groups.contains(&group) {
            Some(SettlementRole::User)
        } else {
            None
        }
    }

    /// Checks the section against the node's groups; the reason names the setting.
    pub fn validate(&self, node: &NodeConfig) -> anyhow::Result<()> {
        if self.merchant == Address::ZERO {
            anyhow::bail!("settlement.merchant must be set (the high-frequency account)");
        }
        if self.settle_interval_ms == 0 || self.settle_every_blocks == 0 {
            anyhow::bail!("settlement.settle_interval_ms and settle_every_blocks must be > 0");
        }
        let groups = all_groups(node)?;
        let find = |g: u32| groups.iter().find(|x| x.id == g);
        if find(self.merchant_group).is_none() {
            anyhow::bail!(
                "settlement.merchant_group {} is not a group",
                self.merchant_group
            );
        }
        if self.user_groups.is_empty() {
            anyhow::bail!("settlement.user_groups is empty");
        }
        let mut seen = std::collections::BTreeSet::new();
        for &g in &self.user_groups {
            if g == self.merchant_group || !seen.insert(g) {
                anyhow::bail!("settlement.user_groups lists group {g} twice or as the merchant's");
            }
            let cfg = find(g)
                .ok_or_else(|| anyhow::anyhow!("settlement.user_groups: {g} is not a group"))?;
            if node.cluster.is_some() && cfg.consensus != ConsensusKind::Pbft {
                anyhow::bail!(
                    "settlement.user_groups: group {g} runs {:?}; a user chain must run PBFT, \
                     whose BLS commit certificates the merchant chain verifies (Raft signs none)",
                    cfg.consensus
                );
            }
            chain_id_of(node, cfg)?;
        }
        if !self.settler_key.is_empty() {
            crate::settlement::settler::settler_secret(&self.settler_key)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;
    use crate::cluster::config::{ClusterConfig, Member};
    use crate::groups::config::GroupConfig;

    fn node(groups: &[(u32, ConsensusKind)]) -> NodeConfig {
        let mut n = NodeConfig::default();
        n.cluster = Some(ClusterConfig {
            members: (0..4)
                .map(|i| Member {
                    index: i,
                    p2p_addr: "127.0.0.1:1".parse().unwrap(),
                    node_id: Address::ZERO,
                    bls_public_key: String::new(),
                    bls_pop: String::new(),
                })
                .collect(),
            ..ClusterConfig::default()
        });
        n.groups = groups
            .iter()
            .map(|(id, c)| GroupConfig {
                consensus: *c,
                ..GroupConfig::new(*id)
            })
            .collect();
        n
    }

    fn cfg(users: &[u32]) -> SettlementConfig {
        SettlementConfig {
            merchant: Address::repeat_byte(0xaa),
            user_groups: users.to_vec(),
            ..SettlementConfig::default()
        }
    }

    fn refusal(n: &NodeConfig, s: &SettlementConfig) -> String {
        format!("{:#}", s.validate(n).unwrap_err())
    }

    #[test]
    fn a_pbft_user_group_is_accepted_and_roles_follow_the_lists() {
        let n = node(&[(1, ConsensusKind::Pbft), (2, ConsensusKind::Pbft)]);
        let s = cfg(&[1, 2]);
        s.validate(&n).unwrap();
        assert_eq!(s.role_of(0), Some(SettlementRole::Merchant));
        assert_eq!(s.role_of(2), Some(SettlementRole::User));
        assert_eq!(s.role_of(3), None);
    }

    #[test]
    fn bad_sections_are_refused_with_the_setting_named() {
        let n = node(&[(1, ConsensusKind::Pbft), (2, ConsensusKind::Raft)]);
        assert!(refusal(&n, &cfg(&[2])).contains("must run PBFT"));
        assert!(refusal(&n, &cfg(&[5])).contains("5 is not a group"));
        assert!(refusal(&n, &cfg(&[1, 1])).contains("twice"));
        assert!(refusal(&n, &cfg(&[0])).contains("merchant"));
        assert!(refusal(&n, &cfg(&[])).contains("user_groups is empty"));
        let mut no_merchant = cfg(&[1]);
        no_merchant.merchant = Address::ZERO;
        assert!(refusal(&n, &no_merchant).contains("settlement.merchant"));
        let mut bad_key = cfg(&[1]);
        bad_key.settler_key = "zz".into();
        assert!(refusal(&n, &bad_key).contains("settler_key"));
    }
}
