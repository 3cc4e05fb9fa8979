//! `erc20`: a minimal ERC20 token (hand-assembled with evm_asm: `transfer(address,uint256)`
//! with a balance check and a `Transfer` event, and `balanceOf(address)`; balances live in
//! the Solidity mapping layout, slot `keccak256(holder ‖ 0)`). Deployed once per run by the
//! first dev account, which receives the whole supply and hands a share to every holder;
//! the holders then send each other 1 token unit.
//!
//! Equivalent Solidity (for reading, not compiled):
//! ```solidity
//! contract Token {
//!     mapping(address => uint256) balanceOf;               // slot 0
//!     event Transfer(address indexed from, address indexed to, uint256 value);
//!     constructor() { balanceOf[msg.sender] = 1e30; }
//!     function transfer(address to, uint256 v) external returns (bool) {
//!         require(balanceOf[msg.sender] >= v);
//!         balanceOf[msg.sender] -= v; balanceOf[to] += v;
//!         emit Transfer(msg.sender, to, v); return true;
//!     }
//! }
//! ```

use super::evm_asm::{assemble, op::*, push, Item, Item::*};
use super::{fund, sign_parallel, zipf::mix, Ctx, RoundRobin, SignedTx, Workload};
use crate::accounts::{self, hex};
use crate::rpc_client::{hex_u64, RpcClient};
use alloy_primitives::{Address, TxKind, U256};
use anyhow::{anyhow, bail, Context};
use serde_json::json;

const SEED: &str = "bcos-loadgen/erc20";
/// Token units minted to the deployer.
pub const SUPPLY: u128 = 1_000_000_000_000_000_000_000_000_000_000;
/// Token units each holder receives before the measurement.
pub const HOLDER_SHARE: u128 = 1_000_000_000_000_000_000;
/// Gas limit of a token transfer (about 30-52k used, depending on fresh storage slots).
pub const TRANSFER_GAS: u64 = 100_000;
const DEPLOY_GAS: u64 = 1_000_000;
const SEL_TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
const SEL_BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
/// keccak256("Transfer(address,address,uint256)").
const TRANSFER_TOPIC: [u8; 32] = [
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
];

fn mask20() -> Item {
    Push(vec![0xff; 20])
}

/// Leaves `keccak256(mem[0..64])` on the stack, i.e. the mapping slot of the address at
/// mem[0] (mem[32..64] holds slot number 0).
fn slot_of_mem0() -> [Item; 3] {
    [push(0x40), push(0), Op(SHA3)]
}

pub fn runtime() -> Result<Vec<u8>, String> {
    let mut v = vec![
        push(0),
        Op(CALLDATALOAD),
        push(0xe0),
        Op(SHR),
        Op(DUP1),
        Push(SEL_TRANSFER.to_vec()),
        Op(EQ),
        PushLabel("transfer"),
        Op(JUMPI),
        Op(DUP1),
        Push(SEL_BALANCE_OF.to_vec()),
        Op(EQ),
        PushLabel("balanceOf"),
        Op(JUMPI),
        push(0),
        Op(DUP1),
        Op(REVERT),
        Label("balanceOf"),
        Op(POP),
        push(4),
        Op(CALLDATALOAD),
        mask20(),
        Op(AND),
        push(0),
        Op(MSTORE),
        push(0),
        push(0x20),
        Op(MSTORE),
    ];
    v.extend(slot_of_mem0());
    v.extend([
        Op(SLOAD),
        push(0),
        Op(MSTORE),
        push(0x20),
        push(0),
        Op(RETURN),
    ]);
    // transfer: [] -> from slot fs, balance fb, amount
    v.extend([
        Label("transfer"),
        Op(POP),
        Op(CALLER),
        push(0),
        Op(MSTORE),
        push(0),
        push(0x20),
        Op(MSTORE),
    ]);
    v.extend(slot_of_mem0());
    v.extend([
        Op(DUP1),
        Op(SLOAD), // [fs, fb]
        push(0x24),
        Op(CALLDATALOAD), // [fs, fb, amt]
        Op(DUP1),
        Op(DUP3),
        Op(LT),
        PushLabel("fail"),
        Op(JUMPI), // fb < amt -> fail
        Op(DUP1),
        Op(DUP3),
        Op(SUB),
        Op(DUP4),
        Op(SSTORE), // balance[from] = fb - amt
        push(4),
        Op(CALLDATALOAD),
        mask20(),
        Op(AND),
        push(0),
        Op(MSTORE),
    ]);
    v.extend(slot_of_mem0()); // [fs, fb, amt, ts]
    v.extend([
        Op(DUP1),
        Op(SLOAD),
        Op(DUP3),
        Op(ADD),
        Op(SWAP1),
        Op(SSTORE), // balance[to] += amt
        push(0),
        Op(MSTORE), // mem[0] = amt
        push(4),
        Op(CALLDATALOAD),
        mask20(),
        Op(AND),
        Op(CALLER),
        Push(TRANSFER_TOPIC.to_vec()),
        push(0x20),
        push(0),
        Op(LOG3),
        push(1),
        push(0),
        Op(MSTORE),
        push(0x20),
        push(0),
        Op(RETURN),
        Label("fail"),
        push(0),
        Op(DUP1),
        Op(REVERT),
        Op(STOP),
    ]);
    assemble(&v)
}

