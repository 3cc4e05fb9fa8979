//! A mock node (an in-memory chain of signed transactions and receipts) and raw HTTP/WS
//! clients, so tests drive the real server exactly as an external client would.
#![allow(dead_code, clippy::unwrap_used)]

pub mod client;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_primitives::{Signature, TxKind};
use bcos_rpc::{ApiError, ChainApi, JsonValue, RpcConfig, RpcHandle, StateAt};
use bcos_types::block::{logs_bloom, tx_root};
use bcos_types::{
    Account, Address, Block, Bytes, CallOutcome, CallRequest, CommittedBlock, Header, Log, LogData,
    Receipt, RecoveredTx, Tx, B256, U256,
};
use parking_lot::{Condvar, Mutex, RwLock};
use secp256k1::{Message, SecretKey, SECP256K1};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const CHAIN_ID: u64 = 20200;
pub const BASE_FEE: u64 = 1_000_000;

pub fn key(i: u8) -> SecretKey {
    SecretKey::from_byte_array([i.max(1); 32]).unwrap()
}

pub fn address_of(key: &SecretKey) -> Address {
    let pk = key.public_key(SECP256K1).serialize_uncompressed();
    Address::from_slice(&bcos_types::keccak256(&pk[1..])[12..])
}

pub fn sign<T: SignableTransaction<Signature>>(tx: T, key: &SecretKey) -> TxEnvelope
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let msg = Message::from_digest(tx.signature_hash().0);
    let (recid, compact) = SECP256K1
        .sign_ecdsa_recoverable(msg, key)
        .serialize_compact();
    let sig = Signature::from_bytes_and_parity(&compact, i32::from(recid) == 1);
    tx.into_signed(sig).into()
}

pub fn legacy_create(nonce: u64, key: &SecretKey) -> TxEnvelope {
    sign(
        TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 2_000_000,
            gas_limit: 100_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: vec![0x60, 0x00].into(),
        },
        key,
    )
}

pub fn eip1559_call(nonce: u64, to: Address, key: &SecretKey) -> TxEnvelope {
    sign(
        TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 60_000,
            max_fee_per_gas: 3_000_000,
            max_priority_fee_per_gas: 500_000,
            to: TxKind::Call(to),
            value: U256::from(5),
            input: vec![1, 2, 3].into(),
            access_list: Default::default(),
        },
        key,
    )
}

pub fn eip2930_call(nonce: u64, to: Address, key: &SecretKey) -> TxEnvelope {
    sign(
        TxEip2930 {
            chain_id: CHAIN_ID,
            nonce,
            gas_price: 1_500_000,
            gas_limit: 50_000,
            to: TxKind::Call(to),
            value: U256::ZERO,
            input: Bytes::new(),
            access_list: Default::default(),
        },
        key,
    )
}

pub fn log(address: Address, topics: &[B256]) -> Log {
    Log {
        address,
        data: LogData::new_unchecked(topics.to_vec(), Bytes::from(vec![0xaa])),
    }
}

pub fn topic(i: u8) -> B256 {
    B256::repeat_byte(i)
}

/// ABI encoding of `Error(reason)`.
pub fn error_string(reason: &str) -> Vec<u8> {
    let mut d = vec![0x08, 0xc3, 0x79, 0xa0];
    let mut w = [0u8; 32];
    w[31] = 32;
    d.extend_from_slice(&w);
    w[31] = reason.len() as u8;
    d.extend_from_slice(&w);
    let mut body = reason.as_bytes().to_vec();
    body.resize(reason.len().div_ceil(32) * 32, 0);
    d.extend_from_slice(&body);
    d
}

