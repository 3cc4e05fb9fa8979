//! The merchant chain's registry of user chains (spec/settlement.md §7, XS-R4/R5): for each,
//! its chain id, its vote domain and its validators' BLS keys, read from this node's config
//! at start. Every member of the merchant chain must hold the same registry (like its
//! genesis); one that differs computes other state roots and is outvoted.

use super::config::SettlementConfig;
use crate::cluster::votes::verify_header_certificate;
use crate::config::NodeConfig;
use crate::groups::config::{all_groups, chain_id_of, member_nodes};
use bcos_crypto::bls::BlsPublicKey;
use bcos_settlement::{CertificateCheck, ChainId, VerifierConfig};
use bcos_types::Header;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct UserChain {
    pub group: u32,
    /// `VoteData::group_id` of the chain's votes: a certificate of another group never
    /// verifies here.
    pub vote_domain: u32,
    /// In the order of the chain's validator indices (its members).
    pub validators: Vec<BlsPublicKey>,
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub chains: BTreeMap<ChainId, UserChain>,
}

impl Registry {
    /// Builds the registry of `settlement.user_groups` from the cluster's member list, each
    /// key checked against its proof of possession.
    pub fn from_config(node: &NodeConfig, s: &SettlementConfig) -> anyhow::Result<Self> {
        let cluster = node.cluster.as_ref().ok_or_else(|| {
            anyhow::anyhow!("settlement needs a cluster: a solo node has no commit certificates")
        })?;
        let keys = cluster.validator_keys()?;
        let mut chains = BTreeMap::new();
        for g in all_groups(node)? {
            if !s.user_groups.contains(&g.id) {
                continue;
            }
            let validators = member_nodes(cluster, &g)?
                .iter()
                .map(|n| {
                    let at = cluster.members.iter().position(|m| m.index == *n);
                    at.and_then(|i| keys.get(i).cloned()).ok_or_else(|| {
                        anyhow::anyhow!("settlement: group {} names unknown node {n}", g.id)
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let vote_domain = cluster.group_id.checked_add(g.id).ok_or_else(|| {
                anyhow::anyhow!("settlement: vote domain of group {} overflows", g.id)
            })?;
            chains.insert(
                chain_id_of(node, &g)?,
                UserChain {
                    group: g.id,
                    vote_domain,
                    validators,
                },
            );
        }
        Ok(Registry { chains })
    }

    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            chains: self.chains.keys().copied().collect(),
            bug: None,
        }
    }
}

impl CertificateCheck for Registry {
    fn check(&self, chain: ChainId, header: &Header, certificate: &[u8]) -> Result<(), String> {
        let c = self
            .chains
            .get(&chain)
            .ok_or_else(|| format!("chain {chain} is not registered"))?;
        verify_header_certificate(
            c.vote_domain,
            &c.validators,
            header,
            header.hash(),
            certificate,
        )
        .map_err(|e| e.to_string())
    }
}
