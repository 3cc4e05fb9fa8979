//! The genesis block (spec/execution.md §4): the standard test mnemonic's first
//! `chain.dev_accounts` accounts (a dev chain) and the `chain.alloc` accounts (a production
//! chain, from `bcos init --alloc FILE`), funded.
//!
//! The genesis block is deterministic (timestamp 0), so restarting with other settings on the
//! same data dir is detected by comparing genesis hashes.

use crate::config::{ChainConfig, GenesisAccount, SealerConfig};
use anyhow::{bail, Context};
use bcos_storage::{BlockCommit, ChainStore};
use bcos_types::state::next_state_root;
use bcos_types::{Address, Block, Bytes, Header, SealedBlock, StateDiff, B256, U256};
use secp256k1::SecretKey;

#[derive(Clone)]
pub struct Genesis {
    pub keys: Vec<SecretKey>,
    pub addresses: Vec<Address>,
    pub balance_wei: U256,
    pub block: SealedBlock,
    pub diff: StateDiff,
}

const WEI_PER_ETHER: u64 = 1_000_000_000_000_000_000;

/// The genesis of the chain `chain` describes: dev accounts first, then `chain.alloc`.
pub fn build_genesis(chain: &ChainConfig, sealer: &SealerConfig) -> anyhow::Result<Genesis> {
    let keys = bcos_crypto::keys::dev_keys(&chain.dev_mnemonic, chain.dev_accounts)
        .context("deriving dev accounts from the mnemonic")?;
    let addresses: Vec<Address> = keys.iter().map(bcos_crypto::keys::address_of).collect();
    let balance_wei = U256::from(chain.dev_balance_ether)
        .checked_mul(U256::from(WEI_PER_ETHER))
        .context("chain.dev_balance_ether overflows 256 bits of wei")?;
    let mut alloc: Vec<(Address, U256)> = addresses.iter().map(|a| (*a, balance_wei)).collect();
    for account in &chain.alloc {
        let balance = parse_wei(&account.balance_wei)
            .with_context(|| format!("chain.alloc balance of {}", account.address))?;
        alloc.push((account.address, balance));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = alloc.iter().find(|(a, _)| !seen.insert(*a)) {
        bail!("genesis funds {dup} twice (chain.alloc repeats it or it is a dev account)");
    }
    let mut diff = bcos_execution::genesis_diff(&alloc);
    governance_genesis(chain, &addresses, &mut diff)?;
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

/// GOV-R1: the committee (and the regulator) in `0x…1008`'s storage at genesis.
fn governance_genesis(
    chain: &ChainConfig,
    dev: &[Address],
    diff: &mut StateDiff,
) -> anyhow::Result<()> {
    let members: Vec<(Address, u64)> = if chain.committee.is_empty() {
        dev.first().map(|a| (*a, 1)).into_iter().collect()
    } else {
        chain
            .committee
            .iter()
            .map(|m| (m.address, m.weight))
            .collect()
    };
    if members.is_empty() && chain.regulator.is_none() {
        return Ok(());
    }
    let threshold = if members.is_empty() {
        0
    } else {
        bcos_execution::governance::genesis_threshold(&members, chain.committee_threshold)
            .map_err(|e| anyhow::anyhow!("chain.committee: {e}"))?
    };
    if chain.proposal_lifetime_blocks == 0 {
        bail!("chain.proposal_lifetime_blocks is at least 1");
    }
    let slots = bcos_execution::governance::genesis_slots(
        &members,
        threshold,
        chain.proposal_lifetime_blocks,
        chain.regulator,
    );
    bcos_execution::governance_genesis(diff, &slots);
    Ok(())
}

/// A wei amount: decimal digits, or hex with a `0x` prefix; at most 256 bits.
pub fn parse_wei(text: &str) -> anyhow::Result<U256> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => U256::from_str_radix(hex, 16),
        None => U256::from_str_radix(text, 10),
    };
    parsed
        .map_err(|e| anyhow::anyhow!("{text:?} is not a wei amount (decimal, or hex with 0x): {e}"))
}

