//! Building a simulated cluster from a seed: the dev chain's genesis (computed once per
//! process), validator keys drawn from the seed, each member's `ClusterConfig`, and a node's
//! execution context (store, pool, executor, block feed) as `bcos_node::node` wires it.

use crate::config::{Protocol, SimConfig};
use crate::rng::SimRng;
use crate::runtime::NodeClock;
use anyhow::Context;
use bcos_crypto::bls::BlsSecretKey;
use bcos_crypto::{BatchConfig, BatchRecoverer, SenderCache};
use bcos_execution::{ExecConfig, Executor};
use bcos_node::block_exec::SealerContext;
use bcos_node::cluster::config::{ClusterConfig, ConsensusKind, Member};
use bcos_node::cluster::keys::SignerKeys;
use bcos_node::config::{ChainConfig, PoolConfig, SealerConfig};
use bcos_node::genesis::{build_genesis, Genesis};
use bcos_node::metrics::Metrics;
use bcos_node::pool::{rules::StaticRules, Pool};
use bcos_storage::ChainStore;
use bcos_sync::Doorbell;
use bcos_types::CommittedBlock;
use secp256k1::SecretKey;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
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

/// The chain every run uses (deriving the dev keys takes a while; it is done once).
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

/// Node `index`'s cluster section. Timeouts are shorter than the node's defaults (a LAN
/// with 1-20 ms latency), in the same proportions.
pub fn cluster_config(cfg: &SimConfig, vals: &[Validator], index: u32) -> ClusterConfig {
    ClusterConfig {
        consensus: match cfg.protocol {
            Protocol::Pbft => ConsensusKind::Pbft,
            Protocol::Raft => ConsensusKind::Raft,
        },
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
/// does.
pub fn node_context(
    chain: &Chain,
    store: Arc<dyn ChainStore>,
    clock: Arc<NodeClock>,
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
    };
    let pool = Arc::new(Pool::new(
        &pool_config(),
        rules,
        store.clone(),
        doorbell.clone(),
        metrics.clone(),
    ));
    let executor = Arc::new(Executor::new(ExecConfig {
        chain_id: chain.chain.chain_id,
        spec,
        block_gas_limit: chain.sealer.block_gas_limit,
        ..ExecConfig::default()
    }));
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
    Ok(NodeContext { ctx, pool, feed })
}

/// Sender recovery on the calling thread only (every batch stays inline), through the
/// process-wide cache: the simulation stays on one thread.
pub fn inline_recoverer(chain: &Chain) -> anyhow::Result<BatchRecoverer> {
    BatchRecoverer::new(
        BatchConfig {
            thread_count: 1,
            parallel_min_txs: usize::MAX,
        },
        chain.senders.clone(),
    )
    .context("starting the (idle) recovery pool")
}
