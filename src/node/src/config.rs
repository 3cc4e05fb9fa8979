//! Node configuration (TOML). Every limit is a named setting with a documented default;
//! `bcos dev` flags override the file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    pub chain: ChainConfig,
    pub pool: PoolConfig,
    pub sealer: SealerConfig,
    pub rpc: bcos_rpc::RpcConfig,
    pub storage: bcos_storage::StorageConfig,
    pub crypto: CryptoConfig,
    pub runtime: RuntimeConfig,
    /// Present for a node of a multi-node group (written by `bcos init`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::config::ClusterConfig>,
    /// `[[groups]]`: chains besides group 0 (which is `[chain]` + `[cluster]`); see
    /// `crate::groups::config`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<crate::groups::config::GroupConfig>,
    /// `[settlement]`: high-frequency accounts (spec/settlement.md); absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<crate::settlement::SettlementConfig>,
    /// `[amop]`: AMOP messaging's bounds and private topics (every group of the node).
    pub amop: crate::amop::AmopConfig,
    /// `[observability]`: flow logs.
    pub observability: ObservabilityConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// EIP-155 chain id of the group; also prevents replay across groups.
    pub chain_id: u64,
    /// Where the chain's data lives.
    pub data_dir: PathBuf,
    /// Dev genesis: how many mnemonic accounts to fund. Their keys are public; a production
    /// chain (`bcos init` without `--dev`) sets 0 and funds `alloc` instead.
    pub dev_accounts: usize,
    /// Dev genesis: the balance of each, in ether.
    pub dev_balance_ether: u64,
    /// Dev genesis mnemonic (BIP-39, path m/44'/60'/0'/0/i).
    pub dev_mnemonic: String,
    /// Fixed base fee per gas in wei. A consortium chain has no fee market to clear, so the
    /// base fee does not float; it only keeps Ethereum tooling's fee arithmetic meaningful.
    pub base_fee_wei: u64,
    /// Priority fee suggested by eth_maxPriorityFeePerGas, in wei.
    pub priority_fee_wei: u128,
    /// EVM hard fork: "cancun", "prague" or "osaka".
    pub evm_spec: String,
    /// Accounts funded at genesis besides the dev accounts (`bcos init --alloc FILE`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alloc: Vec<GenesisAccount>,
    /// The governance committee at genesis (spec/governance.md GOV-R1). Empty: on a dev chain
    /// the first dev account alone (weight 1); on a production chain no committee, and
    /// governance changes nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub committee: Vec<CommitteeMember>,
    /// Weight a proposal needs to pass; 0: more than half of the committee's total weight.
    pub committee_threshold: u64,
    /// Blocks a proposal stays open for votes (GOV-R3).
    pub proposal_lifetime_blocks: u64,
    /// The regulator at genesis (REG-R7): it blacklists without a vote. Governance may set
    /// or change it later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regulator: Option<bcos_types::Address>,
}

/// One committee member at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeMember {
    pub address: bcos_types::Address,
    pub weight: u64,
}

impl CommitteeMember {
    /// `ADDRESS:WEIGHT` (`bcos init --committee`); a bare address has weight 1.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (address, weight) = text.split_once(':').unwrap_or((text, "1"));
        Ok(CommitteeMember {
            address: address
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("committee member {text:?}: not an address: {e}"))?,
            weight: weight
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("committee member {text:?}: not a weight: {e}"))?,
        })
    }
}

