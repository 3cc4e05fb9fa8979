//! One running group on this node: its store, pool, sender admission, executor, sealer or
//! consensus driver and its JSON-RPC face (spec/groups.md §3). What groups share (the P2P
//! network, the sender recovery pools and cache, the clock, the RPC port) comes in
//! [`Shared`]; everything else is the group's own, so stopping a group touches no other.

use super::dispatch::Dispatch;
use crate::api::NodeApi;
use crate::block_exec::SealerContext;
use crate::config::NodeConfig;
use crate::genesis::{build_genesis, ensure_genesis, Genesis};
use crate::metrics::Metrics;
use crate::pool::{rules::StaticRules, Ingress, Pool};
use crate::runtime::Clock;
use anyhow::Context;
use bcos_crypto::BatchRecoverer;
use bcos_execution::{ExecConfig, Executor};
use bcos_storage::{ChainStore, DiskStore};
use bcos_sync::Doorbell;
use bcos_types::Address;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What every group of a node shares.
#[derive(Clone)]
pub struct Shared {
    /// The P2P network (absent for a solo node).
    pub net: Option<bcos_net::NetworkHandle>,
    pub dispatch: Arc<Dispatch>,
    /// Pool admission's parallel sender recovery: one rayon pool and one sender cache per
    /// node, whatever the number of groups.
    pub ingress_recoverer: Arc<BatchRecoverer>,
    /// Block sender recovery (nearly always cache hits): one thread per node.
    pub block_recoverer: Arc<BatchRecoverer>,
    pub clock: Arc<dyn Clock>,
    /// Told when a group's driver fails (the node then stops, as a single-chain node did).
    pub failures: tokio::sync::mpsc::UnboundedSender<String>,
    /// `bcos_getGroupList` for every group's RPC.
    pub group_list: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
    /// High-frequency accounts, if `[settlement]` is configured.
    pub settlement: Option<Arc<crate::settlement::SettlementShared>>,
}

pub struct GroupInstance {
    pub id: u32,
    pub config: Arc<NodeConfig>,
    pub genesis: Genesis,
    pub api: Arc<NodeApi>,
    ingress: Arc<Ingress>,
    doorbell: Doorbell,
    sealer: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
    settler: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
    attached: parking_lot::Mutex<Option<Arc<Dispatch>>>,
}

