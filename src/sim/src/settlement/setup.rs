//! The settlement system contracts of a simulated run, built as the node builds them
//! (`bcos_node::settlement::SettlementShared::from_node`, `system_contracts`): a node
//! configuration of the simulated cluster (its member list with the validators' BLS keys and
//! proofs of possession, its `[[groups]]`, a `[settlement]` section) is checked by
//! `SettlementConfig::validate` and turned into the node's `Registry` (per user chain: chain
//! id, vote domain `group_id + g`, the members' BLS keys in position order), which is the
//! merchant chain's `CertificateCheck`.

use super::{SettlementSpec, MERCHANT_GROUP};
use crate::config::SimConfig;
use crate::setup::{self, Validator};
use bcos_execution::settlement::MerchantSettlement;
use bcos_execution::SystemContracts;
use bcos_node::config::NodeConfig;
use bcos_node::groups::config::GroupConfig;
use bcos_node::settlement::registry::Registry;
use bcos_node::settlement::{SettlementConfig, SettlementRole, SettlementShared};
use bcos_settlement::VerifierConfig;
use bcos_types::Address;
use std::sync::Arc;

/// What every group's executor gets.
pub struct SettlementSetup {
    pub registry: Arc<Registry>,
    /// Per group, by number.
    pub contracts: Vec<SystemContracts>,
}

/// The node configuration (node 0's; every member's registry is the same) of a settlement
/// run: the cluster, groups 1.. and `[settlement]` with group 0 as the merchant's.
pub fn node_config(
    cfg: &SimConfig,
    vals: &[Validator],
    merchant: Address,
) -> anyhow::Result<NodeConfig> {
    let groups = cfg.group_list();
    Ok(NodeConfig {
        chain: setup::group_chain(0)?.chain.clone(),
        cluster: Some(setup::cluster_config(cfg, vals, 0)),
        groups: groups
            .iter()
            .enumerate()
            .skip(1)
            .map(|(g, spec)| GroupConfig {
                consensus: setup::consensus_kind(spec.protocol),
                members: spec.members.clone(),
                ..GroupConfig::new(g as u32)
            })
            .collect(),
        settlement: Some(SettlementConfig {
            merchant,
            merchant_group: MERCHANT_GROUP as u32,
            user_groups: (1..groups.len() as u32).collect(),
            ..SettlementConfig::default()
        }),
        ..NodeConfig::default()
    })
}

/// The registry and each group's system contracts. Without a seeded bug they are
/// `bcos_node::settlement::system_contracts`'s; with one, the merchant chain's verifier
/// config carries it.
pub fn build(
    cfg: &SimConfig,
    vals: &[Validator],
    spec: &SettlementSpec,
    merchant: Address,
) -> anyhow::Result<SettlementSetup> {
    let node = node_config(cfg, vals, merchant)?;
    let shared = SettlementShared::from_node(&node)?
        .ok_or_else(|| anyhow::anyhow!("the settlement section went missing"))?;
    let contracts = (0..cfg.group_list().len() as u32)
        .map(|g| {
            let role = shared.config.role_of(g).map(|r| (shared.clone(), r));
            match (&role, spec.bug) {
                (Some((s, SettlementRole::Merchant)), Some(bug)) => SystemContracts::new(vec![
                    Arc::new(bcos_execution::cns::Cns),
                    Arc::new(MerchantSettlement {
                        merchant,
                        config: VerifierConfig {
                            bug: Some(bug),
                            ..s.registry.verifier_config()
                        },
                        check: s.registry.clone(),
                    }),
                ]),
                _ => bcos_node::settlement::system_contracts(role.as_ref()),
            }
        })
        .collect();
    Ok(SettlementSetup {
        registry: shared.registry.clone(),
        contracts,
    })
}