/// Calldata the mock answers with a revert carrying `Error("nope")`.
pub const REVERT_STRING_INPUT: [u8; 2] = [0xde, 0xad];
/// Calldata the mock answers with a revert carrying the custom error `0xdeadbeef`.
pub const REVERT_CUSTOM_INPUT: [u8; 2] = [0xbe, 0xef];
/// A raw "transaction" the mock holds until a second one arrives (tests batch parallelism).
pub const RENDEZVOUS_RAW: [u8; 1] = [0x01];
/// A raw "transaction" whose submission panics inside the mock (a handler's bug).
pub const PANIC_RAW: [u8; 1] = [0x02];
/// An account whose state read blocks in [`MockChain::gate`] until the test opens it.
pub const GATED: Address = Address::repeat_byte(0x9a);
/// An account whose code is [`BIG_CODE_BYTES`] long.
pub const BIG_CODE: Address = Address::repeat_byte(0xb1);
pub const BIG_CODE_BYTES: usize = 1 << 20;

/// Holds every state read of [`GATED`] until opened, counting the reads that entered: a
/// storage read that is slow or stuck, to see where reads run and how many at once.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    pub fn pass(&self) {
        let mut s = self.state.lock();
        s.1 += 1;
        self.changed.notify_all();
        while !s.0 {
            self.changed.wait(&mut s);
        }
    }
    /// Blocks the calling thread until at least `n` reads have entered.
    pub fn wait_entered(&self, n: usize) {
        let mut s = self.state.lock();
        while s.1 < n {
            self.changed.wait(&mut s);
        }
    }
    pub fn entered(&self) -> usize {
        self.state.lock().1
    }
    pub fn open(&self) {
        self.state.lock().0 = true;
        self.changed.notify_all();
    }
}

pub struct MockChain {
    chain_id: u64,
    blocks: RwLock<Vec<CommittedBlock>>,
    tx_index: RwLock<HashMap<B256, (u64, u32)>>,
    feed: tokio::sync::broadcast::Sender<Arc<CommittedBlock>>,
    rendezvous: tokio::sync::Barrier,
    /// Calls of `send_raw_transactions` (batches submitted together) and the transactions
    /// they carried.
    pub raw_batches: Mutex<Vec<usize>>,
    pub accounts: RwLock<HashMap<Address, Account>>,
    pub gate: Gate,
    /// Counts the reads of [`BIG_CODE`] (always open).
    pub big_code: Gate,
}

impl MockChain {
    /// Genesis, then block 1 with a create, a call emitting two logs and a call emitting one;
    /// `feed_capacity` is the broadcast buffer (small to force `Lagged`).
    pub fn new(feed_capacity: usize) -> Arc<Self> {
        Self::with_chain_id(feed_capacity, CHAIN_ID)
    }

    /// [`MockChain::new`] answering `chain_id` to eth_chainId (one chain per group).
    pub fn with_chain_id(feed_capacity: usize, chain_id: u64) -> Arc<Self> {
        let chain = Arc::new(MockChain {
            chain_id,
            blocks: RwLock::new(Vec::new()),
            tx_index: RwLock::new(HashMap::new()),
            feed: tokio::sync::broadcast::channel(feed_capacity).0,
            rendezvous: tokio::sync::Barrier::new(2),
            raw_batches: Mutex::new(Vec::new()),
            accounts: RwLock::new(HashMap::new()),
            gate: Gate::default(),
            big_code: Gate::default(),
        });
        chain.big_code.open();
        let k = key(1);
        let sender = address_of(&k);
        chain.accounts.write().insert(
            sender,
            Account {
                nonce: 3,
                balance: U256::from(1_000_000u64),
                ..Default::default()
            },
        );
        chain.push_block(vec![], vec![]);
        let contract = sender.create(0);
        let other = Address::repeat_byte(0xd0);
        let txs = vec![
            (legacy_create(0, &k), receipt(0, 53_000, vec![])),
            (
                eip1559_call(1, contract, &k),
                receipt(
                    2,
                    53_000 + 30_000,
                    vec![
                        log(contract, &[topic(1), topic(2)]),
                        log(contract, &[topic(1)]),
                    ],
                ),
            ),
            (
                eip2930_call(2, other, &k),
                receipt(1, 53_000 + 30_000 + 25_000, vec![log(other, &[topic(3)])]),
            ),
        ];
        let (envs, receipts) = txs.into_iter().unzip();
        chain.push_block(envs, receipts);
        chain
    }

