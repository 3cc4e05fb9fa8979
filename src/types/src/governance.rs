//! Governance and RegTech's interface (spec/governance.md): the committee contract's address,
//! its Solidity ABI, the actions a proposal carries, the rules' codes and the limits. The
//! contract itself is `bcos-execution`'s `governance/`; the pool, the executor and the
//! `bcos gov` commands speak to it through this ABI, as any Ethereum client can.

use alloy_primitives::{address, Address};

/// FISCO BCOS 2.x's ChainGovernance address.
pub const GOVERNANCE_ADDRESS: Address = address!("0000000000000000000000000000000000001008");

/// Committee members at most (GOV-R1).
pub const GOV_MEMBERS_MAX: usize = 64;
/// The longest action a proposal carries, in bytes (GOV-R2).
pub const GOV_ACTION_BYTES_MAX: usize = 4 * 1024;
/// Actions waiting for the next block boundary at most (GOV-R5): a block applies them all.
pub const GOV_QUEUE_MAX: u64 = 256;
/// A proposal's lifetime when genesis sets none (GOV-R3).
pub const GOV_LIFETIME_BLOCKS_DEFAULT: u64 = 1_000;
/// Entries one list call returns at most.
pub const GOV_LIST_MAX: u64 = 256;
/// CAs governance may add to the P2P network's trust roots at most (GOV-R8).
pub const GOV_CAS_MAX: u64 = 16;
/// The largest CA certificate (DER) governance takes.
pub const GOV_CA_BYTES_MAX: usize = 2048;
/// Revoked node ids, and revoked certificate serials, at most each (GOV-R8).
pub const GOV_REVOKED_MAX: u64 = 1024;
/// The longest certificate serial number (RFC 5280: 20 octets).
pub const GOV_SERIAL_BYTES_MAX: usize = 20;
/// Validator-set entries kept per user chain (GOV-R10); a newer one pushes out the oldest.
pub const GOV_CHAIN_SETS_MAX: usize = 4;
/// Members named in one user chain's validator set at most (GOV-R10).
pub const GOV_CHAIN_SET_MEMBERS_MAX: usize = 100;

/// A rule's action (REG-R2): intercept refuses the transaction, flag commits it with an
/// [`IGovernance::Alert`] event.
pub const RULE_OFF: u8 = 0;
pub const RULE_INTERCEPT: u8 = 1;
pub const RULE_FLAG: u8 = 2;

/// The setting keys governance may change (GOV-R7).
pub const SETTING_BLOCK_TXS_MAX: &str = "block_txs_max";
pub const SETTING_BLOCK_GAS_LIMIT: &str = "block_gas_limit";
pub const SETTING_PROPOSAL_LIFETIME_BLOCKS: &str = "proposal_lifetime_blocks";
/// The consensus timeout base: PBFT's view timeout of view 0, Raft's least election timeout.
pub const SETTING_CONSENSUS_TIMEOUT_MS: &str = "consensus_timeout_ms";
pub const SETTINGS: [&str; 4] = [
    SETTING_BLOCK_TXS_MAX,
    SETTING_BLOCK_GAS_LIMIT,
    SETTING_PROPOSAL_LIFETIME_BLOCKS,
    SETTING_CONSENSUS_TIMEOUT_MS,
];
/// The bounds of `consensus_timeout_ms` (GOV-R6): below 100 ms a view or election times
/// out before one round trip of a loaded cluster; above 10 minutes a faulty leader stalls
/// the chain that long.
pub const CONSENSUS_TIMEOUT_MS_MIN: u64 = 100;
pub const CONSENSUS_TIMEOUT_MS_MAX: u64 = 600_000;

/// The rules an interception or an alert names (REG-R1): what `Interception::rule` and
/// the `Alert` event's `rule` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    FrozenAccount,
    Blacklisted,
    DeployPermission,
    SendPermission,
    FrozenContract,
    MethodAcl,
    Amount,
    VelocityCount,
    VelocityAmount,
    Counterparty,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::FrozenAccount => "frozen-account",
            Rule::Blacklisted => "blacklist",
            Rule::DeployPermission => "deploy-permission",
            Rule::SendPermission => "send-permission",
            Rule::FrozenContract => "frozen-contract",
            Rule::MethodAcl => "method-acl",
            Rule::Amount => "amount",
            Rule::VelocityCount => "velocity-count",
            Rule::VelocityAmount => "velocity-amount",
            Rule::Counterparty => "counterparty",
        }
    }
}

/// A transaction a rule refused (REG-R2): the rule and why, for the client's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("intercepted by rule {}: {reason}", rule.name())]
pub struct Interception {
    pub rule: Rule,
    pub reason: String,
}