/// Constructor (mints [`SUPPLY`] to the deployer) followed by the runtime code.
pub fn init_code() -> Result<Vec<u8>, String> {
    let runtime = runtime()?;
    let len = u16::try_from(runtime.len()).map_err(|_| "runtime too long".to_string())?;
    let supply = U256::from(SUPPLY).to_be_bytes::<32>();
    let skip = supply.iter().take_while(|b| **b == 0).count();
    let ctor = |offset: u16| -> Result<Vec<u8>, String> {
        let mut v = vec![
            Op(CALLER),
            push(0),
            Op(MSTORE),
            push(0),
            push(0x20),
            Op(MSTORE),
        ];
        v.extend(slot_of_mem0());
        v.extend([
            Push(supply[skip..].to_vec()),
            Op(SWAP1),
            Op(SSTORE),
            Push(len.to_be_bytes().to_vec()),
            Push(offset.to_be_bytes().to_vec()),
            push(0),
            Op(CODECOPY),
            Push(len.to_be_bytes().to_vec()),
            push(0),
            Op(RETURN),
        ]);
        assemble(&v)
    };
    let ctor_len = u16::try_from(ctor(0)?.len()).map_err(|_| "constructor too long".to_string())?;
    let mut code = ctor(ctor_len)?;
    code.extend(runtime);
    Ok(code)
}

/// Calldata of `transfer(to, amount)`.
pub fn transfer_calldata(to: Address, amount: U256) -> Vec<u8> {
    let mut d = Vec::with_capacity(68);
    d.extend_from_slice(&SEL_TRANSFER);
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(to.as_slice());
    d.extend_from_slice(&amount.to_be_bytes::<32>());
    d
}

pub struct Erc20 {
    holders: RoundRobin,
    token: Option<Address>,
}

impl Erc20 {
    pub fn new(accounts: usize) -> Erc20 {
        Erc20 {
            holders: RoundRobin::new(accounts::derive(SEED, accounts.max(2))),
            token: None,
        }
    }

    fn deploy(&self, ctx: &Ctx) -> anyhow::Result<Address> {
        let deployer = ctx
            .funders
            .first()
            .ok_or_else(|| anyhow!("no funder to deploy the token"))?;
        let from = bcos_crypto::address_of(deployer);
        let mut c = RpcClient::connect(&ctx.url)?;
        let nonce = hex_u64(&c.must("eth_getTransactionCount", json!([from, "pending"]))?)?;
        let code = init_code().map_err(|e| anyhow!("assembling the token: {e}"))?;
        let (hash, raw) = accounts::sign_call(
            &ctx.fees,
            deployer,
            nonce,
            TxKind::Create,
            U256::ZERO,
            DEPLOY_GAS,
            code,
        );
        c.must(
            "eth_sendRawTransaction",
            json!([format!("0x{}", hex(&raw))]),
        )?;
        accounts::wait_nonce(&mut c, &from, nonce + 1)
            .context("waiting for the token deployment")?;
        let receipt = c.must("eth_getTransactionReceipt", json!([hash]))?;
        if receipt.get("status").and_then(|s| s.as_str()) != Some("0x1") {
            bail!("token deployment failed: {receipt}");
        }
        Ok(from.create(nonce))
    }

