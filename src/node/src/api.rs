//! The node's side of JSON-RPC: [`bcos_rpc::ChainApi`] over the store, pool and executor.

use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::pool::{Ingress, Pool};
use bcos_execution::{BlockEnv, CallLimits, Executor};
use bcos_rpc::{ApiError, ChainApi, StateAt};
use bcos_storage::{ChainStore, StateReader};
use bcos_types::{
    Account, Address, Bytes, CallOutcome, CallRequest, CommittedBlock, Header, RecoveredTx, Tx,
    B256, U256,
};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

pub struct NodeApi {
    /// The group's own configuration (`crate::groups::config::for_group`).
    pub config: Arc<NodeConfig>,
    /// The group number (`/g/<group>` on the RPC port).
    pub group: u32,
    /// Every group of the node, for `bcos_getGroupList`.
    pub group_list: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
    pub store: Arc<dyn ChainStore>,
    pub pool: Arc<Pool>,
    pub ingress: Arc<Ingress>,
    pub executor: Arc<Executor>,
    pub blocks: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
    pub io_backend: String,
    pub beneficiary: Address,
    /// Cluster nodes forward accepted transactions to their peers (so the leader has them).
    pub forward: Option<crate::cluster::gossip::TxForwarder>,
    /// The P2P network of a cluster node.
    pub net: Option<bcos_net::NetworkHandle>,
    /// What the consensus driver last reported (cluster nodes).
    pub consensus: Option<std::sync::Arc<crate::cluster::ConsensusView>>,
    /// The node's P2P frame dispatch (its drop counters), for cluster nodes.
    pub dispatch: Option<Arc<crate::groups::dispatch::Dispatch>>,
    /// This chain's side of high-frequency-account settlement, if any.
    pub settlement: Option<Arc<crate::settlement::status::SettlementView>>,
    /// The group's AMOP router.
    pub amop: Arc<crate::amop::Amop>,
}

fn not_settlement() -> ApiError {
    ApiError::InvalidParams("this chain takes no part in high-frequency-account settlement".into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// An invalid call (unpayable fee, gas below intrinsic, ...) is the caller's error; a call
/// past its time limit gets geth's -32000 "execution aborted (timeout = …)".
fn exec_error(e: bcos_execution::ExecError) -> ApiError {
    match e {
        bcos_execution::ExecError::InvalidCall(m) => ApiError::TxRejected(m),
        e @ bcos_execution::ExecError::Timeout(_) => ApiError::Unavailable(e.to_string()),
        other => internal(other),
    }
}

impl NodeApi {
    fn check_at(&self, at: StateAt) -> Result<(), ApiError> {
        match at {
            StateAt::Latest | StateAt::Pending => Ok(()),
            StateAt::Number(n) if n == self.head_number() => Ok(()),
            StateAt::Number(n) if n > self.head_number() => Err(ApiError::InvalidParams(format!(
                "block {n} is not committed yet"
            ))),
            StateAt::Number(n) => Err(ApiError::Unavailable(format!(
                "state at block {n} is not kept: this node keeps only the latest state (block {})",
                self.head_number()
            ))),
        }
    }

    /// EXEC-R12: the bounds of one eth_call or eth_estimateGas (`rpc.call_gas_max`,
    /// `rpc.call_timeout_ms`).
    fn call_limits(&self) -> CallLimits {
        CallLimits {
            gas_max: self.config.rpc.call_gas_max,
            timeout: std::time::Duration::from_millis(self.config.rpc.call_timeout_ms),
        }
    }

    fn next_env(&self) -> BlockEnv {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        BlockEnv {
            number: self.head_number().saturating_add(1),
            timestamp: now,
            gas_limit: self.config.sealer.block_gas_limit,
            base_fee: self.config.chain.base_fee_wei,
            beneficiary: self.beneficiary,
        }
    }

    /// One transaction: [`NodeApi::submit_many`] of one, so single calls and batches take
    /// the same checks, flow records, admission and forwarding.
    async fn submit(&self, raw: Bytes) -> Result<B256, ApiError> {
        self.submit_many(vec![raw]).await.pop().unwrap_or_else(|| {
            Err(ApiError::TxRejected(
                crate::pool::PoolError::ShuttingDown.to_string(),
            ))
        })
    }

    /// Decodes and checks each raw transaction here, queues the valid ones in order, and
    /// answers with one wake-up (`Ingress::submit_many`). Duplicates are refused at
    /// admission ("already known"), under the pool lock; the sender cache keeps them cheap.
    async fn submit_many(&self, raws: Vec<Bytes>) -> Vec<Result<B256, ApiError>> {
        let checked: Vec<Result<Arc<Tx>, ApiError>> =
            raws.iter().map(|raw| self.check_raw(raw)).collect();
        let decoded: Vec<Arc<Tx>> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok().cloned())
            .collect();
        self.metrics.flow.txs(
            crate::flow::TxStage::Received,
            decoded.iter().map(|t| t.hash()),
        );
        let mut verdicts = self.ingress.submit_many(decoded).await.into_iter();
        let mut out = Vec::with_capacity(raws.len());
        for (raw, check) in raws.into_iter().zip(checked) {
            let verdict = match check {
                Err(e) => Err(e),
                Ok(_) => match verdicts.next() {
                    Some(Ok(hash)) => {
                        if let Some(f) = &self.forward {
                            f.forward(raw);
                        }
                        Ok(hash)
                    }
                    Some(Err(e)) => Err(ApiError::TxRejected(e.to_string())),
                    None => Err(ApiError::TxRejected(
                        crate::pool::PoolError::ShuttingDown.to_string(),
                    )),
                },
            };
            out.push(verdict);
        }
        out
    }

    fn group_id(&self) -> u32 {
        self.group
    }

    fn protocol_name(&self) -> &'static str {
        use crate::cluster::config::ConsensusKind;
        match self.config.cluster.as_ref().map(|c| c.consensus) {
            None => "solo",
            Some(ConsensusKind::Pbft) => "pbft",
            Some(ConsensusKind::Raft) => "raft",
        }
    }

    /// Size, decoding and the static rules: everything checked before sender recovery.
    pub fn check_raw(&self, raw: &[u8]) -> Result<Arc<Tx>, ApiError> {
        self.pool
            .rules()
            .check_raw(raw)
            .map(Arc::new)
            .map_err(|e| ApiError::TxRejected(e.to_string()))
    }
}

