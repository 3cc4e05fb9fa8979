//! `[[groups]]`: the chains a node takes part in besides group 0 (spec/groups.md §1).
//!
//! Group 0 is the chain of `[chain]` and `[cluster]`, so a config without `[[groups]]` is
//! the single-chain node it always was. Every other group is derived from them: the same
//! genesis description with its own chain id, its own consensus, and a subset of the
//! cluster's nodes as members. [`for_group`] turns a group entry into the complete
//! [`NodeConfig`] of that group on this node, in which the consensus drivers see only the
//! group: `cluster.members` are the group's members, re-indexed `0..k` (their consensus
//! positions), and `cluster.index` is this node's position among them.

use crate::cluster::config::{ClusterConfig, ConsensusKind};
use crate::config::NodeConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Groups a node can be configured with at most (ids are below it too): a typo must not
/// open thousands of databases.
pub const GROUPS_MAX: u32 = 64;

/// One group besides group 0.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group number: `/g/<id>` on the RPC port and the tag of its P2P messages.
    pub id: u32,
    /// EIP-155 chain id; default `chain.chain_id + id`. Distinct per group, so a transaction
    /// signed for one group is refused by every other (no cross-group replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    #[serde(default)]
    pub consensus: ConsensusKind,
    /// Node indices (`cluster.members[].index`) of the group's members; empty: every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<u32>,
    /// Node indices voting from genesis (Raft voters, PBFT validators); empty: every member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voters: Vec<u32>,
    /// Accounts funded at the group's genesis instead of `chain.alloc`; unset: `chain.alloc`.
    /// The other genesis settings (dev accounts, base fee, EVM spec) are `[chain]`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alloc: Option<Vec<crate::config::GenesisAccount>>,
}

impl GroupConfig {
    pub fn new(id: u32) -> Self {
        GroupConfig {
            id,
            chain_id: None,
            consensus: ConsensusKind::Pbft,
            members: Vec::new(),
            voters: Vec::new(),
            alloc: None,
        }
    }
}

/// Group 0 as a group entry: the `[cluster]` consensus and every node.
pub fn group_zero(node: &NodeConfig) -> GroupConfig {
    GroupConfig {
        id: 0,
        chain_id: Some(node.chain.chain_id),
        consensus: node
            .cluster
            .as_ref()
            .map_or(ConsensusKind::Pbft, |c| c.consensus),
        members: Vec::new(),
        voters: Vec::new(),
        alloc: None,
    }
}

/// Where group `id`'s data lives under the node's data directory. Group 0 keeps the
/// single-chain layout (`<data_dir>/chain`, the consensus records beside it).
pub fn group_data_dir(node_data_dir: &Path, id: u32) -> PathBuf {
    if id == 0 {
        node_data_dir.to_path_buf()
    } else {
        node_data_dir.join("groups").join(id.to_string())
    }
}

/// Every group entry of the node, group 0 first; checks ids, chain ids and member lists.
pub fn all_groups(node: &NodeConfig) -> anyhow::Result<Vec<GroupConfig>> {
    let mut out = vec![group_zero(node)];
    let mut chain_ids = std::collections::BTreeMap::new();
    chain_ids.insert(node.chain.chain_id, 0u32);
    for g in &node.groups {
        if g.id == 0 || g.id >= GROUPS_MAX {
            anyhow::bail!(
                "groups: id {} is out of range (1..{GROUPS_MAX}; group 0 is [chain]/[cluster])",
                g.id
            );
        }
        if out.iter().any(|o| o.id == g.id) {
            anyhow::bail!("groups: id {} is listed twice", g.id);
        }
        if node.cluster.is_none() {
            anyhow::bail!(
                "groups: group {} needs a [cluster] section (groups run over the P2P network)",
                g.id
            );
        }
        let chain_id = chain_id_of(node, g)?;
        if let Some(other) = chain_ids.insert(chain_id, g.id) {
            anyhow::bail!(
                "groups: group {} has chain id {chain_id}, as group {other} does; each group \
                 needs its own, or transactions could be replayed across them",
                g.id
            );
        }
        out.push(g.clone());
    }
    Ok(out)
}

pub fn chain_id_of(node: &NodeConfig, g: &GroupConfig) -> anyhow::Result<u64> {
    match g.chain_id {
        Some(c) => Ok(c),
        None => node
            .chain
            .chain_id
            .checked_add(u64::from(g.id))
            .ok_or_else(|| anyhow::anyhow!("groups: chain id of group {} overflows", g.id)),
    }
}