impl GroupInstance {
    /// Opens the group's store (writing or checking its genesis) and starts its pool and
    /// driver. `config` is the group's own (`super::config::for_group`).
    pub fn start(id: u32, config: Arc<NodeConfig>, shared: &Shared) -> anyhow::Result<Self> {
        let data_dir = &config.chain.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let disk = DiskStore::open(&data_dir.join("chain"), config.storage.clone()).with_context(
            || format!("opening group {id}'s chain store in {}", data_dir.display()),
        )?;
        let io_backend = format!("{:?}", disk.io_backend_in_use());
        let store: Arc<dyn ChainStore> = Arc::new(disk);

        let genesis = build_genesis(&config.chain, &config.sealer)?;
        ensure_genesis(&*store, &genesis).with_context(|| format!("group {id}'s genesis"))?;

        let metrics = Arc::new(Metrics::for_group(id, config.observability.flow_log));
        let doorbell = Doorbell::new();
        let spec: bcos_execution::EvmSpec = config
            .chain
            .evm_spec
            .parse()
            .map_err(|e| anyhow::anyhow!("chain.evm_spec: {e}"))?;
        let rules = StaticRules {
            chain_id: config.chain.chain_id,
            allow_unprotected: config.pool.allow_unprotected_txs,
            tx_bytes_max: config.pool.tx_bytes_max,
            block_gas_limit: config.sealer.block_gas_limit,
            tx_gas_cap: spec.tx_gas_limit_cap(),
            base_fee: config.chain.base_fee_wei,
            governed_gas_limit: Default::default(),
        };
        let pool = Arc::new(Pool::new(
            &config.pool,
            rules,
            store.clone(),
            doorbell.clone(),
            metrics.clone(),
        ));
        let ingress = Ingress::start(
            pool.clone(),
            shared.ingress_recoverer.clone(),
            config.pool.ingress_queue_max,
            config.pool.ingress_queue_bytes_max,
            config.pool.ingress_batch_max,
        );
        let settlement = shared
            .settlement
            .as_ref()
            .and_then(|s| s.config.role_of(id).map(|role| (s.clone(), role)));
        let executor = Arc::new(Executor::with_system_contracts(
            ExecConfig {
                chain_id: config.chain.chain_id,
                spec,
                block_gas_limit: config.sealer.block_gas_limit,
                parallel_threads: config.sealer.execute_threads,
                direct_transfers: config.sealer.direct_transfers,
                ..ExecConfig::default()
            },
            crate::settlement::system_contracts(settlement.as_ref()),
        ));
        // Blocks kept for slow subscribers before they are told they lagged (they then
        // refill from storage): `rpc.block_feed_blocks_max`, part of the memory budget.
        let (blocks, _) = broadcast::channel(config.rpc.block_feed_blocks_max.max(1));
        let beneficiary = genesis.addresses.first().copied().unwrap_or(Address::ZERO);
        let ctx = SealerContext {
            store: store.clone(),
            pool: pool.clone(),
            executor: executor.clone(),
            doorbell: doorbell.clone(),
            blocks: blocks.clone(),
            metrics: metrics.clone(),
            block_txs_max: config.sealer.block_txs_max,
            block_gas_limit: config.sealer.block_gas_limit,
            base_fee: config.chain.base_fee_wei,
            beneficiary,
            timestamp_future_s_max: config.sealer.timestamp_future_s_max,
            clock: shared.clock.clone(),
        };
        ctx.refresh_pool_limits();
        let failures = shared.failures.clone();
        let failed: Box<dyn FnOnce(String) + Send> = Box::new(move |msg| {
            let _ = failures.send(msg);
        });
        let amop = crate::amop::Router::new(config.amop.clone());
        let mut cluster = None;
        let mut attached = None;
        let sealer = match (&config.cluster, &shared.net) {
            (None, _) => crate::cluster::solo::start(ctx, config.sealer.pipelined_commit, failed)?,
            (Some(_), None) => anyhow::bail!("group {id} needs the P2P network"),
            (Some(cc), Some(net)) => {
                let nodes = cc.member_nodes();
                let c = crate::cluster::start(crate::cluster::StartParts {
                    cfg: cc.clone(),
                    group: id,
                    net: net.clone(),
                    nodes,
                    keys_dir: cc.keys_dir.clone(),
                    state_dir: data_dir.clone(),
                    ctx,
                    recoverer: shared.block_recoverer.clone(),
                    ingress: ingress.clone(),
                    failed,
                    amop: amop.clone(),
                })?;
                shared.dispatch.attach(id, c.port.clone());
                attached = Some(shared.dispatch.clone());
                cluster = Some((c.forwarder, c.view));
                c.driver
            }
        };
        if !pool.is_empty() {
            doorbell.ring();
        }
        let api = Arc::new(NodeApi {
            config: config.clone(),
            group: id,
            group_list: shared.group_list.clone(),
            store,
            pool,
            ingress: ingress.clone(),
            executor,
            blocks,
            metrics,
            io_backend,
            beneficiary,
            forward: cluster.as_ref().map(|(f, _)| f.clone()),
            net: shared.net.clone(),
            consensus: cluster.map(|(_, v)| v),
            dispatch: attached.clone(),
            amop: Arc::new(crate::amop::Amop(amop)),
            settlement: settlement.as_ref().map(|(s, role)| {
                Arc::new(crate::settlement::status::SettlementView {
                    config: s.config.clone(),
                    role: *role,
                    chains: s
                        .registry
                        .chains
                        .iter()
                        .map(|(c, u)| (*c, u.group))
                        .collect(),
                    peers: s.group_apis.clone(),
                })
            }),
        });
        let settler = match &settlement {
            Some((s, crate::settlement::SettlementRole::User)) => {
                s.group_apis.write().insert(id, Arc::downgrade(&api));
                crate::settlement::settler::start_if_keyed(api.clone(), &s.config)?
            }
            Some((s, crate::settlement::SettlementRole::Merchant)) => {
                s.group_apis.write().insert(id, Arc::downgrade(&api));
                None
            }
            None => None,
        };
        tracing::info!(
            group = id,
            chain_id = config.chain.chain_id,
            "group started"
        );
        Ok(GroupInstance {
            id,
            config,
            genesis,
            api,
            ingress,
            doorbell,
            sealer: parking_lot::Mutex::new(Some(sealer)),
            settler: parking_lot::Mutex::new(settler),
            attached: parking_lot::Mutex::new(attached),
        })
    }

    /// Stops taking frames and transactions, lets queued transactions finish admission,
    /// lets the driver finish its step, and joins it. Blocking: call off the async threads.
    /// The store closes when the last reference (an open RPC subscription) lets go.
    /// Idempotent.
    pub fn stop(&self) {
        if let Some(d) = self.attached.lock().take() {
            d.detach(self.id);
        }
        if let Some(t) = self.settler.lock().take() {
            t.abort();
        }
        self.ingress.close();
        self.doorbell.close();
        let sealer = self.sealer.lock().take();
        if let Some(t) = sealer {
            let _ = t.join();
        }
        tracing::info!(group = self.id, "group stopped");
    }
}