impl ChainApi for NodeApi {
    fn chain_id(&self) -> u64 {
        self.config.chain.chain_id
    }

    fn client_version(&self) -> String {
        format!(
            "bcos/v{}/{}-{}/rust",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    }

    fn head_number(&self) -> u64 {
        self.store.head().map_or(0, |(n, _)| n)
    }

    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ApiError> {
        if number > self.head_number() {
            return Ok(None);
        }
        self.store.committed_block(number).map_err(internal)
    }

    fn header(&self, number: u64) -> Result<Option<(B256, Header)>, ApiError> {
        if number > self.head_number() {
            return Ok(None);
        }
        // Recent blocks come from the store's cache; receipts and senders are not read.
        Ok(self
            .store
            .block_by_number(number)
            .map_err(internal)?
            .map(|b| (b.hash, b.header().clone())))
    }

    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, ApiError> {
        self.store.block_number_by_hash(hash).map_err(internal)
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ApiError> {
        // A block's indexes become readable a moment before its head is published; hide them
        // until then so no client sees a receipt for a block beyond eth_blockNumber.
        let head = self.head_number();
        Ok(self
            .store
            .tx_location(hash)
            .map_err(internal)?
            .filter(|l| l.block_number <= head)
            .map(|l| (l.block_number, l.index)))
    }

    fn pending_tx(&self, hash: &B256) -> Option<RecoveredTx> {
        self.pool.get(hash)
    }

    fn account(&self, address: &Address, at: StateAt) -> Result<Option<Account>, ApiError> {
        self.check_at(at)?;
        self.store.account(address).map_err(internal)
    }

    fn storage_at(&self, address: &Address, slot: &U256, at: StateAt) -> Result<U256, ApiError> {
        self.check_at(at)?;
        self.store.storage(address, slot).map_err(internal)
    }

    fn code(&self, address: &Address, at: StateAt) -> Result<Bytes, ApiError> {
        self.check_at(at)?;
        let Some(acct) = self.store.account(address).map_err(internal)? else {
            return Ok(Bytes::new());
        };
        if !acct.has_code() {
            return Ok(Bytes::new());
        }
        Ok(self
            .store
            .code(&acct.code_hash)
            .map_err(internal)?
            .unwrap_or_default())
    }

    fn pending_nonce(&self, address: &Address) -> Result<u64, ApiError> {
        self.pool.pending_nonce(address).map_err(internal)
    }

    fn send_raw_transaction(
        &self,
        raw: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<B256, ApiError>> + Send + '_>> {
        Box::pin(self.submit(raw))
    }

    fn send_raw_transactions(&self, raws: Vec<Bytes>) -> bcos_rpc::Verdicts<'_> {
        Box::pin(self.submit_many(raws))
    }

    fn call(&self, request: CallRequest, at: StateAt) -> Result<CallOutcome, ApiError> {
        self.check_at(at)?;
        let state: &dyn StateReader = &*self.store;
        self.executor
            .call(state, &self.next_env(), &request, &self.call_limits())
            .map_err(exec_error)
    }

    fn estimate_gas(
        &self,
        request: CallRequest,
        at: StateAt,
    ) -> Result<Result<u64, CallOutcome>, ApiError> {
        self.check_at(at)?;
        let state: &dyn StateReader = &*self.store;
        self.executor
            .estimate_gas(state, &self.next_env(), &request, &self.call_limits())
            .map_err(exec_error)
    }

    fn next_base_fee(&self) -> u64 {
        self.config.chain.base_fee_wei
    }

    fn max_priority_fee(&self) -> u128 {
        self.config.chain.priority_fee_wei
    }

    fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.blocks.subscribe()
    }

