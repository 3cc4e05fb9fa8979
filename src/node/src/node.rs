//! Wiring: start what every group shares (P2P network, sender recovery, RPC port and admin
//! listener), then each group (`crate::groups`); stop them in order.

use crate::api::NodeApi;
use crate::config::NodeConfig;
use crate::genesis::Genesis;
use crate::groups::dispatch::Dispatch;
use crate::groups::instance::Shared;
use crate::groups::manager::GroupManager;
use anyhow::Context;
use bcos_crypto::{BatchConfig, BatchRecoverer, SenderCache};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub struct Node;

pub struct NodeHandle {
    pub rpc_addr: SocketAddr,
    /// The admin listener (group lifecycle), when enabled.
    pub admin_addr: Option<SocketAddr>,
    /// Group 0's genesis and RPC face (the node's own chain).
    pub genesis: Genesis,
    pub api: Arc<NodeApi>,
    pub groups: Arc<GroupManager>,
    rpc: bcos_rpc::RpcHandle,
    admin: Option<bcos_rpc::AdminHandle>,
    failures: Option<mpsc::UnboundedReceiver<String>>,
    net: Option<bcos_net::NetworkHandle>,
    /// Keeps the network's trust on group 0's governance (`crate::cluster::trust`).
    trust: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    pub async fn start(config: NodeConfig) -> anyhow::Result<NodeHandle> {
        let config = Arc::new(config);
        crate::groups::config::all_groups(&config)?;
        let data_dir = &config.chain.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;

        let settlement =
            crate::settlement::SettlementShared::from_node(&config).context("[settlement]")?;
        let dispatch = Arc::new(Dispatch::default());
        let net = match &config.cluster {
            None => None,
            Some(c) => {
                let (net, inbound) = crate::cluster::start_network(c).await?;
                dispatch.spawn_reader(inbound);
                Some(net)
            }
        };
        let cache = Arc::new(SenderCache::with_capacity(
            config.crypto.sender_cache_entries,
        ));
        let ingress_recoverer = Arc::new(
            BatchRecoverer::new(
                BatchConfig {
                    thread_count: config.crypto.recover_threads,
                    ..BatchConfig::default()
                },
                cache.clone(),
            )
            .context("starting the signature recovery pool")?,
        );
        // Block senders are nearly always in the sender cache already (the pool recovered
        // them): one thread, so four nodes on one host do not oversubscribe.
        let block_recoverer = Arc::new(
            BatchRecoverer::new(
                BatchConfig {
                    thread_count: 1,
                    ..BatchConfig::default()
                },
                cache,
            )
            .context("starting the block recovery pool")?,
        );
        let (failures_tx, failures) = mpsc::unbounded_channel();
        let shared = Shared {
            net: net.clone(),
            dispatch,
            ingress_recoverer,
            block_recoverer,
            clock: crate::runtime::system_clock(),
            failures: failures_tx,
            group_list: Arc::new(|| serde_json::Value::Null),
            settlement,
        };
        let groups = GroupManager::new(config.clone(), shared);
        let rpc = bcos_rpc::start_groups(&config.rpc, Vec::new())
            .await
            .context("starting JSON-RPC")?;
        rpc.set_metrics_source(crate::exporter::metrics_source(&groups));
        let started = {
            let (groups, rpc) = (groups.clone(), rpc.clone());
            tokio::task::spawn_blocking(move || groups.start_all(rpc)).await
        };
        let zero = match started {
            Ok(Ok(())) => groups.group_zero(),
            Ok(Err(e)) => {
                let groups = groups.clone();
                let _ = tokio::task::spawn_blocking(move || groups.stop_all()).await;
                return Err(e);
            }
            Err(e) => return Err(anyhow::anyhow!("starting the groups: {e}")),
        };
        let Some(zero) = zero else {
            let groups = groups.clone();
            let _ = tokio::task::spawn_blocking(move || groups.stop_all()).await;
            anyhow::bail!("group 0 (the node's own chain) did not start");
        };
        let admin = match bcos_rpc::start_admin(&config.rpc, groups.clone()).await {
            Ok(a) => a,
            Err(e) => {
                let groups = groups.clone();
                let _ = tokio::task::spawn_blocking(move || groups.stop_all()).await;
                return Err(anyhow::anyhow!(
                    "starting the admin listener (rpc.admin_addr): {e}"
                ));
            }
        };
        let trust = match (&net, &config.cluster) {
            (Some(net), Some(c)) => Some(crate::cluster::trust::spawn(
                net.clone(),
                zero.api.store.clone(),
                std::time::Duration::from_millis(c.status_interval_ms),
            )),
            _ => None,
        };
        Ok(NodeHandle {
            trust,
            rpc_addr: rpc.local_addr(),
            admin_addr: admin.as_ref().map(|a| a.local_addr()),
            genesis: zero.genesis.clone(),
            api: zero.api.clone(),
            groups,
            rpc,
            admin,
            failures: Some(failures),
            net,
        })
    }
}

impl NodeHandle {
    /// Resolves when a group's driver has failed; the node must then stop.
    pub fn sealer_failure(&mut self) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        if let Some(mut failures) = self.failures.take() {
            tokio::spawn(async move {
                if let Some(msg) = failures.recv().await {
                    let _ = tx.send(msg);
                }
            });
        }
        rx
    }

    /// Stops RPC, then every group (queued transactions finish admission, each driver
    /// finishes its block, stores close), then the network.
    pub async fn shutdown(mut self) {
        if let Some(admin) = self.admin.take() {
            admin.stop();
            admin.stopped().await;
        }
        self.rpc.stop();
        self.rpc.stopped().await;
        if let Some(trust) = self.trust.take() {
            trust.abort();
        }
        let groups = self.groups.clone();
        let _ = tokio::task::spawn_blocking(move || groups.stop_all()).await;
        if let Some(net) = self.net.take() {
            net.shutdown().await;
        }
    }
}
