//! `bcos init`: a chain CA, per-node keys (secp256k1 node id, BLS vote key, CA-signed TLS
//! certificate) and per-node configs for an N-node group.
//!
//! Layout of `out`:
//! ```text
//! ca/ca.crt, ca/ca.key        the chain CA (keep ca.key offline; only `bcos init` needs it)
//! node<i>/config.toml         node i's full configuration
//! node<i>/keys/               node_id.key, bls.key, node.crt, node.key, ca.crt
//! node<i>/data/               chain data (created at first start)
//! ```
//! Node i listens for P2P on `host_i:(p2p_port + i)` and serves RPC on
//! `rpc_host_i:(rpc_port + i)`, so a one-host cluster needs no port juggling.
//!
//! A production chain is the default: its admin (the genesis governance committee, which changes
//! the validator set) is `--admin`, its funded accounts come from `--alloc`, no key anyone
//! else knows is funded or privileged, and RPC binds to loopback unless `--rpc-hosts` says
//! otherwise. `--dev` instead funds the public test mnemonic's accounts and makes the first
//! of them the admin (what `bcos up` and the tests use).
//!
//! Every member's BLS key is written with its proof of possession (PBFT-K1), and TLS
//! certificates carry the node id and expire after `cert_validity_days` (P2P-I1, P2P-I2).

use super::config::{ClusterConfig, ConsensusKind, Member};
use super::keys::{generate_node_key, random_32, save_secret_keys};
use crate::config::{GenesisAccount, NodeConfig};
use anyhow::{bail, Context};
use bcos_crypto::bls::BlsSecretKey;
use bcos_net::pki::Validity;
use bcos_types::Address;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct InitOptions {
    pub nodes: usize,
    /// One host for all nodes, or one per node.
    pub hosts: Vec<IpAddr>,
    pub out: PathBuf,
    pub p2p_port: u16,
    pub rpc_port: u16,
    pub chain_id: u64,
    pub consensus: ConsensusKind,
    /// The first `voters` nodes vote from genesis (0 = all), Raft or PBFT; the others join
    /// by governance.
    pub voters: usize,
    /// Nodes allowed at most (the certificate bitmap and the PBFT quorum math are fine far
    /// beyond; the limit keeps a typo from generating thousands of keys).
    pub nodes_max: usize,
    /// A development chain: the public test mnemonic's accounts are funded and the first of
    /// them is the admin unless `admin` is given.
    pub dev: bool,
    /// The chain admin: the genesis committee unless `committee` is given. Required unless
    /// `dev`.
    pub admin: Option<Address>,
    /// Accounts funded at genesis (besides the dev accounts of a dev chain).
    pub alloc: Vec<GenesisAccount>,
    /// RPC bind address per node (one for all, or one per node); empty: 127.0.0.1 for a
    /// production chain, the P2P host for a dev chain.
    pub rpc_hosts: Vec<IpAddr>,
    /// Lifetime of the node TLS certificates, in days.
    pub cert_validity_days: u32,
    /// Lifetime of the chain CA certificate, in days.
    pub ca_validity_days: u32,
    /// Groups besides group 0, written into every node's config (`[[groups]]`).
    pub groups: Vec<crate::groups::config::GroupConfig>,
    /// Node i's admin listener (group lifecycle) is 127.0.0.1:`admin_port + i`; 0: none.
    pub admin_port: u16,
    /// `[settlement]` for every node (high-frequency accounts), if any.
    pub settlement: Option<crate::settlement::SettlementConfig>,
    /// The governance committee at genesis (spec/governance.md GOV-R1); empty: the admin
    /// alone, weight 1.
    pub committee: Vec<crate::config::CommitteeMember>,
    /// 0: more than half of the committee's total weight.
    pub committee_threshold: u64,
    pub proposal_lifetime_blocks: u64,
    pub regulator: Option<Address>,
}

pub const NODES_MAX_DEFAULT: usize = 64;