    fn accounts(&self) -> Vec<Address> {
        Vec::new()
    }

    fn syncing(&self) -> bool {
        false
    }

    fn pending_tx_count(&self) -> usize {
        self.pool.len()
    }

    fn total_tx_count(&self) -> u64 {
        self.store.total_tx_count()
    }

    fn node_info(&self) -> serde_json::Value {
        let p2p = self.net.as_ref().map(|net| {
            let st = net.stats().borrow().clone();
            json!({
                "peersConnected": self.peer_count(),
                "peersConfigured": net.peers().len(),
                "handshakesFailedInbound": st.handshakes_failed_inbound,
                "handshakesFailedOutbound": st.handshakes_failed_outbound,
                "peersRefused": st.peers_refused,
                "framesRejected": st.frames_rejected,
                "framesDroppedQueueFull": st.frames_dropped_queue_full,
                "framesDroppedQueueBytes": st.frames_dropped_queue_bytes,
                "writeTimeouts": st.write_timeouts,
                "handshakesRefusedPerIp": st.handshakes_refused_per_ip,
                "handshakesRefusedBusy": st.handshakes_refused_busy,
                "peersDenied": st.peers_denied,
                "connectionsClosedDenied": st.connections_closed_denied,
                "denyListReloads": st.deny_list_reloads,
                "denyListReloadErrors": st.deny_list_reload_errors,
            })
        });
        let self_member = self
            .config
            .cluster
            .as_ref()
            .and_then(|c| c.members.get(c.index as usize));
        let mut stages = self.metrics.json();
        stages["execute"]["direct_transfers"] = json!(self.executor.direct_transfers());
        json!({
            "version": self.client_version(),
            "chainId": self.chain_id(),
            "group": self.group_id(),
            "groups": self.group_list(),
            "dispatch": self.dispatch.as_ref().map(|d| d.counters.json()),
            "consensus": self.protocol_name(),
            "nodeIndex": self.config.cluster.as_ref().map(|c| c.node_index()),
            // This node's own id and P2P address, as its peers list it (bcos_getPeers).
            "nodeId": self_member.map(|m| m.node_id),
            "p2pAddr": self_member.map(|m| m.p2p_addr.to_string()),
            "blockNumber": self.head_number(),
            "ioBackend": self.io_backend,
            "p2p": p2p,
            "stages": stages,
            "stateCache": self.store.state_cache_stats().map(|c| json!({
                "hits": c.hits,
                "misses": c.misses,
                "entries": c.entries,
                "bytes": c.bytes,
                "bytesMax": c.bytes_max,
            })),
            "amop": self.amop.0.status(),
        })
    }

    fn group_list(&self) -> serde_json::Value {
        (self.group_list)()
    }

    fn consensus_status(&self) -> serde_json::Value {
        match (&self.consensus, &self.config.cluster) {
            (Some(v), Some(c)) => {
                let s = v.get();
                json!({
                    "protocol": self.protocol_name(),
                    "nodes": c.members.len(),
                    "nodeIndex": c.node_index(),
                    // Consensus positions (leader, members) are the group's; memberNodes
                    // gives the node index of each.
                    "position": c.index,
                    "memberNodes": c.member_nodes(),
                    // Raft: `view` is the term; the leader is null while unknown.
                    "leader": (s.leader != u32::MAX).then_some(s.leader),
                    "view": s.view,
                    "members": v.members(),
                    "blockNumber": self.head_number(),
                    "nextHeight": s.next_height,
                    "timeoutMs": s.timeout_ms,
                })
            }
            _ => json!({
                "protocol": "solo",
                "nodes": 1,
                "leader": 0,
                "blockNumber": self.head_number(),
                "nextHeight": self.head_number() + 1,
            }),
        }
    }

