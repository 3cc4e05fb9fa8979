//! `bcos relay` (spec/settlement.md §9, XS-L1): an ordinary client that carries a user
//! chain's settlement records to the merchant chain. It trusts nothing it relays: the
//! merchant chain verifies each proof. Any number may run, for the same chain or not; a
//! record another relayer credited first is refused there as a replay and skipped here.

use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use anyhow::{anyhow, bail, Context};
use bcos_crypto::SecretKey;
use bcos_execution::settlement::submit_calldata;
use bcos_rpc::client::{hex_u64, RpcClient};
use bcos_settlement::SETTLEMENT_ADDRESS;
use bcos_types::{Address, Bytes, TxKind, U256};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Records submitted per round (consecutive nonces, so they land in order).
pub const RELAY_BATCH_MAX_DEFAULT: usize = 32;
/// Pause between rounds when nothing is pending.
pub const RELAY_POLL_MS_DEFAULT: u64 = 200;
/// How long a round waits for its transactions' receipts.
pub const RELAY_CONFIRM_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Gas of a submission: the plain call, calldata at the EIP-7623 floor of 40 per byte
/// with room to spare, and the contract's own verification gas.
pub fn submit_gas(calldata_len: usize) -> u64 {
    21_000 + 64 * calldata_len as u64 + bcos_execution::settlement::SUBMIT_GAS
}

/// A signed `submitSettlement(proof)` to the merchant chain `chain_id`.
pub fn submission_tx(
    key: &SecretKey,
    chain_id: u64,
    nonce: u64,
    max_fee_per_gas: u128,
    proof: &[u8],
) -> alloy_consensus::TxEnvelope {
    let input = submit_calldata(proof);
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: submit_gas(input.len()),
        max_fee_per_gas,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(SETTLEMENT_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    bcos_crypto::sign::sign_tx(tx, key)
}

#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The user chain's RPC URL (e.g. http://127.0.0.1:8545/g/1).
    pub source: String,
    /// The merchant chain's RPC URL.
    pub target: String,
    /// Pays the gas of submissions on the merchant chain.
    pub key: SecretKey,
    pub batch_max: usize,
    pub poll_ms: u64,
    pub confirm_timeout_ms: u64,
    /// Stop after this many records were seen credited (tests); 0: run until killed.
    pub stop_after_seq: u64,
}

struct Relay {
    o: RelayOptions,
    from: Address,
    source: RpcClient,
    target: RpcClient,
    chain: u64,
    target_chain: u64,
}

fn u64_field(v: &Value, field: &str) -> anyhow::Result<u64> {
    v.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("settlement status without {field}: {v}"))
}

impl Relay {
    fn connect(o: &RelayOptions) -> anyhow::Result<Relay> {
        let mut source = RpcClient::connect(&o.source)?;
        let mut target = RpcClient::connect(&o.target)?;
        let status = source.must("bcos_getSettlementStatus", json!([]))?;
        if status.get("role").and_then(Value::as_str) != Some("user") {
            bail!(
                "{} is not a user chain of a high-frequency account",
                o.source
            );
        }
        let chain = u64_field(&status, "chainId")?;
        let target_chain = hex_u64(&target.must("eth_chainId", json!([]))?)?;
        let from = bcos_crypto::address_of(&o.key);
        Ok(Relay {
            o: o.clone(),
            from,
            source,
            target,
            chain,
            target_chain,
        })
    }