/// One account funded at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: bcos_types::Address,
    /// Balance in wei: a decimal string, or hex with `0x`.
    pub balance_wei: String,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            chain_id: 20200,
            data_dir: PathBuf::from("data/dev"),
            dev_accounts: 20,
            dev_balance_ether: 10_000,
            dev_mnemonic: bcos_crypto::keys::TEST_MNEMONIC.to_string(),
            base_fee_wei: 1_000_000_000,
            priority_fee_wei: 1_000_000_000,
            evm_spec: "osaka".to_string(),
            alloc: Vec::new(),
            committee: Vec::new(),
            committee_threshold: 0,
            proposal_lifetime_blocks: bcos_types::governance::GOV_LIFETIME_BLOCKS_DEFAULT,
            regulator: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Transactions the pool holds at most; past it, "pool full".
    pub txs_max: usize,
    /// Encoded bytes the pool holds at most; past it, "pool full".
    pub bytes_max: usize,
    /// Pending transactions per sender at most.
    pub per_sender_max: usize,
    /// Largest accepted encoded transaction.
    pub tx_bytes_max: usize,
    /// How far above the account's next nonce a transaction may be.
    pub nonce_gap_max: u64,
    /// A replacement (same sender and nonce) must raise the fee cap by this many percent.
    pub price_bump_percent: u64,
    /// Accept legacy transactions without an EIP-155 chain id.
    pub allow_unprotected_txs: bool,
    /// Raw transactions waiting for sender recovery at most; past it, "pool busy".
    pub ingress_queue_max: usize,
    /// Transactions recovered together in one parallel batch at most.
    pub ingress_batch_max: usize,
    /// Encoded bytes of the transactions waiting for sender recovery at most; past it,
    /// "pool busy". Peers' forwarded transactions queue without waiting, so the count
    /// alone (up to 128 KiB each) would not bound memory.
    pub ingress_queue_bytes_max: usize,
    /// Transactions one sender may have waiting behind a missing nonce (gapped, so not
    /// proposable); past it, "too many future-nonce transactions for sender".
    pub gapped_per_sender_max: usize,
    /// Gapped transactions of all senders together; past it, "pool full for future-nonce
    /// transactions". Keeps most of the pool for transactions a leader can propose.
    pub gapped_txs_max: usize,
    /// A transaction still gapped this long after admission is dropped.
    pub gapped_lifetime_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            txs_max: 200_000,
            bytes_max: 128 * 1024 * 1024,
            per_sender_max: 5_000,
            tx_bytes_max: 128 * 1024,
            nonce_gap_max: 5_000,
            price_bump_percent: 10,
            allow_unprotected_txs: false,
            ingress_queue_max: 100_000,
            ingress_batch_max: 4_096,
            ingress_queue_bytes_max: 64 * 1024 * 1024,
            gapped_per_sender_max: 512,
            gapped_txs_max: 20_000,
            gapped_lifetime_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SealerConfig {
    /// Transactions per block at most.
    pub block_txs_max: usize,
    /// Block gas limit.
    pub block_gas_limit: u64,
    /// A proposed block whose timestamp is further ahead of this node's clock than this is
    /// refused (a far-future timestamp would bind every later block).
    pub timestamp_future_s_max: u64,
    /// Threads that execute one block, optimistically in parallel with validation
    /// (spec/execution.md EXEC-R17..R20: the result is the serial one); 0 or 1 executes
    /// serially. Default 0: on a node whose cores are busy recovering senders, a parallel
    /// block only competes with them (issue 15's measurements in the closing note).
    pub execute_threads: usize,
    /// Plain value transfers are applied without revm's interpreter (spec/execution.md
    /// EXEC-R21: the same receipts and state as revm's). Default true; false sends every
    /// transaction through revm, e.g. to rule this path out when chasing a divergence.
    pub direct_transfers: bool,
    /// A single node (no `[cluster]`) makes each decided block durable on a thread of its
    /// own while it executes the next block on that block's state (spec/execution.md
    /// SEAL-R6). Default true; false stores each block before building the next.
    pub pipelined_commit: bool,
}

impl Default for SealerConfig {
    fn default() -> Self {
        SealerConfig {
            block_txs_max: 10_000,
            block_gas_limit: 300_000_000,
            timestamp_future_s_max: 15,
            execute_threads: 0,
            direct_transfers: true,
            pipelined_commit: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CryptoConfig {
    /// Threads that recover senders (0: one per core).
    pub recover_threads: usize,
    /// Senders remembered by transaction hash.
    pub sender_cache_entries: usize,
}

impl Default for CryptoConfig {
    fn default() -> Self {
        CryptoConfig {
            recover_threads: 0,
            sender_cache_entries: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Async worker threads (RPC, P2P); 0: one per core. Several nodes sharing one host
    /// should split the cores (`bcos init` on one host does).
    pub worker_threads: usize,
}

/// `[observability]`: what the node reports about itself beyond its log and `/metrics`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilityConfig {
    /// Flow logs (one event per transaction and block stage, `bcos flow`) for every group
    /// from start; each group's can be switched later through the admin listener
    /// (`bcos_setFlowLog`). Off by default: a line per transaction per stage costs.
    pub flow_log: bool,
}

impl NodeConfig {
    /// The configuration as TOML, every setting spelled out.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        let cfg: NodeConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?;
        cfg.amop
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Takes relative `data_dir` and `cluster.keys_dir` from `base` (the config file's
    /// directory), so a node directory can be moved or started from anywhere.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        if self.chain.data_dir.is_relative() {
            self.chain.data_dir = base.join(&self.chain.data_dir);
        }
        if let Some(c) = self.cluster.as_mut() {
            if c.keys_dir.is_relative() {
                c.keys_dir = base.join(&c.keys_dir);
            }
            if let Some(deny) = c.deny_list_file.as_mut() {
                if deny.is_relative() {
                    *deny = base.join(&*deny);
                }
            }
        }
    }
}