    fn settlement_status(&self) -> Result<serde_json::Value, ApiError> {
        let view = self.settlement.as_ref().ok_or_else(not_settlement)?;
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        crate::settlement::status::status(self, view, now_s)
    }

    fn settlement_proof(&self, seq: u64) -> Result<serde_json::Value, ApiError> {
        match self.settlement.as_ref().map(|v| v.role) {
            Some(crate::settlement::SettlementRole::User) => {
                crate::settlement::status::proof(self, seq)
            }
            _ => Err(ApiError::InvalidParams(
                "this chain is not a user chain of a high-frequency account".into(),
            )),
        }
    }

    fn amop(&self) -> Option<Arc<dyn bcos_rpc::amop::AmopApi>> {
        Some(self.amop.clone())
    }

    fn interceptions(&self, from: u64) -> Result<serde_json::Value, ApiError> {
        let (entries, next) = self.pool.interceptions().since(from);
        let entries: Vec<_> = entries
            .into_iter()
            .map(|e| {
                json!({
                    "seq": e.seq,
                    "timeMs": e.unix_ms,
                    "block": e.block,
                    "hash": e.tx,
                    "from": e.from,
                    "to": e.to,
                    "rule": e.rule,
                    "reason": e.reason,
                })
            })
            .collect();
        Ok(json!({ "interceptions": entries, "next": next }))
    }

    fn block_certificate(&self, number: u64) -> Result<Option<serde_json::Value>, ApiError> {
        if number > self.head_number() {
            return Ok(None);
        }
        let raw = self
            .store
            .certificate(number)
            .map_err(internal)?
            .unwrap_or_default();
        if raw.is_empty() {
            return Ok(Some(
                json!({ "number": number, "kind": "none", "raw": "0x" }),
            ));
        }
        let hex = |b: &[u8]| {
            format!(
                "0x{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            )
        };
        let decoded = (raw.len() > 8)
            .then(|| bcos_crypto::bls::CommitCertificate::decode(&raw[8..]).ok())
            .flatten();
        Ok(Some(match decoded {
            Some(c) => {
                let mut v = [0u8; 8];
                v.copy_from_slice(&raw[..8]);
                json!({
                    "number": number,
                    "kind": "pbft-bls",
                    "view": u64::from_be_bytes(v),
                    // Signers are positions in the validator set of that height (PBFT-R20);
                    // `signers` names them by member index where that set is known.
                    "signerPositions": c.signer_indices().collect::<Vec<_>>(),
                    "signers": signer_members(self.consensus.as_deref(), number, &c),
                    "digest": hex(c.digest.as_bytes()),
                    "aggregate": hex(&c.aggregate),
                    "raw": hex(&raw),
                })
            }
            None => json!({ "number": number, "kind": "opaque", "raw": hex(&raw) }),
        }))
    }

    fn peers(&self) -> serde_json::Value {
        let Some(net) = &self.net else {
            return json!([]);
        };
        let members = self
            .config
            .cluster
            .as_ref()
            .map(|c| (c.member_nodes(), &c.members));
        let peers: Vec<_> = net
            .peers()
            .into_iter()
            .map(|p| {
                let link = net.link(p).map(|l| *l.borrow());
                let member = members.as_ref().and_then(|(nodes, members)| {
                    let at = nodes.iter().position(|n| *n == p)?;
                    members.get(at)
                });
                json!({
                    "nodeIndex": p,
                    "nodeId": member.map(|m| m.node_id),
                    "p2pAddr": member.map(|m| m.p2p_addr.to_string()),
                    "connected": link.is_some_and(|l| l.connected),
                    "connects": link.map_or(0, |l| l.connects),
                    "disconnects": link.map_or(0, |l| l.disconnects),
                })
            })
            .collect();
        json!(peers)
    }

    fn pending_txs(&self, max: usize) -> Vec<RecoveredTx> {
        self.pool.take_any(max)
    }

    fn peer_count(&self) -> usize {
        let Some(net) = &self.net else { return 0 };
        net.peers()
            .into_iter()
            .filter(|p| net.link(*p).is_some_and(|l| l.borrow().connected))
            .count()
    }
}

/// A certificate's signers by member index, where the set of its height is known.
fn signer_members(
    view: Option<&crate::cluster::ConsensusView>,
    number: u64,
    c: &bcos_crypto::bls::CommitCertificate,
) -> Option<Vec<u32>> {
    let set = view?.validators_at(number)?;
    c.signer_indices()
        .map(|p| set.get(p).copied())
        .collect::<Option<Vec<_>>>()
}