    /// (created on the user chain, credited on the merchant chain) sequence numbers.
    fn progress(&mut self) -> anyhow::Result<(u64, u64)> {
        let created = u64_field(
            &self.source.must("bcos_getSettlementStatus", json!([]))?,
            "lastSeq",
        )?;
        let t = self.target.must("bcos_getSettlementStatus", json!([]))?;
        let chains = t
            .get("chains")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("{} is not a merchant chain", self.o.target))?;
        let mine = chains
            .iter()
            .find(|c| c.get("chainId").and_then(Value::as_u64) == Some(self.chain))
            .ok_or_else(|| {
                anyhow!(
                    "the merchant chain does not register user chain {}",
                    self.chain
                )
            })?;
        Ok((created, u64_field(mine, "creditedSeq")?))
    }

    /// Record `seq`'s proof from the user chain.
    fn proof(&mut self, seq: u64) -> anyhow::Result<Bytes> {
        let p = self.source.must("bcos_getSettlementProof", json!([seq]))?;
        Ok(serde_json::from_value(
            p.get("proof")
                .cloned()
                .ok_or_else(|| anyhow!("proof missing: {p}"))?,
        )?)
    }

    /// Why the merchant chain refuses `proof` now (its revert reason), for the log.
    fn refusal(&mut self, proof: &[u8]) -> String {
        let call = json!({
            "from": self.from,
            "to": SETTLEMENT_ADDRESS,
            "data": Bytes::from(submit_calldata(proof)),
        });
        match self.target.call("eth_call", json!([call, "latest"])) {
            Ok(Err(e)) => e.message,
            Ok(Ok(_)) => "accepted now (it was refused when its block ran)".into(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// One round: submit the next records and wait for the last one's receipt.
    fn round(&mut self) -> anyhow::Result<u64> {
        let (created, credited) = self.progress()?;
        if created <= credited {
            return Ok(credited);
        }
        let last = created.min(credited.saturating_add(self.o.batch_max as u64));
        let nonce = hex_u64(
            &self
                .target
                .must("eth_getTransactionCount", json!([self.from, "pending"]))?,
        )?;
        let max_fee = u128::from(hex_u64(&self.target.must("eth_gasPrice", json!([]))?)?);
        let mut sent = Vec::new();
        for (k, seq) in (credited + 1..=last).enumerate() {
            let proof = self.proof(seq)?;
            let raw: Bytes = submission_tx(
                &self.o.key,
                self.target_chain,
                nonce + k as u64,
                max_fee,
                &proof,
            )
            .encoded_2718()
            .into();
            match self.target.call("eth_sendRawTransaction", json!([raw]))? {
                Ok(hash) => sent.push((seq, hash, proof)),
                Err(e) => {
                    tracing::warn!(seq, reason = %e, "submission not accepted by the pool");
                    break;
                }
            }
        }
        let deadline = Instant::now() + Duration::from_millis(self.o.confirm_timeout_ms);
        for (seq, hash, proof) in sent {
            let receipt = loop {
                let r = self
                    .target
                    .must("eth_getTransactionReceipt", json!([hash]))?;
                if !r.is_null() {
                    break r;
                }
                if Instant::now() >= deadline {
                    bail!("no receipt for record {seq}'s submission within the confirm timeout");
                }
                std::thread::sleep(Duration::from_millis(self.o.poll_ms.min(50)));
            };
            if receipt.get("status").and_then(Value::as_str) == Some("0x1") {
                tracing::info!(chain = self.chain, seq, "record credited");
            } else {
                let why = self.refusal(&proof);
                tracing::info!(chain = self.chain, seq, reason = %why, "submission refused");
            }
        }
        Ok(self.progress()?.1)
    }
}

/// Relays until killed (or until `stop_after_seq` is credited). Connection failures are
/// retried with a capped backoff: the nodes may restart under it.
pub fn run(o: RelayOptions) -> anyhow::Result<()> {
    let mut backoff_ms = o.poll_ms.max(1);
    let mut relay: Option<Relay> = None;
    loop {
        let r = match relay.as_mut() {
            Some(r) => r,
            None => match Relay::connect(&o).context("connecting the relayer") {
                Ok(r) => {
                    tracing::info!(
                        chain = r.chain,
                        merchant_chain = r.target_chain,
                        from = %r.from,
                        "relaying settlement records"
                    );
                    relay.insert(r)
                }
                Err(e) => {
                    tracing::warn!("{e:#}; retrying in {backoff_ms} ms");
                    std::thread::sleep(Duration::from_millis(backoff_ms));
                    backoff_ms = (backoff_ms * 2).min(5_000);
                    continue;
                }
            },
        };
        match r.round() {
            Ok(credited) => {
                backoff_ms = o.poll_ms.max(1);
                if o.stop_after_seq > 0 && credited >= o.stop_after_seq {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(o.poll_ms));
            }
            Err(e) => {
                tracing::warn!("{e:#}; reconnecting in {backoff_ms} ms");
                relay = None;
                std::thread::sleep(Duration::from_millis(backoff_ms));
                backoff_ms = (backoff_ms * 2).min(5_000);
            }
        }
    }
}

/// The dev chain's settler: the test mnemonic's account 19 (every node uses it).
pub const DEV_SETTLER_ACCOUNT: usize = 19;

/// `bcos up`'s relayer of user group `g`: the test mnemonic's account 19 - g, so each
/// relayer has its own nonces (at most 9 user chains get one).
pub fn dev_relayer_account(group: u32) -> Option<usize> {
    (1..DEV_SETTLER_ACCOUNT as u32)
        .contains(&group)
        .then(|| DEV_SETTLER_ACCOUNT - group as usize)
}

/// Hex secret key of the test mnemonic's account `index` (public knowledge: dev only).
pub fn dev_key_hex(index: usize) -> anyhow::Result<String> {
    let chain = crate::config::ChainConfig::default();
    let keys = bcos_crypto::keys::dev_keys(&chain.dev_mnemonic, index + 1)?;
    let key = keys
        .get(index)
        .ok_or_else(|| anyhow!("no dev key {index}"))?;
    Ok(key
        .secret_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
