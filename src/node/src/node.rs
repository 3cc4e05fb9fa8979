//! Wiring: open storage, write or check genesis, start the pool, sealer and RPC; stop them in
//! order.

use crate::api::NodeApi;
use crate::block_exec::SealerContext;
use crate::config::NodeConfig;
use crate::genesis::{build_genesis, ensure_genesis, Genesis};
use crate::metrics::Metrics;
use crate::pool::{rules::StaticRules, Ingress, Pool};
use anyhow::Context;
use bcos_crypto::{BatchConfig, BatchRecoverer, SenderCache};
use bcos_execution::{ExecConfig, Executor};
use bcos_storage::{ChainStore, DiskStore};
use bcos_sync::Doorbell;
use bcos_types::Address;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};

pub struct Node;

pub struct NodeHandle {
    pub rpc_addr: SocketAddr,
    pub genesis: Genesis,
    pub api: Arc<NodeApi>,
    rpc: bcos_rpc::RpcHandle,
    ingress: Arc<Ingress>,
    doorbell: Doorbell,
    sealer: Option<std::thread::JoinHandle<()>>,
    sealer_failed: Option<oneshot::Receiver<String>>,
    net: Option<bcos_net::NetworkHandle>,
}

impl Node {
    pub async fn start(config: NodeConfig) -> anyhow::Result<NodeHandle> {
        let config = Arc::new(config);
        let data_dir = &config.chain.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let disk = DiskStore::open(&data_dir.join("chain"), config.storage.clone())
            .with_context(|| format!("opening the chain store in {}", data_dir.display()))?;
        let io_backend = format!("{:?}", disk.io_backend_in_use());
        let store: Arc<dyn ChainStore> = Arc::new(disk);

        let genesis = build_genesis(&config.chain, &config.sealer)?;
        ensure_genesis(&*store, &genesis)?;

        let metrics = Arc::new(Metrics::default());
        let clock = crate::runtime::system_clock();
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
        };
        let pool = Arc::new(Pool::new(
            &config.pool,
            rules,
            store.clone(),
            doorbell.clone(),
            metrics.clone(),
        ));
        let cache = Arc::new(SenderCache::with_capacity(
            config.crypto.sender_cache_entries,
        ));
        let batch_config = BatchConfig {
            thread_count: config.crypto.recover_threads,
            ..BatchConfig::default()
        };
        let recoverer = BatchRecoverer::new(batch_config, cache.clone())
            .context("starting the signature recovery pool")?;
        let ingress = Ingress::start(
            pool.clone(),
            recoverer,
            config.pool.ingress_queue_max,
            config.pool.ingress_queue_bytes_max,
            config.pool.ingress_batch_max,
        );

        let executor = Arc::new(Executor::new(ExecConfig {
            chain_id: config.chain.chain_id,
            spec,
            block_gas_limit: config.sealer.block_gas_limit,
            ..ExecConfig::default()
        }));
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
            clock: clock.clone(),
        };
        let (failed_tx, failed_rx) = oneshot::channel();
        let mut cluster = None;
        let sealer_thread = match &config.cluster {
            None => crate::cluster::solo::start(ctx, failed_tx)?,
            Some(cc) => {
                // Block senders are nearly always in the sender cache already (the pool
                // recovered them): one thread, so four nodes on one host do not oversubscribe.
                let recoverer = BatchRecoverer::new(
                    BatchConfig {
                        thread_count: 1,
                        ..BatchConfig::default()
                    },
                    cache.clone(),
                )
                .context("starting the block recovery pool")?;
                let c = crate::cluster::start(crate::cluster::StartParts {
                    cfg: cc.clone(),
                    keys_dir: cc.keys_dir.clone(),
                    state_dir: data_dir.clone(),
                    ctx,
                    recoverer,
                    ingress: ingress.clone(),
                    failed: failed_tx,
                    default_admin: beneficiary,
                })
                .await?;
                cluster = Some((c.net, c.forwarder, c.view));
                c.driver
            }
        };
        if !pool.is_empty() {
            doorbell.ring();
        }

        let api = Arc::new(NodeApi {
            config: config.clone(),
            store,
            pool,
            ingress: ingress.clone(),
            executor,
            blocks,
            metrics,
            io_backend,
            beneficiary,
            forward: cluster.as_ref().map(|(_, f, _)| f.clone()),
            net: cluster.as_ref().map(|(n, _, _)| n.clone()),
            consensus: cluster.as_ref().map(|(_, _, v)| v.clone()),
        });
        let net = cluster.map(|(net, _, _)| net);
        let rpc = bcos_rpc::start(&config.rpc, api.clone())
            .await
            .context("starting JSON-RPC")?;
        Ok(NodeHandle {
            rpc_addr: rpc.local_addr(),
            genesis,
            api,
            rpc,
            ingress,
            doorbell,
            sealer: Some(sealer_thread),
            sealer_failed: Some(failed_rx),
            net,
        })
    }
}

impl NodeHandle {
    /// Resolves when the sealer has failed; the node must then stop.
    pub fn sealer_failure(&mut self) -> oneshot::Receiver<String> {
        self.sealer_failed
            .take()
            .unwrap_or_else(|| oneshot::channel().1)
    }

    /// Stops RPC, lets queued transactions finish admission, lets the sealer finish its
    /// block, then closes storage.
    pub async fn shutdown(mut self) {
        self.rpc.stop();
        self.rpc.stopped().await;
        let ingress = self.ingress.clone();
        let _ = tokio::task::spawn_blocking(move || ingress.close()).await;
        self.doorbell.close();
        if let Some(t) = self.sealer.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(net) = self.net.take() {
            net.shutdown().await;
        }
    }
}
