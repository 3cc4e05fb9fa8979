//! High-frequency accounts on this node (spec/settlement.md §9): which of its groups is the
//! merchant chain and which are user chains, the settlement system contract each gets, the
//! settler that asks a user chain to settle, and the RPC view of both sides.

pub mod config;
pub mod registry;
pub mod relay;
pub mod settler;
pub mod status;

pub use config::{SettlementConfig, SettlementRole};

use registry::Registry;
use status::GroupApis;
use std::sync::Arc;

/// What every group of a node shares for settlement, built once from the whole config.
pub struct SettlementShared {
    pub config: SettlementConfig,
    /// The user chains the merchant chain accepts, with their validator sets.
    pub registry: Arc<Registry>,
    pub group_apis: GroupApis,
}

impl SettlementShared {
    /// Checks `[settlement]` and builds the registry; `None` when the section is absent.
    pub fn from_node(node: &crate::config::NodeConfig) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(cfg) = &node.settlement else {
            return Ok(None);
        };
        cfg.validate(node)?;
        let registry = Registry::from_config(node, cfg)?;
        Ok(Some(Arc::new(SettlementShared {
            config: cfg.clone(),
            registry: Arc::new(registry),
            group_apis: GroupApis::default(),
        })))
    }
}

/// The system contracts of a group's chain: the CNS in every group (spec/execution.md §7)
/// and, where the group takes part in settlement (`role`), the settlement contract of its
/// side.
pub fn system_contracts(
    role: Option<&(Arc<SettlementShared>, SettlementRole)>,
) -> bcos_execution::SystemContracts {
    use bcos_execution::settlement::{MerchantSettlement, UserSettlement};
    let mut contracts: Vec<Arc<dyn bcos_execution::SystemContract>> = vec![
        Arc::new(bcos_execution::cns::Cns),
        Arc::new(bcos_execution::governance::Governance),
    ];
    match role {
        Some((s, SettlementRole::User)) => contracts.push(Arc::new(UserSettlement {
            merchant: s.config.merchant,
        })),
        Some((s, SettlementRole::Merchant)) => contracts.push(Arc::new(MerchantSettlement {
            merchant: s.config.merchant,
            config: s.registry.verifier_config(),
            check: s.registry.clone(),
        })),
        None => {}
    }
    bcos_execution::SystemContracts::new(contracts)
}