    pub fn sender() -> Address {
        address_of(&key(1))
    }

    /// Appends a block and broadcasts it; returns its hash.
    pub fn push_block(&self, envs: Vec<TxEnvelope>, receipts: Vec<Receipt>) -> B256 {
        let mut blocks = self.blocks.write();
        let number = blocks.len() as u64;
        let parent_hash = blocks.last().map_or(B256::ZERO, |b| b.block.hash);
        let txs: Vec<Arc<Tx>> = envs
            .into_iter()
            .map(|e| Arc::new(Tx::from_envelope(e)))
            .collect();
        let header = Header {
            parent_hash,
            number,
            timestamp: 1_700_000_000 + number,
            gas_limit: 30_000_000,
            gas_used: receipts.last().map_or(0, |r| r.cumulative_gas_used),
            base_fee_per_gas: BASE_FEE,
            beneficiary: Address::repeat_byte(0xcb),
            tx_root: tx_root(&txs),
            receipts_root: bcos_types::block::receipts_root(&receipts),
            state_root: B256::repeat_byte(0x55),
            logs_bloom: logs_bloom(&receipts),
            extra_data: Bytes::from(vec![7]),
        };
        let senders = vec![Self::sender(); txs.len()];
        for (i, tx) in txs.iter().enumerate() {
            self.tx_index.write().insert(tx.hash(), (number, i as u32));
        }
        let committed = CommittedBlock {
            block: Block { header, txs }.seal(),
            receipts: Arc::new(receipts),
            senders: Arc::new(senders),
            certificate: Bytes::new(),
        };
        let hash = committed.block.hash;
        blocks.push(committed.clone());
        drop(blocks);
        let _no_subscribers = self.feed.send(Arc::new(committed));
        hash
    }

    pub fn push_empty(&self) -> B256 {
        self.push_block(vec![], vec![])
    }

    pub fn block(&self, n: u64) -> CommittedBlock {
        self.blocks.read()[n as usize].clone()
    }
}

pub fn receipt(tx_type: u8, cumulative_gas_used: u64, logs: Vec<Log>) -> Receipt {
    Receipt {
        tx_type,
        success: true,
        cumulative_gas_used,
        logs,
    }
}

