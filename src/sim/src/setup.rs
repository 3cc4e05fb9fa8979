//! Building a simulated cluster from a seed: the dev chain's genesis per group (computed once
//! per process), validator keys drawn from the seed, each member's `ClusterConfig` in each
//! group, and a node's execution context (store, pool, executor, block feed) as
//! `bcos_node::node` wires it.

use crate::config::{Protocol, SimConfig};
use crate::groups::SimGroup;
use crate::rng::SimRng;
use crate::runtime::NodeClock;
use anyhow::Context;
use bcos_crypto::bls::BlsSecretKey;
use bcos_crypto::{BatchConfig, BatchRecoverer, SenderCache};
use bcos_execution::{ExecConfig, Executor, SystemContracts};
use bcos_node::block_exec::SealerContext;
use bcos_node::cluster::config::{ClusterConfig, ConsensusKind, Member};
use bcos_node::cluster::keys::SignerKeys;
use bcos_node::config::{ChainConfig, NodeConfig, PoolConfig, SealerConfig};
use bcos_node::genesis::{build_genesis, Genesis};
use bcos_node::metrics::Metrics;
use bcos_node::pool::{rules::StaticRules, Pool};
use bcos_storage::ChainStore;
use bcos_sync::Doorbell;
use bcos_types::CommittedBlock;
use secp256k1::SecretKey;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::broadcast;

/// Committed blocks a node's feed holds before a slow reader lags (the simulator reads it
/// after every step, and one step stores at most `sync_blocks_max` blocks).
pub const BLOCK_FEED_BLOCKS_MAX: usize = 1_024;
/// Senders remembered by the process-wide recovery cache of the simulator.
pub const SENDER_CACHE_ENTRIES: usize = 1 << 20;

/// The simulated chain: the default dev chain (20 funded accounts of the test mnemonic).
pub struct Chain {
    pub chain: ChainConfig,
    pub sealer: SealerConfig,
    pub genesis: Genesis,
    /// One sender cache for the whole process: a hash determines its sender, so sharing it
    /// between simulated nodes changes no outcome, only saves recoveries.
    pub senders: Arc<SenderCache>,
}

static CHAIN: OnceLock<Result<Chain, String>> = OnceLock::new();
/// The chains of groups 1.. (by group), built on first use and kept for the process.
static GROUP_CHAINS: Mutex<BTreeMap<u32, &'static Chain>> = Mutex::new(BTreeMap::new());

/// The chain every run uses, and group 0's (deriving the dev keys takes a while; it is done
/// once).
pub fn chain() -> anyhow::Result<&'static Chain> {
    CHAIN
        .get_or_init(|| {
            let chain = ChainConfig::default();
            let sealer = SealerConfig::default();
            let genesis = build_genesis(&chain, &sealer).map_err(|e| format!("{e:#}"))?;
            Ok(Chain {
                chain,
                sealer,
                genesis,
                senders: Arc::new(SenderCache::with_capacity(SENDER_CACHE_ENTRIES)),
            })
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("building the dev genesis: {e}"))
}

/// Group `g`'s chain: the dev chain's genesis description under chain id `chain_id + g`
/// (GRP-C2, GRP-C3), so its genesis block, its transactions and its receipts are its own.
/// The sender cache is the process's one (GRP-R1): a chain id is part of what a
/// transaction's hash covers, so no entry of one group answers for another's.
pub fn group_chain(g: u32) -> anyhow::Result<&'static Chain> {
    let base = chain()?;
    if g == 0 {
        return Ok(base);
    }
    let mut chains = GROUP_CHAINS
        .lock()
        .map_err(|_| anyhow::anyhow!("a run panicked while building a group's chain"))?;
    if let Some(c) = chains.get(&g) {
        return Ok(*c);
    }
    let chain = ChainConfig {
        chain_id: base.chain.chain_id + u64::from(g),
        ..base.chain.clone()
    };
    let genesis = build_genesis(&chain, &base.sealer)
        .with_context(|| format!("building group {g}'s genesis"))?;
    // Leaked once per group per process, as the base chain is kept in a static.
    let c: &'static Chain = Box::leak(Box::new(Chain {
        chain,
        sealer: base.sealer.clone(),
        genesis,
        senders: base.senders.clone(),
    }));
    chains.insert(g, c);
    Ok(c)
}

/// A validator's keys and its entry in the member list.
#[derive(Clone)]
pub struct Validator {
    pub keys: SignerKeys,
    pub member: Member,
}

/// `n` validators with keys drawn from `rng` (secp256k1 node key, BLS key and its proof of
/// possession, PBFT-K1).
pub fn validators(rng: &mut SimRng, n: u32) -> anyhow::Result<Vec<Validator>> {
    (0..n)
        .map(|index| {
            let node_key = loop {
                if let Ok(k) = SecretKey::from_byte_array(rng.bytes32()) {
                    break k;
                }
            };
            let bls = BlsSecretKey::from_seed(&rng.bytes32());
            let node_id = bcos_crypto::address_of(&node_key);
            let member = Member {
                index,
                p2p_addr: SocketAddr::from(([10, 0, (index >> 8) as u8, index as u8], 30300)),
                node_id,
                bls_public_key: bls.public_key().to_hex(),
                bls_pop: bls.prove_possession().to_hex(),
            };
            Ok(Validator {
                keys: SignerKeys {
                    node_key,
                    node_id,
                    bls,
                },
                member,
            })
        })
        .collect()
}

