//! A JSON-RPC client of the CNS (what `bcos cns` runs): deploy a compiled contract and
//! register it in one step, register an address, list names, resolve a version, set and
//! query the canary route. An ordinary client: it signs transactions and reads with eth_call.

use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_sol_types::SolCall;
use anyhow::{anyhow, bail, Context};
use bcos_crypto::SecretKey;
use bcos_rpc::client::{hex_u64, RpcClient};
use bcos_types::cns::{ICns, CNS_ADDRESS, CNS_LIST_MAX};
use bcos_types::{keccak256, Address, Bytes, TxKind, B256, U256};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long a command waits for its transaction's receipt.
pub const CNS_RECEIPT_TIMEOUT_MS_DEFAULT: u64 = 60_000;
/// Between receipt polls.
const RECEIPT_POLL_MS: u64 = 100;

/// A compiled contract: its creation bytecode and its ABI (JSON text). Reads solc's
/// standard-JSON contract output, Foundry's and Hardhat's artifacts (`bytecode` as a hex
/// string or as `{ "object": hex }`), and this repository's `{ "abi", "bytecode" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub bytecode: Bytes,
    pub abi: String,
}

impl Artifact {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let v: Value = serde_json::from_str(text).context("an artifact is JSON")?;
        let code = v
            .get("bytecode")
            .or_else(|| v.pointer("/evm/bytecode"))
            .ok_or_else(|| anyhow!("the artifact has no \"bytecode\""))?;
        let hex = match code {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o
                .get("object")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("\"bytecode\" has no \"object\" string"))?,
            _ => bail!("\"bytecode\" is neither a hex string nor an object"),
        };
        let bytecode: Bytes = if hex.starts_with("0x") {
            hex.parse()
        } else {
            format!("0x{hex}").parse()
        }
        .context("\"bytecode\" is not hex")?;
        if bytecode.is_empty() {
            bail!("the artifact's bytecode is empty (an interface or an abstract contract?)");
        }
        let abi = v
            .get("abi")
            .ok_or_else(|| anyhow!("the artifact has no \"abi\""))?;
        Ok(Artifact {
            bytecode,
            abi: serde_json::to_string(abi)?,
        })
    }
}

/// The canary key a text names: a 0x-prefixed 32-byte hex value as it is, any other text
/// hashed with keccak256 (a user id, an account address as text).
pub fn route_key(text: &str) -> B256 {
    text.parse::<B256>()
        .ok()
        .filter(|_| text.starts_with("0x"))
        .unwrap_or_else(|| keccak256(text.as_bytes()))
}

/// A connection to one node's (or one group's) JSON-RPC, with the key that signs.
pub struct CnsClient {
    rpc: RpcClient,
    key: Option<SecretKey>,
    pub receipt_timeout: Duration,
}

impl CnsClient {
    pub fn connect(url: &str, key: Option<SecretKey>) -> anyhow::Result<Self> {
        Ok(CnsClient {
            rpc: RpcClient::connect(url)?,
            key,
            receipt_timeout: Duration::from_millis(CNS_RECEIPT_TIMEOUT_MS_DEFAULT),
        })
    }

    fn from(&self) -> anyhow::Result<(Address, SecretKey)> {
        let key = self
            .key
            .ok_or_else(|| anyhow!("this command sends a transaction: give --key-file"))?;
        Ok((bcos_crypto::keys::address_of(&key), key))
    }

    /// Signs and sends a transaction to `to` (None: a creation) and waits for its receipt;
    /// an error when it is not accepted or does not succeed, with the reason eth_call gives.
    pub fn transact(&mut self, to: Option<Address>, input: Bytes) -> anyhow::Result<Value> {
        let (from, key) = self.from()?;
        let chain_id = hex_u64(&self.rpc.must("eth_chainId", json!([]))?)?;
        let nonce = hex_u64(
            &self
                .rpc
                .must("eth_getTransactionCount", json!([from, "pending"]))?,
        )?;
        let max_fee =
            u128::from(hex_u64(&self.rpc.must("eth_gasPrice", json!([]))?)?).saturating_mul(2);
        let call = json!({ "from": from, "to": to, "data": input });
        let gas = match self.rpc.call("eth_estimateGas", json!([call]))? {
            Ok(v) => hex_u64(&v)?,
            Err(e) => bail!("{}", e.message),
        };
        let tx = TxEip1559 {
            chain_id,
            nonce,
            // Room for a state that moved between the estimate and the block.
            gas_limit: gas.saturating_add(gas / 5),
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: 0,
            to: to.map_or(TxKind::Create, TxKind::Call),
            value: U256::ZERO,
            access_list: Default::default(),
            input: input.clone(),
        };
        let raw: Bytes = bcos_crypto::sign::sign_tx(tx, &key).encoded_2718().into();
        let hash = match self.rpc.call("eth_sendRawTransaction", json!([raw]))? {
            Ok(h) => h,
            Err(e) => bail!("the node refused the transaction: {}", e.message),
        };
        let deadline = Instant::now() + self.receipt_timeout;
        let receipt = loop {
            let r = self.rpc.must("eth_getTransactionReceipt", json!([hash]))?;
            if !r.is_null() {
                break r;
            }
            if Instant::now() >= deadline {
                bail!("no receipt for {hash} within {:?}", self.receipt_timeout);
            }
            std::thread::sleep(Duration::from_millis(RECEIPT_POLL_MS));
        };
        if receipt.get("status").and_then(Value::as_str) != Some("0x1") {
            let why = match self.rpc.call("eth_call", json!([call, "latest"]))? {
                Err(e) => e.message,
                Ok(_) => "it reverted in its block".into(),
            };
            bail!("transaction {hash} failed: {why}");
        }
        Ok(receipt)
    }