impl ChainApi for MockChain {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }
    fn client_version(&self) -> String {
        "bcos-mock/0.1".into()
    }
    fn head_number(&self) -> u64 {
        self.blocks.read().len() as u64 - 1
    }
    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ApiError> {
        Ok(self.blocks.read().get(number as usize).cloned())
    }
    fn block_number_by_hash(&self, hash: &B256) -> Result<Option<u64>, ApiError> {
        Ok(self
            .blocks
            .read()
            .iter()
            .find(|b| b.block.hash == *hash)
            .map(|b| b.number()))
    }
    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ApiError> {
        Ok(self.tx_index.read().get(hash).copied())
    }
    fn pending_tx(&self, _hash: &B256) -> Option<RecoveredTx> {
        None
    }
    fn account(&self, address: &Address, at: StateAt) -> Result<Option<Account>, ApiError> {
        if *address == GATED {
            self.gate.pass();
        }
        match at {
            StateAt::Number(_) => Err(ApiError::Unavailable("historical state is not kept".into())),
            _ => Ok(self.accounts.read().get(address).cloned()),
        }
    }
    fn storage_at(&self, _address: &Address, slot: &U256, _at: StateAt) -> Result<U256, ApiError> {
        Ok(*slot + U256::from(1))
    }
    fn code(&self, address: &Address, _at: StateAt) -> Result<Bytes, ApiError> {
        if *address == BIG_CODE {
            self.big_code.pass();
            return Ok(Bytes::from(vec![0x5b; BIG_CODE_BYTES]));
        }
        Ok(Bytes::from(vec![0x60, 0x00]))
    }
    fn pending_nonce(&self, address: &Address) -> Result<u64, ApiError> {
        Ok(self.accounts.read().get(address).map_or(0, |a| a.nonce) + 2)
    }
    fn send_raw_transaction(
        &self,
        raw: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<B256, ApiError>> + Send + '_>> {
        Box::pin(async move {
            if raw[..] == RENDEZVOUS_RAW {
                self.rendezvous.wait().await;
                return Ok(B256::repeat_byte(0x01));
            }
            assert!(raw[..] != PANIC_RAW, "the mock's submission panics");
            let tx = Tx::decode(&raw).map_err(|e| ApiError::TxRejected(e.to_string()))?;
            Ok(tx.hash())
        })
    }
    fn send_raw_transactions(&self, raws: Vec<Bytes>) -> bcos_rpc::Verdicts<'_> {
        self.raw_batches.lock().push(raws.len());
        // Concurrently, as the trait's default does: the rendezvous needs two at once.
        Box::pin(futures_util::future::join_all(
            raws.into_iter().map(|raw| self.send_raw_transaction(raw)),
        ))
    }
    fn call(&self, request: CallRequest, _at: StateAt) -> Result<CallOutcome, ApiError> {
        Ok(match &request.input[..] {
            i if i == REVERT_STRING_INPUT => CallOutcome::Revert {
                output: error_string("nope").into(),
                gas_used: 100,
            },
            i if i == REVERT_CUSTOM_INPUT => CallOutcome::Revert {
                output: Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]),
                gas_used: 100,
            },
            _ => CallOutcome::Success {
                output: request.input.clone(),
                gas_used: 21_000,
                logs: vec![],
            },
        })
    }
    fn estimate_gas(
        &self,
        request: CallRequest,
        at: StateAt,
    ) -> Result<Result<u64, CallOutcome>, ApiError> {
        Ok(match self.call(request, at)? {
            CallOutcome::Success { gas_used, .. } => Ok(gas_used),
            failed => Err(failed),
        })
    }
    fn next_base_fee(&self) -> u64 {
        BASE_FEE
    }
    fn max_priority_fee(&self) -> u128 {
        500_000
    }
    fn subscribe_blocks(&self) -> tokio::sync::broadcast::Receiver<Arc<CommittedBlock>> {
        self.feed.subscribe()
    }
    fn accounts(&self) -> Vec<Address> {
        vec![]
    }
    fn syncing(&self) -> bool {
        false
    }
    fn pending_tx_count(&self) -> usize {
        4
    }
    fn total_tx_count(&self) -> u64 {
        3
    }
    fn node_info(&self) -> JsonValue {
        serde_json::json!({ "nodeId": "mock" })
    }
    fn group_list(&self) -> JsonValue {
        serde_json::json!(["group0"])
    }
    fn consensus_status(&self) -> JsonValue {
        serde_json::json!({ "view": 0 })
    }
    fn peer_count(&self) -> usize {
        0
    }
}

/// A server on a random port over a fresh mock chain.
pub async fn serve(config: RpcConfig) -> (Arc<MockChain>, RpcHandle) {
    let chain = MockChain::new(64);
    serve_chain(config, chain).await
}

pub async fn serve_chain(
    mut config: RpcConfig,
    chain: Arc<MockChain>,
) -> (Arc<MockChain>, RpcHandle) {
    config.addr = "127.0.0.1:0".parse().unwrap();
    let handle = bcos_rpc::start(&config, chain.clone()).await.unwrap();
    (chain, handle)
}

/// A server on a random port serving each mock chain as its group.
pub async fn serve_groups(mut config: RpcConfig, groups: &[(u32, Arc<MockChain>)]) -> RpcHandle {
    config.addr = "127.0.0.1:0".parse().unwrap();
    let groups = groups
        .iter()
        .map(|(g, c)| (*g, c.clone() as Arc<dyn ChainApi>))
        .collect();
    bcos_rpc::start_groups(&config, groups).await.unwrap()
}
