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
//! `host_i:(rpc_port + i)`, so a one-host cluster needs no port juggling.

use super::config::{ClusterConfig, ConsensusKind, Member};
use super::keys::{generate_node_key, random_32, save_secret_keys};
use crate::config::NodeConfig;
use anyhow::{bail, Context};
use bcos_crypto::bls::BlsSecretKey;
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
    /// Raft: the first `voters` nodes vote from genesis (0 = all); the others join by
    /// transaction.
    pub voters: usize,
    /// Nodes allowed at most (the certificate bitmap and the PBFT quorum math are fine far
    /// beyond; the limit keeps a typo from generating thousands of keys).
    pub nodes_max: usize,
}

pub const NODES_MAX_DEFAULT: usize = 64;

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
    let ca = bcos_net::generate_ca(&format!("bcos chain {} CA", o.chain_id))?;
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
        });
        secrets.push((node_key, bls));
    }
    let mut dirs = Vec::with_capacity(o.nodes);
    for (i, (node_key, bls)) in secrets.iter().enumerate() {
        let dir = node_dir(&o.out, i);
        let keys = dir.join("keys");
        save_secret_keys(&keys, node_key, bls)?;
        let cert = ca.issue_node(i as u32, &format!("{:x}", members[i].node_id))?;
        bcos_net::pki::save_node_cert(&keys, &cert)?;
        bcos_net::pki::save_ca_cert(&keys, &ca.cert())?;
        let mut config = NodeConfig::default();
        config.chain.chain_id = o.chain_id;
        config.chain.data_dir = PathBuf::from("data");
        config.rpc.addr = SocketAddr::new(host(i), port(o.rpc_port, i)?);
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
        std::fs::write(dir.join("config.toml"), config.to_toml()?)
            .with_context(|| format!("writing {}", dir.join("config.toml").display()))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::keys::NodeKeys;

    #[test]
    fn writes_loadable_keys_and_configs_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let o = InitOptions {
            nodes: 4,
            hosts: vec!["127.0.0.1".parse().unwrap()],
            out: dir.path().join("c"),
            p2p_port: 30300,
            rpc_port: 8545,
            chain_id: 20200,
            consensus: ConsensusKind::Pbft,
            voters: 0,
            nodes_max: NODES_MAX_DEFAULT,
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
            assert_eq!(keys.tls.index as usize, i);
            assert_eq!(keys.node_id, cl.members[i].node_id);
            assert_eq!(keys.bls_public().to_hex(), cl.members[i].bls_public_key);
        }
        assert!(init_cluster(&o).is_err());
        let bad = InitOptions {
            hosts: vec!["127.0.0.1".parse().unwrap(); 2],
            out: dir.path().join("d"),
            ..o
        };
        assert!(init_cluster(&bad).is_err());
    }
}