    /// eth_call of a CNS view at the latest block: its value, or its revert reason.
    pub fn view<C: SolCall>(&mut self, call: C) -> anyhow::Result<C::Return> {
        let request = json!({ "to": CNS_ADDRESS, "data": Bytes::from(call.abi_encode()) });
        match self.rpc.call("eth_call", json!([request, "latest"]))? {
            Ok(v) => {
                let out: Bytes = serde_json::from_value(v)?;
                C::abi_decode_returns(&out).map_err(|e| anyhow!("the CNS answered {out}: {e}"))
            }
            Err(e) => bail!("{}", e.message),
        }
    }

    /// Deploys `artifact` and registers it as `version` of `name`: the contract's address.
    pub fn deploy(
        &mut self,
        name: &str,
        version: &str,
        artifact: &Artifact,
    ) -> anyhow::Result<Address> {
        bcos_types::cns::check_name(name).map_err(|e| anyhow!(e))?;
        bcos_types::cns::check_version(version).map_err(|e| anyhow!(e))?;
        let receipt = self
            .transact(None, artifact.bytecode.clone())
            .context("deploying the contract")?;
        let addr: Address = receipt
            .get("contractAddress")
            .cloned()
            .map(serde_json::from_value)
            .transpose()?
            .ok_or_else(|| anyhow!("the deployment receipt has no contractAddress"))?;
        self.register(name, version, addr, &artifact.abi)
            .with_context(|| format!("registering {name} {version} at {addr}"))?;
        Ok(addr)
    }

    pub fn register(
        &mut self,
        name: &str,
        version: &str,
        addr: Address,
        abi: &str,
    ) -> anyhow::Result<()> {
        let call = ICns::registerCall {
            name: name.into(),
            version: version.into(),
            addr,
            abi: abi.into(),
        };
        self.transact(Some(CNS_ADDRESS), call.abi_encode().into())?;
        Ok(())
    }

    pub fn set_route(
        &mut self,
        name: &str,
        stable: &str,
        canary: &str,
        permille: u16,
    ) -> anyhow::Result<()> {
        let call = ICns::setRouteCall {
            name: name.into(),
            stable: stable.into(),
            canary: canary.into(),
            canaryPermille: permille,
        };
        self.transact(Some(CNS_ADDRESS), call.abi_encode().into())?;
        Ok(())
    }

    /// `bcos_resolve`: (version, address) of `version` ("latest" or None: the latest).
    pub fn resolve(
        &mut self,
        name: &str,
        version: Option<&str>,
    ) -> anyhow::Result<(String, Address)> {
        let params = match version {
            Some(v) => json!([name, v]),
            None => json!([name]),
        };
        let v = match self.rpc.call("bcos_resolve", params)? {
            Ok(v) => v,
            Err(e) => bail!("{}", e.message),
        };
        let version = v
            .get("version")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("bcos_resolve answered without a version: {v}"))?
            .to_string();
        let address = serde_json::from_value(v.get("address").cloned().unwrap_or_default())?;
        Ok((version, address))
    }

    pub fn route(&mut self, name: &str, key: B256) -> anyhow::Result<Address> {
        self.view(ICns::routeCall {
            name: name.into(),
            key,
        })
    }

    /// Every name with its owner and versions, in registration order.
    pub fn list(&mut self) -> anyhow::Result<Vec<Value>> {
        let total = self.view(ICns::nameCountCall {})?;
        let mut out = Vec::new();
        let mut start = U256::ZERO;
        while start < total {
            let names = self.view(ICns::namesCall {
                start,
                count: U256::from(CNS_LIST_MAX),
            })?;
            if names.is_empty() {
                break;
            }
            start += U256::from(names.len());
            for name in names {
                let owner = self.view(ICns::ownerOfCall { name: name.clone() })?;
                let versions = self.view(ICns::versionsCall { name: name.clone() })?;
                out.push(json!({ "name": name, "owner": owner, "versions": versions }));
            }
        }
        Ok(out)
    }
}
