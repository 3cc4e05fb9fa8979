//! The dev genesis: the standard test mnemonic's first accounts, funded (spec/execution.md §4).
//!
//! The genesis block is deterministic (timestamp 0), so restarting with other settings on the
//! same data dir is detected by comparing genesis hashes.

use crate::config::{ChainConfig, SealerConfig};
use anyhow::{bail, Context};
use bcos_storage::{BlockCommit, ChainStore};
use bcos_types::state::next_state_root;
use bcos_types::{Address, Block, Bytes, Header, SealedBlock, StateDiff, B256, U256};
use secp256k1::SecretKey;

pub struct Genesis {
    pub keys: Vec<SecretKey>,
    pub addresses: Vec<Address>,
    pub balance_wei: U256,
    pub block: SealedBlock,
    pub diff: StateDiff,
}

const WEI_PER_ETHER: u64 = 1_000_000_000_000_000_000;

pub fn dev_genesis(chain: &ChainConfig, sealer: &SealerConfig) -> anyhow::Result<Genesis> {
    let keys = bcos_crypto::keys::dev_keys(&chain.dev_mnemonic, chain.dev_accounts)
        .context("deriving dev accounts from the mnemonic")?;
    let addresses: Vec<Address> = keys.iter().map(bcos_crypto::keys::address_of).collect();
    let balance_wei = U256::from(chain.dev_balance_ether) * U256::from(WEI_PER_ETHER);
    let alloc: Vec<(Address, U256)> = addresses.iter().map(|a| (*a, balance_wei)).collect();
    let diff = bcos_execution::genesis_diff(&alloc);
    let header = Header {
        number: 0,
        timestamp: 0,
        gas_limit: sealer.block_gas_limit,
        base_fee_per_gas: chain.base_fee_wei,
        state_root: next_state_root(&B256::ZERO, 0, &diff),
        extra_data: Bytes::from(format!("bcos genesis chain_id={}", chain.chain_id).into_bytes()),
        ..Default::default()
    };
    let block = Block {
        header,
        txs: Vec::new(),
    }
    .seal();
    Ok(Genesis {
        keys,
        addresses,
        balance_wei,
        block,
        diff,
    })
}

/// Commits the genesis block into an empty store, or checks that the store holds this chain.
pub fn ensure_genesis(store: &dyn ChainStore, genesis: &Genesis) -> anyhow::Result<()> {
    if store.head().is_none() {
        store.commit_block(BlockCommit {
            block: &genesis.block,
            receipts: &[],
            senders: &[],
            diff: &genesis.diff,
            certificate: &[],
        })?;
        return Ok(());
    }
    let stored = store
        .block_hash(0)?
        .context("store has a head but no genesis block")?;
    if stored != genesis.block.hash {
        bail!(
            "the data dir holds another chain (genesis {stored}, these settings give {}); \
             use the settings it was created with (chain id, accounts, mnemonic, base fee, \
             gas limit) or a fresh --data-dir",
            genesis.block.hash
        );
    }
    Ok(())
}
