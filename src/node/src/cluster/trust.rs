//! The P2P network follows group 0's governance (spec/governance.md GOV-R8, P2P-I4): the CAs
//! it added are trusted besides the chain CA, and the node ids and certificate serials it
//! revoked are refused. One task per node reads them from group 0's committed state every
//! `cluster.status_interval_ms` and hands a change to the network, which closes the
//! connections of peers it no longer trusts; so a removed CA's or a revoked node is
//! disconnected within a status interval, and nobody restarts.

use bcos_execution::governance::NetworkTrust;
use bcos_net::NetworkHandle;
use bcos_storage::{ChainStore, StateReader};
use std::sync::Arc;
use std::time::Duration;

/// Starts the task; it ends when aborted (at shutdown).
pub fn spawn(
    net: NetworkHandle,
    store: Arc<dyn ChainStore>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = NetworkTrust::default();
        loop {
            let state: &dyn StateReader = &*store;
            match NetworkTrust::read(state) {
                Ok(trust) if trust != last => {
                    apply(&net, &trust);
                    last = trust;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading governance's network trust"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}

fn apply(net: &NetworkHandle, trust: &NetworkTrust) {
    let nodes: Vec<String> = trust
        .revoked_nodes
        .iter()
        .map(|n| format!("{n:x}"))
        .collect();
    match net.set_governance_trust(&trust.cas, &nodes, &trust.revoked_serials) {
        Ok(usable) => tracing::info!(
            cas = trust.cas.len(),
            usable,
            revoked_nodes = nodes.len(),
            revoked_serials = trust.revoked_serials.len(),
            "P2P trust follows governance"
        ),
        Err(e) => tracing::warn!(error = %e, "applying governance's network trust"),
    }
}