    fn balance_of(&self, ctx: &Ctx, token: Address, holder: Address) -> anyhow::Result<U256> {
        let mut data = SEL_BALANCE_OF.to_vec();
        data.extend_from_slice(&[0u8; 12]);
        data.extend_from_slice(holder.as_slice());
        let mut c = RpcClient::connect(&ctx.url)?;
        let out = c.must(
            "eth_call",
            json!([{"to": token, "data": format!("0x{}", hex(&data))}, "latest"]),
        )?;
        let s = out
            .as_str()
            .ok_or_else(|| anyhow!("eth_call returned {out}"))?;
        U256::from_str_radix(s.trim_start_matches("0x"), 16)
            .map_err(|e| anyhow!("balanceOf returned {s}: {e}"))
    }
}

impl Workload for Erc20 {
    fn name(&self) -> &'static str {
        "erc20"
    }

    fn prepare(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let token = self.deploy(ctx)?;
        fund(ctx, &self.holders.senders)?;
        let to: Vec<Address> = self.holders.senders.iter().map(|a| a.address).collect();
        let fees = ctx.fees;
        let deployer = &ctx.funders[..1];
        accounts::distribute(&ctx.url, deployer, &to, |key, nonce, holder| {
            let data = transfer_calldata(holder, U256::from(HOLDER_SHARE));
            accounts::sign_call(
                &fees,
                key,
                nonce,
                TxKind::Call(token),
                U256::ZERO,
                TRANSFER_GAS,
                data,
            )
            .1
        })?;
        // The token really works: the last holder got its share.
        let last = to[to.len() - 1];
        let got = self.balance_of(ctx, token, last)?;
        if got < U256::from(HOLDER_SHARE) {
            bail!("token distribution failed: holder {last} has {got}, expected {HOLDER_SHARE}");
        }
        self.token = Some(token);
        let n = self.holders.senders.len();
        self.holders.resync(&ctx.url, n)
    }

    fn sign(&mut self, ctx: &Ctx, count: usize) -> anyhow::Result<Vec<SignedTx>> {
        let token = self
            .token
            .ok_or_else(|| anyhow!("erc20: sign before prepare"))?;
        let gs = self.holders.take(count);
        let (rr, fees) = (&self.holders, ctx.fees);
        let n = rr.senders.len() as u64;
        Ok(sign_parallel(gs, |g| {
            let (s, nonce) = rr.slot(g);
            let to = rr.senders[((s as u64 + 1 + mix(g) % (n - 1)) % n) as usize].address;
            let data = transfer_calldata(to, U256::from(1));
            accounts::sign_call(
                &fees,
                &rr.senders[s].key,
                nonce,
                TxKind::Call(token),
                U256::ZERO,
                TRANSFER_GAS,
                data,
            )
        }))
    }

    fn resync(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let n = self.holders.senders.len();
        self.holders.resync(&ctx.url, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_code_copies_the_runtime_that_follows_it() {
        let runtime = runtime().unwrap_or_default();
        let init = init_code().unwrap_or_default();
        assert!(!runtime.is_empty() && init.ends_with(&runtime));
        let ctor_len = init.len() - runtime.len();
        // The constructor's CODECOPY offset (a PUSH2) equals its own length.
        let needle = [
            0x61,
            (ctor_len >> 8) as u8,
            ctor_len as u8,
            0x60,
            0x00,
            CODECOPY,
        ];
        assert!(
            init.windows(needle.len()).any(|w| w == needle),
            "{}",
            hex(&init)
        );
    }
}