/// Node indices of the group's members, ascending; every one must be a cluster node.
pub fn member_nodes(cluster: &ClusterConfig, g: &GroupConfig) -> anyhow::Result<Vec<u32>> {
    let nodes: Vec<u32> = cluster.members.iter().map(|m| m.index).collect();
    if g.members.is_empty() {
        return Ok(nodes);
    }
    let mut m = g.members.clone();
    m.sort_unstable();
    m.dedup();
    if m.len() != g.members.len() {
        anyhow::bail!("groups: group {} lists a member twice", g.id);
    }
    if let Some(bad) = m.iter().find(|i| !nodes.contains(i)) {
        anyhow::bail!(
            "groups: group {} names node {bad}, which is not in cluster.members",
            g.id
        );
    }
    Ok(m)
}

/// The complete configuration of group `g` on this node, or `None` when this node is not
/// one of its members (it then runs nothing of it and serves no RPC for it).
pub fn for_group(node: &NodeConfig, g: &GroupConfig) -> anyhow::Result<Option<NodeConfig>> {
    let mut out = node.clone();
    out.groups = Vec::new();
    out.chain.chain_id = chain_id_of(node, g)?;
    out.chain.data_dir = group_data_dir(&node.chain.data_dir, g.id);
    if let Some(alloc) = &g.alloc {
        out.chain.alloc = alloc.clone();
    }
    let Some(cluster) = &node.cluster else {
        return Ok((g.id == 0).then_some(out));
    };
    let nodes = member_nodes(cluster, g)?;
    let Some(me) = nodes.iter().position(|n| *n == cluster.index) else {
        return Ok(None);
    };
    let position = |node_index: u32| nodes.iter().position(|n| *n == node_index);
    let mut c = cluster.clone();
    c.consensus = g.consensus;
    // The vote domain: certificates of one group never verify in another.
    c.group_id = cluster
        .group_id
        .checked_add(g.id)
        .ok_or_else(|| anyhow::anyhow!("groups: vote group id of group {} overflows", g.id))?;
    c.members = nodes
        .iter()
        .enumerate()
        .filter_map(|(pos, n)| {
            let mut m = cluster.members.iter().find(|m| m.index == *n)?.clone();
            m.index = pos as u32;
            Some(m)
        })
        .collect();
    c.index = me as u32;
    c.node_indices = nodes.clone();
    let voters = if g.id == 0 {
        &cluster.voters
    } else {
        &g.voters
    };
    c.voters = voters
        .iter()
        .map(|v| {
            position(*v).map(|p| p as u32).ok_or_else(|| {
                anyhow::anyhow!("groups: group {} voter {v} is not one of its members", g.id)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    out.cluster = Some(c);
    Ok(Some(out))
}

/// Groups 1..`count` from the command line (`bcos init/up --groups G`), with
/// `--group-consensus G=raft` and `--group-members G=0,1,2` entries applied; group 0 is
/// `[cluster]`'s and takes neither.
pub fn groups_from_cli(
    count: u32,
    consensus: &[String],
    members: &[String],
) -> anyhow::Result<Vec<GroupConfig>> {
    if count == 0 || count > GROUPS_MAX {
        anyhow::bail!("--groups must be 1..={GROUPS_MAX}");
    }
    let mut out: Vec<GroupConfig> = (1..count).map(GroupConfig::new).collect();
    let entry = |spec: &str, flag: &str| -> anyhow::Result<(usize, String)> {
        let (g, value) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{flag} {spec:?}: expected GROUP=VALUE"))?;
        let g: u32 = g
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{flag} {spec:?}: {g:?} is not a group number"))?;
        if g == 0 || g >= count {
            anyhow::bail!("{flag} {spec:?}: group {g} is not one of 1..{count}");
        }
        Ok(((g - 1) as usize, value.trim().to_string()))
    };
    for spec in consensus {
        let (i, v) = entry(spec, "--group-consensus")?;
        out[i].consensus = v
            .parse()
            .map_err(|m: String| anyhow::anyhow!("--group-consensus {spec:?}: {m}"))?;
    }
    for spec in members {
        let (i, v) = entry(spec, "--group-members")?;
        out[i].members = v
            .split(',')
            .map(|n| {
                n.trim().parse().map_err(|_| {
                    anyhow::anyhow!("--group-members {spec:?}: {n:?} is not a node index")
                })
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::config::Member;

    fn node(index: u32, nodes: u32) -> NodeConfig {
        let mut n = NodeConfig::default();
        n.chain.data_dir = PathBuf::from("/d");
        n.cluster = Some(ClusterConfig {
            index,
            members: (0..nodes)
                .map(|i| Member {
                    index: i,
                    p2p_addr: ([127, 0, 0, 1], 30300 + i as u16).into(),
                    node_id: bcos_types::Address::repeat_byte(i as u8 + 1),
                    bls_public_key: format!("k{i}"),
                    bls_pop: String::new(),
                })
                .collect(),
            ..ClusterConfig::default()
        });
        n
    }

    #[test]
    fn a_subset_group_renumbers_its_members_and_leaves_out_non_members() {
        let mut g = GroupConfig::new(2);
        g.members = vec![3, 1, 2];
        g.consensus = ConsensusKind::Raft;
        let cfg = for_group(&node(3, 4), &g).unwrap().unwrap();
        let c = cfg.cluster.as_ref().unwrap();
        assert_eq!(cfg.chain.chain_id, 20202);
        assert_eq!(cfg.chain.data_dir, PathBuf::from("/d/groups/2"));
        assert_eq!(c.consensus, ConsensusKind::Raft);
        assert_eq!(c.index, 2, "node 3 is the third of {{1, 2, 3}}");
        let keys: Vec<_> = c
            .members
            .iter()
            .map(|m| (m.index, m.bls_public_key.as_str()))
            .collect();
        assert_eq!(keys, vec![(0, "k1"), (1, "k2"), (2, "k3")]);
        assert_eq!(c.group_id, ClusterConfig::default().group_id + 2);
        assert!(cfg.chain.alloc.is_empty());
        let funded = crate::config::GenesisAccount {
            address: bcos_types::Address::repeat_byte(7),
            balance_wei: "5".into(),
        };
        g.alloc = Some(vec![funded.clone()]);
        let cfg = for_group(&node(3, 4), &g).unwrap().unwrap();
        assert_eq!(cfg.chain.alloc, vec![funded]);
        assert!(
            for_group(&node(0, 4), &g).unwrap().is_none(),
            "node 0 is not a member"
        );
    }

    #[test]
    fn group_zero_keeps_the_single_chain_layout() {
        let n = node(1, 4);
        let cfg = for_group(&n, &group_zero(&n)).unwrap().unwrap();
        assert_eq!(cfg.chain.data_dir, PathBuf::from("/d"));
        assert_eq!(cfg.chain.chain_id, n.chain.chain_id);
        assert_eq!(cfg.cluster.unwrap().members.len(), 4);
    }

    #[test]
    fn the_command_line_names_groups_consensus_and_members() {
        let gs = groups_from_cli(3, &["2=raft".into()], &["2=0,1,2".into()]).unwrap();
        assert_eq!(gs.len(), 2);
        assert_eq!(gs[0], GroupConfig::new(1));
        assert_eq!(gs[1].consensus, ConsensusKind::Raft);
        assert_eq!(gs[1].members, vec![0, 1, 2]);
        assert!(groups_from_cli(1, &[], &[]).unwrap().is_empty());
        for (c, m) in [
            (vec!["3=raft".to_string()], vec![]),
            (vec!["1=paxos".to_string()], vec![]),
            (vec![], vec!["1=0,x".to_string()]),
            (vec![], vec!["raft".to_string()]),
        ] {
            assert!(groups_from_cli(3, &c, &m).is_err(), "{c:?} {m:?}");
        }
        assert!(groups_from_cli(0, &[], &[]).is_err());
    }

    #[test]
    fn bad_group_lists_are_refused_with_the_reason() {
        let mut n = node(0, 4);
        n.groups = vec![GroupConfig::new(1), GroupConfig::new(1)];
        assert!(format!("{:#}", all_groups(&n).unwrap_err()).contains("listed twice"));
        n.groups = vec![GroupConfig {
            chain_id: Some(n.chain.chain_id),
            ..GroupConfig::new(1)
        }];
        assert!(format!("{:#}", all_groups(&n).unwrap_err()).contains("replayed"));
        n.groups = vec![GroupConfig::new(GROUPS_MAX)];
        assert!(all_groups(&n).is_err());
        let mut g = GroupConfig::new(1);
        g.members = vec![0, 9];
        assert!(format!("{:#}", for_group(&n, &g).unwrap_err()).contains("node 9"));
        g.members = vec![0, 1];
        g.voters = vec![2];
        assert!(format!("{:#}", for_group(&n, &g).unwrap_err()).contains("voter 2"));
    }
}
