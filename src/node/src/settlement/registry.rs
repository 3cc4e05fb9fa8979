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
    /// Its genesis validators' keys, in set order (`voters`, or every member).
    pub validators: Vec<BlsPublicKey>,
    /// Every member's key, in member order: what a set governance registered names
    /// (spec/governance.md GOV-R10).
    pub members: Vec<BlsPublicKey>,
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
            let nodes = member_nodes(cluster, &g)?;
            let members = nodes
                .iter()
                .map(|n| {
                    let at = cluster.members.iter().position(|m| m.index == *n);
                    at.and_then(|i| keys.get(i).cloned()).ok_or_else(|| {
                        anyhow::anyhow!("settlement: group {} names unknown node {n}", g.id)
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let voters = if g.id == 0 {
                &cluster.voters
            } else {
                &g.voters
            };
            let validators = if voters.is_empty() {
                members.clone()
            } else {
                let mut at: Vec<usize> = voters
                    .iter()
                    .map(|v| {
                        nodes.iter().position(|n| n == v).ok_or_else(|| {
                            anyhow::anyhow!("settlement: group {} voter {v} is no member", g.id)
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                at.sort_unstable();
                at.iter().map(|i| members[*i].clone()).collect()
            };
            let vote_domain = cluster.group_id.checked_add(g.id).ok_or_else(|| {
                anyhow::anyhow!("settlement: vote domain of group {} overflows", g.id)
            })?;
            chains.insert(
                chain_id_of(node, &g)?,
                UserChain {
                    group: g.id,
                    vote_domain,
                    validators,
                    members,
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

    fn check_members(
        &self,
        chain: ChainId,
        members: &[u32],
        header: &Header,
        certificate: &[u8],
    ) -> Result<(), String> {
        let c = self
            .chains
            .get(&chain)
            .ok_or_else(|| format!("chain {chain} is not registered"))?;
        let keys = members
            .iter()
            .map(|m| {
                c.members.get(*m as usize).cloned().ok_or_else(|| {
                    format!(
                        "chain {chain}: governance names member {m}, the registry holds {}",
                        c.members.len()
                    )
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        verify_header_certificate(c.vote_domain, &keys, header, header.hash(), certificate)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::votes::{encode_block_certificate, VoteBook, VoteSlot};
    use bcos_consensus::pbft::CommitBody;
    use bcos_crypto::bls::BlsSecretKey;
    use bcos_settlement::WithMembers;

    /// GOV-R10: after the user chain's governance left member 0 out, a certificate of its
    /// three remaining validators verifies against the set the merchant chain's committee
    /// registered, and not against the genesis set.
    #[test]
    fn a_registered_set_checks_certificates_of_a_changed_user_chain() {
        let secrets: Vec<BlsSecretKey> = (0..4)
            .map(|i| BlsSecretKey::from_seed(&[i as u8 + 1; 32]))
            .collect();
        let keys: Vec<BlsPublicKey> = secrets.iter().map(|k| k.public_key()).collect();
        let mut books: Vec<VoteBook> = secrets
            .iter()
            .enumerate()
            .map(|(i, k)| VoteBook::new(7, i, k.clone(), keys.clone(), 64, 64))
            .collect();
        for b in &mut books {
            b.set_validators_from(5, vec![1, 2, 3]);
        }
        let header = Header {
            number: 5,
            ..Default::default()
        };
        let body = CommitBody {
            block_hash: header.hash(),
            state_root: header.state_root,
            receipts_root: header.receipts_root,
        };
        let (slot, digest) = (VoteSlot::commit(5, 0), books[0].commit_digest(5, 0, body));
        books[1].sign(slot, digest);
        for i in [2, 3] {
            let sig = books[i].sign(slot, digest);
            books[1].record(slot, digest, i, sig);
        }
        let cert = encode_block_certificate(0, &books[1].certificate(digest).0.expect("quorum"));
        let registry = Registry {
            chains: [(
                9,
                UserChain {
                    group: 1,
                    vote_domain: 7,
                    validators: keys.clone(),
                    members: keys,
                },
            )]
            .into(),
        };
        assert!(
            registry.check(9, &header, &cert).is_err(),
            "genesis set of four"
        );
        registry
            .check_members(9, &[1, 2, 3], &header, &cert)
            .expect("the registered set");
        let far = registry
            .check_members(9, &[1, 2, 9], &header, &cert)
            .unwrap_err();
        assert!(far.contains("names member 9"), "{far}");
        let with = |members| WithMembers {
            inner: &registry,
            members,
        };
        assert!(with(Some(vec![1, 2, 3])).check(9, &header, &cert).is_ok());
        assert!(with(None).check(9, &header, &cert).is_err());
    }
}