/// Node i's admin listener is on 127.0.0.1:8645 + i: above the RPC ports 8545 + i of up to
/// `NODES_MAX_DEFAULT` nodes, and on loopback only.
pub const ADMIN_PORT_DEFAULT: u16 = 8645;

/// Why `bcos init` needs `--admin` or `--dev`.
pub const NO_ADMIN_ERROR: &str = "bcos init writes a production chain by default, which needs \
its admin: pass --admin 0x<address> (the genesis governance committee, which alone changes \
the chain's rules and validators until it adds members; or give --committee) and, to fund \
accounts, --alloc FILE (JSON or TOML: \
address -> balance in wei). For a throwaway development chain whose admin and funded \
accounts are the public test mnemonic's (anyone can sign as them), pass --dev instead";

impl InitOptions {
    /// Options for `n` nodes on one host with every default (a production chain: set
    /// `admin` or `dev` before use).
    pub fn new(nodes: usize, host: IpAddr, out: PathBuf) -> Self {
        InitOptions {
            nodes,
            hosts: vec![host],
            out,
            p2p_port: 30300,
            rpc_port: 8545,
            chain_id: 20200,
            consensus: ConsensusKind::Pbft,
            voters: 0,
            nodes_max: NODES_MAX_DEFAULT,
            dev: false,
            admin: None,
            alloc: Vec::new(),
            rpc_hosts: Vec::new(),
            cert_validity_days: bcos_net::pki::NODE_CERT_VALIDITY_DAYS_DEFAULT,
            ca_validity_days: bcos_net::pki::CA_VALIDITY_DAYS_DEFAULT,
            groups: Vec::new(),
            admin_port: ADMIN_PORT_DEFAULT,
            settlement: None,
            committee: Vec::new(),
            committee_threshold: 0,
            proposal_lifetime_blocks: bcos_types::governance::GOV_LIFETIME_BLOCKS_DEFAULT,
            regulator: None,
        }
    }
}

pub fn node_dir(out: &Path, i: usize) -> PathBuf {
    out.join(format!("node{i}"))
}

