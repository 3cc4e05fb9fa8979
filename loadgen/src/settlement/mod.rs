//! High-frequency accounts over user chains (issue 14; spec/settlement.md): the cluster's
//! group 0 is the merchant chain, groups 1..=U are user chains on which the merchant's proxy
//! account is the merchant's own address, every user chain settles what its proxy holds into
//! numbered records (the nodes' settler), and one `bcos relay` per user chain carries them to
//! the merchant chain, which credits the merchant.
//!
//! The `hf-account` workload then runs over the user chains only (its users split over them,
//! paying the merchant — Zipf over merchants when there are several; the high-frequency
//! merchant is merchant 0, the most popular; the others are plain accounts on the user
//! chains). Besides the payments' TPS and latency (submit -> commit on the user chain, the
//! engine's figures), each level measures:
//!
//! - the **settlement lag** ([`lag`]): from a payment's commit on its user chain (the commit
//!   tracker's time) to the time loadgen first saw the record holding it credited on the
//!   merchant chain ([`monitor`] polls `bcos_getSettlementStatus`); a payment at position
//!   (block b, index i) is in the first record made after it, i.e. the first `Settlement`
//!   log at a position after (b, i) (the first record with `record.block >= b` where the
//!   log carries no transaction index);
//! - **conservation** (XS-S2, [`ledger`]): merchant balance + Σ proxies + Σ (settled −
//!   credited) grows by exactly what the run paid the merchant, checked once the last
//!   settlement has landed (a bounded wait); a violation fails the run.
//!
//! [`level`] ties these to one load level; [`status`] reads the nodes' settlement status.

pub mod lag;
pub mod ledger;
pub mod level;
pub mod monitor;
pub mod status;

use crate::error::usage;
use crate::profile::NodeSpec;
use crate::rpc_client::RpcClient;
use alloy_primitives::Address;

/// The test mnemonic's account the nodes' settler signs `settle()` with on dev chains
/// (`DEV_SETTLER_ACCOUNT` in src/node/src/settlement/relay.rs).
pub const DEV_SETTLER_ACCOUNT: usize = 19;
/// User chains a dev cluster can have a relayer for: user chain g's relayer pays with the
/// test mnemonic's account 19 - g (`dev_relayer_account` in the node), so g ≤ 9.
pub const USER_CHAINS_MAX: usize = 9;
/// With settlement, load accounts are funded only from the test mnemonic's accounts below
/// this one: the accounts above belong to the settler and the relayers (their nonces must
/// not race loadgen's).
pub const DEV_FUNDERS_SETTLEMENT_MAX: usize = DEV_SETTLER_ACCOUNT - USER_CHAINS_MAX;
/// The merchant chain's group (`bcos init --hf-merchant` makes group 0 the merchant's).
pub const MERCHANT_GROUP: usize = 0;

/// The dev relayer account of user chain `group`.
pub fn dev_relayer_account(group: usize) -> Option<usize> {
    (1..=USER_CHAINS_MAX)
        .contains(&group)
        .then(|| DEV_SETTLER_ACCOUNT - group)
}

/// What a target with high-frequency accounts looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct SettlementTarget {
    /// The high-frequency merchant (its proxy on every user chain is this same address).
    pub merchant: Address,
    /// Groups 1..=U.
    pub user_groups: Vec<usize>,
    /// How often the user chains settle, where loadgen set it (embedded clusters).
    pub settle_interval_ms: Option<u64>,
}

impl SettlementTarget {
    pub fn new(merchant: Address, user_chains: usize) -> SettlementTarget {
        SettlementTarget {
            merchant,
            user_groups: (1..=user_chains).collect(),
            settle_interval_ms: None,
        }
    }
}

/// Checks a node spec's `user_chains` (after [`NodeSpec::apply_user_chains`]): at most
/// [`USER_CHAINS_MAX`], PBFT (a user chain needs PBFT's commit certificates), a cluster.
/// `remote`: nodes given by `--url`, whose layout `Target::remote` checks instead.
pub fn check(node: &NodeSpec, remote: bool) -> Result<(), String> {
    let u = node.user_chains;
    if u == 0 {
        return Ok(());
    }
    if u > USER_CHAINS_MAX {
        return Err(format!(
            "user_chains = {u}: at most {USER_CHAINS_MAX} (user chain g's relayer pays with the test mnemonic's account {DEV_SETTLER_ACCOUNT} - g)"
        ));
    }
    if node.groups != u + 1 {
        return Err(format!(
            "user_chains = {u} needs groups = {} (the merchant chain and the user chains), not {}",
            u + 1,
            node.groups
        ));
    }
    if !remote && node.consensus != "pbft" {
        return Err(format!(
            "user_chains = {u} needs consensus = \"pbft\" (user chains must be PBFT: the merchant chain verifies their commit certificates), not {:?}",
            node.consensus
        ));
    }
    Ok(())
}