/// Reads a `--alloc` file: address -> balance in wei, as JSON (`{"0xab..": "1000"}`, also
/// geth's `{"0xab..": {"balance": "0x3e8"}}`) or TOML (`"0xab.." = "1000"`). Balances may be
/// strings (decimal or 0x hex) or non-negative integers. The file name's extension picks
/// the format (`.json`, else TOML).
pub fn read_alloc_file(path: &std::path::Path) -> anyhow::Result<Vec<GenesisAccount>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the alloc file {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let entries: Vec<(String, serde_json::Value)> = if is_json {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{}: not a JSON object of address -> balance",
                    path.display()
                )
            })?;
        map.into_iter().collect()
    } else {
        let table: toml::Table = toml::from_str(&text).with_context(|| {
            format!("{}: not a TOML table of address -> balance", path.display())
        })?;
        table
            .into_iter()
            .map(|(k, v)| Ok((k, serde_json::to_value(v)?)))
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let address: Address = key
            .parse()
            .map_err(|e| anyhow::anyhow!("{}: {key:?} is not an address: {e}", path.display()))?;
        let value = match value {
            serde_json::Value::Object(mut fields) => fields
                .remove("balance")
                .with_context(|| format!("{}: {key} has no balance", path.display()))?,
            other => other,
        };
        let balance = match value {
            serde_json::Value::String(s) => parse_wei(&s),
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(n) => Ok(U256::from(n)),
                None => Err(anyhow::anyhow!(
                    "{n} is not a non-negative integer; quote large amounts"
                )),
            },
            other => Err(anyhow::anyhow!("{other} is not a balance")),
        }
        .with_context(|| format!("{}: balance of {key}", path.display()))?;
        out.push(GenesisAccount {
            address,
            balance_wei: balance.to_string(),
        });
    }
    out.sort_by_key(|a| a.address);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const A: &str = "0x00000000000000000000000000000000000000aa";
    const B: &str = "0x00000000000000000000000000000000000000bb";

    #[test]
    fn alloc_files_in_json_geth_json_and_toml_agree() {
        let dir = tempfile::tempdir().unwrap();
        let json = write(
            dir.path(),
            "a.json",
            &format!(r#"{{"{A}": "1000", "{B}": 7}}"#),
        );
        let geth = write(
            dir.path(),
            "g.json",
            &format!(r#"{{"{B}": {{"balance": "0x7"}}, "{A}": {{"balance": "0x3e8"}}}}"#),
        );
        let toml = write(
            dir.path(),
            "a.toml",
            &format!("\"{A}\" = \"1000\"\n\"{B}\" = 7\n"),
        );
        let want = vec![
            GenesisAccount {
                address: A.parse().unwrap(),
                balance_wei: "1000".into(),
            },
            GenesisAccount {
                address: B.parse().unwrap(),
                balance_wei: "7".into(),
            },
        ];
        for path in [json, geth, toml] {
            assert_eq!(read_alloc_file(&path).unwrap(), want, "{}", path.display());
        }
    }

    #[test]
    fn bad_alloc_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, says) in [
            ("x.json", "[1, 2]", "JSON object"),
            ("x.json", r#"{"0x12": "1"}"#, "not an address"),
            ("x.json", &format!(r#"{{"{A}": "-1"}}"#), "wei amount"),
            ("x.json", &format!(r#"{{"{A}": -1}}"#), "non-negative"),
            (
                "x.json",
                &format!(r#"{{"{A}": {{"code": "0x"}}}}"#),
                "no balance",
            ),
            (
                "x.toml",
                &format!("\"{A}\" = \"0x1{}\"\n", "0".repeat(64)),
                "wei amount",
            ),
        ] {
            let path = write(dir.path(), name, text);
            let err = format!("{:#}", read_alloc_file(&path).unwrap_err());
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn production_genesis_funds_only_the_alloc_and_refuses_duplicates() {
        let mut chain = ChainConfig {
            dev_accounts: 0,
            alloc: vec![GenesisAccount {
                address: A.parse().unwrap(),
                balance_wei: "0x10".into(),
            }],
            ..ChainConfig::default()
        };
        let sealer = SealerConfig::default();
        let g = build_genesis(&chain, &sealer).unwrap();
        assert!(g.addresses.is_empty() && g.keys.is_empty());
        let dev = build_genesis(&ChainConfig::default(), &sealer).unwrap();
        assert_ne!(g.block.hash, dev.block.hash);
        assert_eq!(dev.addresses.len(), ChainConfig::default().dev_accounts);

        chain.alloc.push(chain.alloc[0].clone());
        let err = match build_genesis(&chain, &sealer) {
            Ok(_) => panic!("a duplicate account was accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("twice"), "{err}");
        chain.alloc.pop();
        chain.alloc[0].balance_wei = "lots".into();
        assert!(build_genesis(&chain, &sealer).is_err());
    }
}