/// Writes the cluster; refuses to overwrite an existing one.
pub fn init_cluster(o: &InitOptions) -> anyhow::Result<Vec<PathBuf>> {
    if o.nodes == 0 || o.nodes > o.nodes_max {
        bail!("--nodes must be 1..={}", o.nodes_max);
    }
    if o.hosts.len() != 1 && o.hosts.len() != o.nodes {
        bail!(
            "--hosts lists {} hosts; give one for all nodes or one per node ({})",
            o.hosts.len(),
            o.nodes
        );
    }
    if o.rpc_hosts.len() > 1 && o.rpc_hosts.len() != o.nodes {
        bail!(
            "--rpc-hosts lists {} hosts; give one for all nodes or one per node ({})",
            o.rpc_hosts.len(),
            o.nodes
        );
    }
    if o.cert_validity_days == 0 || o.ca_validity_days == 0 {
        bail!("--cert-validity-days and --ca-validity-days must be positive");
    }
    {
        // the same checks a node makes at start, before any key is written
        let mut probe = NodeConfig::default();
        probe.chain.chain_id = o.chain_id;
        probe.cluster = Some(ClusterConfig {
            members: (0..o.nodes as u32)
                .map(|i| Member {
                    index: i,
                    p2p_addr: SocketAddr::new(o.hosts[0], 0),
                    node_id: Address::ZERO,
                    bls_public_key: String::new(),
                    bls_pop: String::new(),
                })
                .collect(),
            ..ClusterConfig::default()
        });
        probe.groups = o.groups.clone();
        for g in crate::groups::config::all_groups(&probe)? {
            crate::groups::config::for_group(&probe, &g)?;
        }
        if let Some(s) = &o.settlement {
            s.validate(&probe)?;
        }
    }
    let admin = match (o.admin, o.dev) {
        (Some(admin), _) => admin,
        (None, true) => dev_admin()?,
        (None, false) => bail!("{NO_ADMIN_ERROR}"),
    };
    if !o.committee.is_empty() {
        // GOV-R1, checked here so that no key is written for a chain that could not start.
        let members: Vec<(Address, u64)> =
            o.committee.iter().map(|m| (m.address, m.weight)).collect();
        bcos_execution::governance::genesis_threshold(&members, o.committee_threshold)
            .map_err(|e| anyhow::anyhow!("--committee: {e}"))?;
    }
    if o.proposal_lifetime_blocks == 0 {
        bail!("--proposal-lifetime-blocks must be at least 1");
    }
    if o.out.join("ca").exists() || node_dir(&o.out, 0).exists() {
        bail!(
            "{} already holds a cluster; remove it first or choose another --out",
            o.out.display()
        );
    }
    let host = |i: usize| o.hosts[if o.hosts.len() == 1 { 0 } else { i }];
    let port = |base: u16, i: usize| -> anyhow::Result<u16> {
        base.checked_add(i as u16)
            .context("port range overflows 65535")
    };
    let rpc_host = |i: usize| match o.rpc_hosts.len() {
        0 if o.dev => host(i),
        0 => IpAddr::from([127, 0, 0, 1]),
        1 => o.rpc_hosts[0],
        _ => o.rpc_hosts[i],
    };
    let ca = bcos_net::pki::generate_ca_with_validity(
        &format!("bcos chain {} CA", o.chain_id),
        Validity::days_from_now(o.ca_validity_days),
    )?;
    bcos_net::pki::save_ca(&o.out.join("ca"), &ca)?;

    let mut secrets = Vec::with_capacity(o.nodes);
    let mut members = Vec::with_capacity(o.nodes);
    for i in 0..o.nodes {
        let node_key = generate_node_key()?;
        let bls = BlsSecretKey::from_seed(&random_32()?);
        let node_id = bcos_crypto::address_of(&node_key);
        members.push(Member {
            index: i as u32,
            p2p_addr: SocketAddr::new(host(i), port(o.p2p_port, i)?),
            node_id,
            bls_public_key: bls.public_key().to_hex(),
            bls_pop: bls.prove_possession().to_hex(),
        });
        secrets.push((node_key, bls));
    }
    let mut dirs = Vec::with_capacity(o.nodes);
    for (i, (node_key, bls)) in secrets.iter().enumerate() {
        let dir = node_dir(&o.out, i);
        let keys = dir.join("keys");
        save_secret_keys(&keys, node_key, bls)?;
        let cert = ca.issue_node_with_validity(
            i as u32,
            &format!("{:x}", members[i].node_id),
            Validity::days_from_now(o.cert_validity_days),
        )?;
        bcos_net::pki::save_node_cert(&keys, &cert)?;
        bcos_net::pki::save_ca_cert(&keys, &ca.cert())?;
        let mut config = NodeConfig::default();
        config.chain.chain_id = o.chain_id;
        config.chain.data_dir = PathBuf::from("data");
        if !o.dev {
            // no account anyone else holds a key to is funded or privileged
            config.chain.dev_accounts = 0;
        }
        config.chain.alloc = o.alloc.clone();
        config.chain.committee = if o.committee.is_empty() {
            vec![crate::config::CommitteeMember {
                address: admin,
                weight: 1,
            }]
        } else {
            o.committee.clone()
        };
        config.chain.committee_threshold = o.committee_threshold;
        config.chain.proposal_lifetime_blocks = o.proposal_lifetime_blocks;
        config.chain.regulator = o.regulator;
        config.rpc.addr = SocketAddr::new(rpc_host(i), port(o.rpc_port, i)?);
        if o.hosts.len() == 1 && o.nodes > 1 {
            // Several nodes share this host's cores: one recovery pool per node sized to its
            // share (oversubscribed pools cost more in switching than they gain; measured in
            // hardware-profiles/ci-2core-pbft4.toml).
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
            config.crypto.recover_threads = (cores / o.nodes).max(1);
            config.runtime.worker_threads = (cores / o.nodes).max(1);
        }
        config.cluster = Some(ClusterConfig {
            consensus: o.consensus,
            index: i as u32,
            listen_addr: members[i].p2p_addr,
            keys_dir: PathBuf::from("keys"),
            members: members.clone(),
            voters: if o.voters == 0 || o.voters >= o.nodes {
                Vec::new()
            } else {
                (0..o.voters as u32).collect()
            },
            ..ClusterConfig::default()
        });
        config.groups = o.groups.clone();
        config.settlement = o.settlement.clone();
        if o.admin_port != 0 {
            config.rpc.admin_addr = Some(SocketAddr::new(
                IpAddr::from([127, 0, 0, 1]),
                port(o.admin_port, i)?,
            ));
        }
        std::fs::write(dir.join("config.toml"), config.to_toml()?)
            .with_context(|| format!("writing {}", dir.join("config.toml").display()))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// The admin of a dev chain: the test mnemonic's first account.
fn dev_admin() -> anyhow::Result<Address> {
    let chain = crate::config::ChainConfig::default();
    let keys = bcos_crypto::keys::dev_keys(&chain.dev_mnemonic, 1)
        .context("deriving the first dev account")?;
    keys.first()
        .map(bcos_crypto::keys::address_of)
        .context("the test mnemonic gave no account")
}

/// `bcos renew-cert`: issues node `keys_dir`'s TLS certificate again (same index and node
/// id, a new key) from the CA in `ca_dir`, valid for `validity_days` from now. The node
/// picks it up at its next start. Returns the new expiry (Unix seconds).
pub fn renew_node_cert(ca_dir: &Path, keys_dir: &Path, validity_days: u32) -> anyhow::Result<i64> {
    if validity_days == 0 {
        bail!("--validity-days must be positive");
    }
    let ca = bcos_net::pki::load_ca(ca_dir)
        .with_context(|| format!("loading the chain CA from {}", ca_dir.display()))?;
    let trusted = bcos_net::pki::load_ca_cert(keys_dir)?;
    if trusted != ca.cert() {
        bail!(
            "{} trusts another CA than {}; renew with the chain's own CA (a CA governance \
             added issues with `bcos ca issue`)",
            keys_dir.display(),
            ca_dir.display()
        );
    }
    super::ca::issue(ca_dir, keys_dir, validity_days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::keys::NodeKeys;

    fn localhost() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn writes_loadable_keys_and_configs_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let o = InitOptions {
            dev: true,
            ..InitOptions::new(4, localhost(), dir.path().join("c"))
        };
        let dirs = init_cluster(&o).unwrap();
        assert_eq!(dirs.len(), 4);
        for (i, d) in dirs.iter().enumerate() {
            let cfg = NodeConfig::load(&d.join("config.toml")).unwrap();
            let cl = cfg.cluster.unwrap();
            cl.validate().unwrap();
            assert_eq!(cl.index as usize, i);
            assert_eq!(cfg.rpc.addr.port(), 8545 + i as u16);
            let keys = NodeKeys::load(&d.join("keys")).unwrap();
            keys.check_certificate(bcos_net::pki::unix_now_s()).unwrap();
            assert_eq!(keys.tls.index as usize, i);
            assert_eq!(keys.node_id, cl.members[i].node_id);
            assert_eq!(keys.bls_public().to_hex(), cl.members[i].bls_public_key);
            assert!(!cl.members[i].bls_pop.is_empty());
            assert_eq!(cfg.chain.committee[0].address, dev_admin().unwrap());
            assert_eq!(
                cfg.chain.dev_accounts,
                crate::config::ChainConfig::default().dev_accounts
            );
        }
        assert!(init_cluster(&o).is_err());
        let bad = InitOptions {
            hosts: vec![localhost(); 2],
            out: dir.path().join("d"),
            ..o
        };
        assert!(init_cluster(&bad).is_err());
    }

    #[test]
    fn a_production_chain_needs_an_admin_and_funds_only_its_alloc() {
        let dir = tempfile::tempdir().unwrap();
        let hosts: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let o = InitOptions {
            hosts: hosts.clone(),
            ..InitOptions::new(2, localhost(), dir.path().join("p"))
        };
        let err = init_cluster(&o).unwrap_err().to_string();
        assert!(err.contains("--admin") && err.contains("--dev"), "{err}");
        assert!(!o.out.exists(), "nothing written without an admin");

        let admin: Address = "0x00000000000000000000000000000000000000ad"
            .parse()
            .unwrap();
        let alloc = vec![GenesisAccount {
            address: admin,
            balance_wei: "1000000000000000000".into(),
        }];
        let o = InitOptions {
            admin: Some(admin),
            alloc: alloc.clone(),
            cert_validity_days: 30,
            ..o
        };
        let dirs = init_cluster(&o).unwrap();
        for (i, d) in dirs.iter().enumerate() {
            let cfg = NodeConfig::load(&d.join("config.toml")).unwrap();
            assert_eq!(cfg.chain.dev_accounts, 0, "no public key is funded");
            assert_eq!(cfg.chain.alloc, alloc);
            let cl = cfg.cluster.as_ref().unwrap();
            // The admin is the genesis committee (spec/governance.md GOV-R1).
            assert_eq!(
                cfg.chain.committee,
                vec![crate::config::CommitteeMember {
                    address: admin,
                    weight: 1
                }]
            );
            assert_eq!(cl.listen_addr.ip(), hosts[i]);
            assert_eq!(cfg.rpc.addr, SocketAddr::new(localhost(), 8545 + i as u16));
            let g = crate::genesis::build_genesis(&cfg.chain, &cfg.sealer).unwrap();
            assert!(g.addresses.is_empty());
            let keys = NodeKeys::load(&d.join("keys")).unwrap();
            let days = (keys.tls.not_after_unix_s - bcos_net::pki::unix_now_s()) / 86_400;
            assert!((29..=30).contains(&days), "{days}");
        }

        // --rpc-hosts opens RPC where asked; a dev chain binds RPC to its P2P host
        let open = InitOptions {
            out: dir.path().join("q"),
            rpc_hosts: vec!["0.0.0.0".parse().unwrap()],
            ..o.clone()
        };
        let d = &init_cluster(&open).unwrap()[1];
        let cfg = NodeConfig::load(&d.join("config.toml")).unwrap();
        assert_eq!(cfg.rpc.addr.to_string(), "0.0.0.0:8546");
        let dev = InitOptions {
            out: dir.path().join("r"),
            dev: true,
            admin: None,
            ..o
        };
        let d = &init_cluster(&dev).unwrap()[1];
        let cfg = NodeConfig::load(&d.join("config.toml")).unwrap();
        assert_eq!(cfg.rpc.addr.ip(), hosts[1]);
        assert_eq!(cfg.chain.committee[0].address, dev_admin().unwrap());
    }

    #[test]
    fn renew_cert_keeps_the_identity_and_moves_the_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let o = InitOptions {
            dev: true,
            cert_validity_days: 1,
            ..InitOptions::new(2, localhost(), dir.path().join("c"))
        };
        let dirs = init_cluster(&o).unwrap();
        let keys_dir = dirs[1].join("keys");
        let before = NodeKeys::load(&keys_dir).unwrap();
        let not_after = renew_node_cert(&o.out.join("ca"), &keys_dir, 400).unwrap();
        let after = NodeKeys::load(&keys_dir).unwrap();
        assert_eq!(after.tls.index, 1);
        assert_eq!(after.tls.node_id_hex, before.tls.node_id_hex);
        assert_eq!(after.tls.not_after_unix_s, not_after);
        assert!(not_after > before.tls.not_after_unix_s + 300 * 86_400);
        after
            .check_certificate(bcos_net::pki::unix_now_s())
            .unwrap();
        // an expired certificate stops the node at start with a clear error
        let err = format!("{:#}", after.check_certificate(not_after + 1).unwrap_err());
        assert!(
            err.contains("expired") && err.contains("renew-cert"),
            "{err}"
        );
        // another chain's CA cannot renew it
        let other = InitOptions {
            out: dir.path().join("other"),
            ..o
        };
        init_cluster(&other).unwrap();
        assert!(renew_node_cert(&other.out.join("ca"), &keys_dir, 10).is_err());
    }
}