/// `bcos init` arguments that make the cluster's groups a merchant chain and user chains.
pub fn init_args(node: &NodeSpec, merchant: &Address) -> Vec<String> {
    if node.user_chains == 0 {
        return Vec::new();
    }
    let mut args = vec!["--hf-merchant".to_string(), format!("{merchant:#x}")];
    if let Some(ms) = node.settle_interval_ms {
        args.extend(["--settle-interval-ms".to_string(), ms.to_string()]);
    }
    if let Some(b) = node.settle_every_blocks {
        args.extend(["--settle-every-blocks".to_string(), b.to_string()]);
    }
    args
}

/// The settlement layout of the remote node at `url`: group 0 a merchant chain, groups
/// 1..=`user_chains` its user chains (a usage error naming the first group that is not).
pub fn attach(url: &str, user_chains: usize, groups: usize) -> anyhow::Result<SettlementTarget> {
    let gu = |g: usize| crate::groups::group_url(url, g, groups);
    let merchant = RpcClient::connect(&gu(0)).and_then(|mut c| status::merchant(&mut c));
    let merchant = match merchant {
        Ok(m) => m.merchant,
        Err(e) => {
            return usage(format!(
                "--user-chains {user_chains}: group 0 of the node at {url} is not a merchant chain ({e:#}); start the cluster with `bcos init --groups {groups} --hf-merchant ...`"
            ))
        }
    };
    for g in 1..=user_chains {
        if let Err(e) = RpcClient::connect(&gu(g)).and_then(|mut c| status::user(&mut c)) {
            return usage(format!(
                "--user-chains {user_chains}: group {g} of the node at {url} is not a user chain ({e:#})"
            ));
        }
    }
    Ok(SettlementTarget::new(merchant, user_chains))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(u: usize, consensus: &str) -> NodeSpec {
        let mut n = NodeSpec::new(4, consensus);
        n.user_chains = u;
        n
    }

    #[test]
    fn user_chains_set_the_groups_and_are_checked() {
        let mut n = spec(4, "pbft");
        assert_eq!(n.apply_user_chains(), Ok(()));
        assert_eq!((n.groups, n.load_groups()), (5, 4));
        assert_eq!(check(&n, false), Ok(()));
        let mut given = spec(2, "pbft");
        given.groups = 3;
        assert_eq!(given.apply_user_chains(), Ok(()));
        let mut wrong = spec(2, "pbft");
        wrong.groups = 4;
        let err = wrong.apply_user_chains().err().unwrap_or_default();
        assert!(err.contains("groups = 3"), "{err}");
        let mut raft = spec(2, "raft");
        let _ = raft.apply_user_chains();
        let err = check(&raft, false).err().unwrap_or_default();
        assert!(err.contains("pbft"), "{err}");
        assert_eq!(check(&raft, true), Ok(()), "remote: the nodes' own layout");
        let mut many = spec(10, "pbft");
        let _ = many.apply_user_chains();
        assert!(check(&many, false)
            .err()
            .unwrap_or_default()
            .contains("at most 9"));
        let mut off = spec(0, "pbft");
        assert_eq!(off.apply_user_chains(), Ok(()));
        assert_eq!((off.groups, off.load_groups()), (1, 1));
    }

    #[test]
    fn relayers_and_funders_use_distinct_dev_accounts() {
        let relayers: Vec<usize> = (1..=USER_CHAINS_MAX)
            .filter_map(dev_relayer_account)
            .collect();
        assert_eq!(relayers.len(), USER_CHAINS_MAX);
        assert!(relayers
            .iter()
            .all(|&a| (DEV_FUNDERS_SETTLEMENT_MAX..DEV_SETTLER_ACCOUNT).contains(&a)));
        assert_eq!(dev_relayer_account(0), None);
        assert_eq!(dev_relayer_account(10), None);
    }

    #[test]
    fn init_args_name_the_merchant_and_the_intervals() {
        let mut n = spec(2, "pbft");
        let m = Address::repeat_byte(0xaa);
        assert_eq!(
            init_args(&n, &m),
            [
                "--hf-merchant",
                "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            ]
        );
        n.settle_interval_ms = Some(500);
        n.settle_every_blocks = Some(20);
        assert_eq!(init_args(&n, &m).len(), 6);
        assert!(init_args(&spec(0, "pbft"), &m).is_empty());
    }
}