alloy_sol_types::sol! {
    /// The governance committee at `0x…1008` (spec/governance.md).
    #[derive(Debug, PartialEq, Eq)]
    interface IGovernance {
        event ProposalCreated(uint256 indexed id, address indexed proposer, bytes action, uint64 expiresAtBlock);
        event Voted(uint256 indexed id, address indexed voter, bool approve, uint64 weightFor, uint64 weightAgainst);
        /// The proposal reached the threshold; its action applies at block `effectiveBlock`.
        event ProposalPassed(uint256 indexed id, uint64 effectiveBlock);
        event ProposalRejected(uint256 indexed id);
        event ProposalRevoked(uint256 indexed id);
        /// The regulator blacklisted `account` from block `effectiveBlock`.
        event Blacklisted(address indexed account, uint64 effectiveBlock);
        /// A flagging rule matched a committed transaction (REG-R3).
        event Alert(address indexed account, string rule, address counterparty, uint256 value);

        /// A member proposes `action`, the ABI encoding of one `IGovernanceActions` call;
        /// the proposer's weight counts as a vote for it.
        function propose(bytes action) external returns (uint256 id);
        function vote(uint256 id, bool approve) external;
        /// The proposer withdraws an open proposal.
        function revoke(uint256 id) external;
        /// The regulator blacklists `account` from the next block, without a vote.
        function blacklist(address account) external;

        function proposalCount() external view returns (uint256);
        /// status: 0 open, 1 passed (applies at the next block), 2 applied, 3 rejected,
        /// 4 revoked; an open proposal past `expiresAtBlock` is expired.
        function proposal(uint256 id) external view returns (address proposer, bytes action, uint64 createdAtBlock, uint64 expiresAtBlock, uint64 weightFor, uint64 weightAgainst, uint8 status);
        function committee() external view returns (address[] memory members, uint64[] memory weights, uint64 threshold);
        function regulator() external view returns (address);
        function setting(string key) external view returns (uint256);
        /// The account's standing: frozen, blacklisted, and its deploy and send permissions.
        function accountStatus(address account) external view returns (bool frozen, bool blacklisted, bool mayDeploy, bool maySend);
        /// Whether the interception rules let `from` send `value` to `to` with `data` now
        /// (the admission check; velocity counts what is committed); the rule that refuses.
        function check(address from, address to, uint256 value, bytes data) external view returns (bool allowed, string memory rule, string memory reason);
        /// The CA certificates (DER) the P2P network trusts besides each node's chain CA.
        function trustedCas() external view returns (bytes[] memory);
        function revokedNodes() external view returns (address[] memory);
        function revokedSerials() external view returns (bytes[] memory);
    }

    /// The actions a proposal carries (`propose(abi.encodeCall(IGovernanceActions.x, ...))`);
    /// they apply at the block after the proposal passed (GOV-R5). Nothing calls them at
    /// `0x…1008` directly.
    #[derive(Debug, PartialEq, Eq)]
    interface IGovernanceActions {
        function setSetting(string key, uint256 value) external;
        function setCommittee(address[] members, uint64[] weights, uint64 threshold) external;
        function setRegulator(address regulator) external;
        function freezeAccount(address account, bool frozen) external;
        function setBlacklisted(address account, bool listed) external;
        /// Only listed accounts deploy contracts while the deploy list is on.
        function setDeployList(bool on) external;
        function allowDeploy(address account, bool allowed) external;
        /// Only listed accounts send transactions while the send list is on.
        function setSendList(bool on) external;
        function allowSend(address account, bool allowed) external;
        /// Calls of `selector` on `target` are restricted to the accounts allowed.
        function restrictMethod(address target, bytes4 selector, bool restricted) external;
        function allowCall(address target, bytes4 selector, address account, bool allowed) external;
        /// A transaction's value above `maxWei` is intercepted or flagged (action 0 turns it off).
        function setAmountRule(uint256 maxWei, uint8 action) external;
        /// At most `countMax` transactions and `amountMax` wei sent by `account` (the zero
        /// address: every account without a rule of its own) per window of `windowBlocks`.
        function setVelocityRule(address account, uint64 windowBlocks, uint64 countMax, uint256 amountMax, uint8 action) external;
        /// `account` may only deal with its listed counterparties (action 0 lifts it).
        function setCounterpartyRule(address account, uint8 action) external;
        function allowCounterparty(address account, address counterparty, bool allowed) external;
        /// Trusts one more CA (its DER certificate) for node certificates (GOV-R8).
        function addCa(bytes certificate) external;
        /// Stops trusting the CA whose DER certificate hashes (keccak256) to `certificateHash`.
        function removeCa(bytes32 certificateHash) external;
        /// Refuses every certificate of node `nodeId`, or lifts that.
        function revokeNode(address nodeId, bool revoked) external;
        /// Refuses the certificate with this serial number, or lifts that.
        function revokeCertificate(bytes serial, bool revoked) external;
        /// Makes node `node` (its index in the member list) a voter (Raft) or validator
        /// (PBFT), or no longer one (GOV-R9, spec/raft.md RAFT-R15, spec/pbft.md PBFT-R20).
        function setSealer(uint32 node, bool sealer) external;
        /// Merchant chains: user chain `chainId`'s certificates from height `fromHeight` on
        /// are checked against its members `members` (indices into the member list the
        /// settlement registry holds, ascending), as that chain's governance set them
        /// (spec/settlement.md XS-R5, GOV-R10).
        function setChainValidators(uint64 chainId, uint64 fromHeight, uint32[] members) external;
    }
}
