//! What the RPC layer needs from the node. The node implements [`ChainApi`]; tests use a mock.

use bcos_types::{
    Account, Address, Bytes, CallOutcome, CallRequest, CommittedBlock, Header, RecoveredTx, B256,
    U256,
};
use std::sync::Arc;

/// An error the node reports to an RPC caller. Codes follow the Ethereum JSON-RPC conventions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Rejected transaction (bad signature, nonce, funds, pool full, ...): code -32000 in geth
    /// and anvil; the message says why.
    #[error("{0}")]
    TxRejected(String),
    /// Invalid parameters: -32602.
    #[error("{0}")]
    InvalidParams(String),
    /// Resource not available (e.g. historical state): -32000.
    #[error("{0}")]
    Unavailable(String),
    /// The node failed internally: -32603.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which block a state query refers to, resolved by the RPC layer from a block tag or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAt {
    /// The latest committed state.
    Latest,
    /// Latest state plus the pool's view (only the nonce differs).
    Pending,
    /// The state after block N; only the head's state is kept, so other heights are
    /// `ApiError::Unavailable`.
    Number(u64),
}

/// Node facts for `bcos_getNodeInfo` and friends; free-form JSON kept small on purpose.
pub type JsonValue = serde_json::Value;

/// The verdicts of [`ChainApi::send_raw_transactions`], one per transaction in order: its
/// hash, or why it was refused.
pub type Verdicts<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Result<B256, ApiError>>> + Send + 'a>>;

/// The node side of JSON-RPC.
pub trait ChainApi: Send + Sync + 'static {
    fn chain_id(&self) -> u64;
    fn client_version(&self) -> String;
    /// Latest committed block number.
    fn head_number(&self) -> u64;
    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ApiError>;
    /// Hash and header of a committed block. The default reads the whole block; a node with
    /// a header index should override it, since eth_getLogs checks every header's bloom and
    /// block filters only need hashes.
    fn header(&self, number: u64) -> Result<Option<(B256, Header)>, ApiError> {
        Ok(self
            .committed_block(number)?
            .map(|b| (b.block.hash, b.block.header().clone())))
    }
    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, ApiError>;
    /// (block number, index in block) of a committed transaction.
    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ApiError>;
    /// A transaction still waiting in the pool.
    fn pending_tx(&self, hash: &B256) -> Option<RecoveredTx>;

    fn account(&self, address: &Address, at: StateAt) -> Result<Option<Account>, ApiError>;
    fn storage_at(&self, address: &Address, slot: &U256, at: StateAt) -> Result<U256, ApiError>;
    fn code(&self, address: &Address, at: StateAt) -> Result<Bytes, ApiError>;
    /// Next nonce counting pooled transactions.
    fn pending_nonce(&self, address: &Address) -> Result<u64, ApiError>;

    /// Decodes, verifies and admits a raw EIP-2718 transaction; returns its hash.
    fn send_raw_transaction(
        &self,
        raw: Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<B256, ApiError>> + Send + '_>>;
    /// [`ChainApi::send_raw_transaction`] for each of `raws`, verdicts in their order: what
    /// a batch made only of eth_sendRawTransaction calls runs as (`raw_tx_batch`). An
    /// implementation that admits many at once with less work per transaction overrides it;
    /// this one runs the single submissions concurrently, as the calls of any batch run.
    fn send_raw_transactions(&self, raws: Vec<Bytes>) -> Verdicts<'_> {
        Box::pin(futures_util::future::join_all(
            raws.into_iter().map(|raw| self.send_raw_transaction(raw)),
        ))
    }
    fn call(&self, request: CallRequest, at: StateAt) -> Result<CallOutcome, ApiError>;
    /// Smallest gas limit with which the request succeeds; a revert is reported as
    /// `Ok(CallOutcome::Revert)` through `call`, so this returns the failing outcome as Err data.
    fn estimate_gas(
        &self,
        request: CallRequest,
        at: StateAt,
    ) -> Result<Result<u64, CallOutcome>, ApiError>;

    /// Base fee of the next block.
    fn next_base_fee(&self) -> u64;
    /// Suggested priority fee.
    fn max_priority_fee(&self) -> u128;

    /// Every block committed from now on, in order. A lagging receiver sees `Lagged` and
    /// the RPC layer refills the gap from storage.
    fn subscribe_blocks(&self) -> tokio::sync::broadcast::Receiver<Arc<CommittedBlock>>;

    /// Addresses whose keys this node holds (eth_accounts); the dev node holds none.
    fn accounts(&self) -> Vec<Address>;
    fn syncing(&self) -> bool;
    fn pending_tx_count(&self) -> usize;
    fn total_tx_count(&self) -> u64;
    fn node_info(&self) -> JsonValue;
    fn group_list(&self) -> JsonValue;
    fn consensus_status(&self) -> JsonValue;
    /// Peer count for net_peerCount; 0 for a single node.
    fn peer_count(&self) -> usize;
    /// `bcos_getPeers`: the node's P2P peers (index, node id, address where this group
    /// knows them, link state); empty for a single node.
    fn peers(&self) -> JsonValue {
        JsonValue::Array(Vec::new())
    }
    /// At most `max` pooled transactions (senders in arrival order, each in nonce order).
    fn pending_txs(&self, max: usize) -> Vec<RecoveredTx> {
        let _ = max;
        Vec::new()
    }
    /// `bcos_getSettlementStatus`: this chain's side of high-frequency-account settlement.
    fn settlement_status(&self) -> Result<JsonValue, ApiError> {
        Err(ApiError::InvalidParams(
            "this chain takes no part in settlement".into(),
        ))
    }
    /// `bcos_getSettlementProof`: record `seq` of this user chain with its proof.
    fn settlement_proof(&self, seq: u64) -> Result<JsonValue, ApiError> {
        let _ = seq;
        Err(ApiError::InvalidParams(
            "this chain is not a user chain".into(),
        ))
    }
    /// `bcos_getInterceptions`: transactions the pool refused by a governance rule, from
    /// journal number `from` on (spec/governance.md REG-R5).
    fn interceptions(&self, from: u64) -> Result<JsonValue, ApiError> {
        let _ = from;
        Err(ApiError::InvalidParams(
            "this node keeps no interception journal".into(),
        ))
    }
    /// The decoded commit certificate of block `number`; `None` past the head.
    fn block_certificate(&self, number: u64) -> Result<Option<JsonValue>, ApiError> {
        let _ = number;
        Ok(None)
    }
    /// This group's AMOP router (`amop_*` methods); None: AMOP is not served.
    fn amop(&self) -> Option<Arc<dyn crate::amop::AmopApi>> {
        None
    }
}