/// Node `node`'s cluster section in group `g`: the node's own section (every node a member)
/// turned into the group's view by the node's code, `bcos_node::groups::config::for_group`
/// (GRP-C4): the group's consensus, its members re-indexed to positions `0..k`, the node's
/// position, and the vote domain `group_id + g`. For the single-chain run (group 0 on every
/// node) this is the node's section itself.
pub fn group_cluster_config(
    cfg: &SimConfig,
    vals: &[Validator],
    g: u32,
    group: &SimGroup,
    node: u32,
) -> anyhow::Result<ClusterConfig> {
    let chain = group_chain(0)?;
    let node_cfg = NodeConfig {
        chain: chain.chain.clone(),
        cluster: Some(cluster_config(cfg, vals, node)),
        ..NodeConfig::default()
    };
    let entry = bcos_node::groups::config::GroupConfig {
        consensus: consensus_kind(group.protocol),
        // Group 0 keeps the node's member list, as in the node.
        members: if g == 0 && group.members.len() == vals.len() {
            Vec::new()
        } else {
            group.members.clone()
        },
        ..bcos_node::groups::config::GroupConfig::new(g)
    };
    bcos_node::groups::config::for_group(&node_cfg, &entry)?
        .and_then(|c| c.cluster)
        .with_context(|| format!("node {node} is not a member of group {g}"))
}

pub(crate) fn consensus_kind(p: Protocol) -> ConsensusKind {
    match p {
        Protocol::Pbft => ConsensusKind::Pbft,
        Protocol::Raft => ConsensusKind::Raft,
    }
}

/// Node `index`'s cluster section. Timeouts are shorter than the node's defaults (a LAN
/// with 1-20 ms latency), in the same proportions.
pub fn cluster_config(cfg: &SimConfig, vals: &[Validator], index: u32) -> ClusterConfig {
    ClusterConfig {
        consensus: consensus_kind(cfg.protocol),
        index,
        members: vals.iter().map(|v| v.member.clone()).collect(),
        view_timeout_ms: 1_000,
        election_timeout_ms: 500,
        election_spread_ms: 150,
        heartbeat_ms: 100,
        status_interval_ms: 250,
        sync_timeout_ms: 1_000,
        seeded_bug: cfg.bug,
        ..ClusterConfig::default()
    }
}

/// The pool's settings in the simulator: the node's defaults, except that gapped
/// transactions never expire (their expiry reads the process's wall clock, which a replay
/// cannot reproduce).
pub fn pool_config() -> PoolConfig {
    PoolConfig {
        gapped_lifetime_ms: u64::MAX / 4,
        ..PoolConfig::default()
    }
}

/// What one incarnation of a node runs on (a crash drops all of it but the store).
pub struct NodeContext {
    pub ctx: SealerContext,
    pub pool: Arc<Pool>,
    pub feed: broadcast::Receiver<Arc<CommittedBlock>>,
}

/// Wires a node's context around its (surviving) store, as `bcos_node::node::Node::start`
/// does, with the group's system contracts.
pub fn node_context(
    chain: &Chain,
    store: Arc<dyn ChainStore>,
    clock: Arc<NodeClock>,
    contracts: SystemContracts,
) -> anyhow::Result<NodeContext> {
    let metrics = Arc::new(Metrics::default());
    let doorbell = Doorbell::new();
    let spec = bcos_execution::EvmSpec::default();
    let rules = StaticRules {
        chain_id: chain.chain.chain_id,
        allow_unprotected: false,
        tx_bytes_max: pool_config().tx_bytes_max,
        block_gas_limit: chain.sealer.block_gas_limit,
        tx_gas_cap: spec.tx_gas_limit_cap(),
        base_fee: chain.chain.base_fee_wei,
        governed_gas_limit: Default::default(),
    };
    let pool = Arc::new(Pool::new(
        &pool_config(),
        rules,
        store.clone(),
        doorbell.clone(),
        metrics.clone(),
    ));
    // The group's system contracts (the settlement contract of its side in a settlement
    // run), as `bcos_node::groups::instance` installs them.
    let executor = Arc::new(Executor::with_system_contracts(
        ExecConfig {
            chain_id: chain.chain.chain_id,
            spec,
            block_gas_limit: chain.sealer.block_gas_limit,
            ..ExecConfig::default()
        },
        contracts,
    ));
    let (blocks, feed) = broadcast::channel(BLOCK_FEED_BLOCKS_MAX);
    let beneficiary = chain
        .genesis
        .addresses
        .first()
        .copied()
        .context("the dev genesis has no accounts")?;
    let ctx = SealerContext {
        store,
        pool: pool.clone(),
        executor,
        doorbell,
        blocks,
        metrics,
        block_txs_max: chain.sealer.block_txs_max,
        block_gas_limit: chain.sealer.block_gas_limit,
        base_fee: chain.chain.base_fee_wei,
        beneficiary,
        timestamp_future_s_max: chain.sealer.timestamp_future_s_max,
        clock,
    };
    ctx.refresh_pool_limits();
    Ok(NodeContext { ctx, pool, feed })
}

/// Sender recovery on the calling thread only (every batch stays inline), through the
/// process-wide cache: the simulation stays on one thread.
pub fn inline_recoverer(chain: &Chain) -> anyhow::Result<std::sync::Arc<BatchRecoverer>> {
    BatchRecoverer::new(
        BatchConfig {
            thread_count: 1,
            parallel_min_txs: usize::MAX,
        },
        chain.senders.clone(),
    )
    .map(std::sync::Arc::new)
    .context("starting the (idle) recovery pool")
}
