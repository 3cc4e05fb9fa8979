//! `[cluster]`: a node's place in a multi-node group, its keys and the driver's limits.
//! Written by `bcos init`; every limit is named and documented in docs/config.md.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Which consensus core runs the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusKind {
    #[default]
    Pbft,
    Raft,
}

impl std::str::FromStr for ConsensusKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pbft" => Ok(ConsensusKind::Pbft),
            "raft" => Ok(ConsensusKind::Raft),
            other => Err(format!(
                "unknown consensus {other:?} (expected pbft or raft)"
            )),
        }
    }
}

/// One validator of the group, as every node's config lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Position in the validator list (consensus index, certificate name `node-<index>.bcos`).
    pub index: u32,
    /// Where its P2P listener is reached.
    pub p2p_addr: SocketAddr,
    /// Its node id: the address of its secp256k1 node key (signs view changes).
    pub node_id: bcos_types::Address,
    /// Its BLS12-381 vote key (hex, 48-byte compressed G1).
    pub bls_public_key: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    pub consensus: ConsensusKind,
    /// The group this chain is; part of every signed vote.
    pub group_id: u32,
    /// This node's index in `members`.
    pub index: u32,
    /// P2P listen address.
    pub listen_addr: SocketAddr,
    /// Directory with `node_id.key` (secp256k1, hex), `bls.key` (hex), `node.crt` and
    /// `node.key` (TLS identity) and `ca.crt` (the chain CA); a relative path is taken from
    /// the config file's directory.
    pub keys_dir: PathBuf,
    pub members: Vec<Member>,
    /// Raft: the voting members at genesis (indices); empty means all `members`. Others
    /// join through the node-manager system contract.
    pub voters: Vec<u32>,
    /// Raft: the account whose node-manager calls change the membership (the chain admin);
    /// unset means the first dev account.
    pub admin: Option<bcos_types::Address>,
    /// PBFT: how long view 0 of a height may take before a view change; doubles per view.
    pub view_timeout_ms: u64,
    /// Raft: election timeout base (each node adds `index * election_spread_ms`).
    pub election_timeout_ms: u64,
    pub election_spread_ms: u64,
    /// Raft: leader heartbeat interval.
    pub heartbeat_ms: u64,
    /// How often a node tells its peers its head (drives block sync).
    pub status_interval_ms: u64,
    /// Blocks asked for (and served) in one sync request at most.
    pub sync_blocks_max: u64,
    /// Bytes of blocks served in one sync response at most.
    pub sync_response_bytes_max: usize,
    /// A sync request unanswered for this long is retried with another peer.
    pub sync_timeout_ms: u64,
    /// Sync requests served per peer per second at most (a token bucket; excess dropped).
    pub sync_serve_requests_per_s: u64,
    /// Bytes of blocks served per peer per second at most.
    pub sync_serve_bytes_per_s: u64,
    /// Transactions forwarded to peers in one frame at most.
    pub gossip_batch_max: usize,
    /// Forwarded transactions waiting to be sent at most; past it, forwarding drops (the
    /// submitting node still holds them).
    pub gossip_queue_max: usize,
    /// Verified votes remembered so none is verified twice.
    pub vote_cache_entries: usize,
    /// PBFT: vote signatures kept per validator (one per height, view and phase); a
    /// validator flooding votes displaces only its own oldest ones.
    pub votes_per_peer_max: usize,
    /// Consensus messages queued for the driver per peer at most (served round-robin);
    /// past it that peer's messages are dropped, never another peer's.
    pub driver_queue_per_peer_max: usize,
    /// Bytes of those messages per peer at most.
    pub driver_queue_per_peer_bytes_max: usize,
    /// Largest P2P frame, in bytes.
    pub frame_bytes_max: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            consensus: ConsensusKind::Pbft,
            group_id: 1,
            index: 0,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 30300)),
            keys_dir: PathBuf::from("keys"),
            members: Vec::new(),
            voters: Vec::new(),
            admin: None,
            view_timeout_ms: 3_000,
            election_timeout_ms: 1_000,
            election_spread_ms: 300,
            heartbeat_ms: 200,
            status_interval_ms: 500,
            sync_blocks_max: 32,
            sync_response_bytes_max: 8 * 1024 * 1024,
            sync_timeout_ms: 3_000,
            sync_serve_requests_per_s: 8,
            sync_serve_bytes_per_s: 64 * 1024 * 1024,
            gossip_batch_max: 2_048,
            gossip_queue_max: 100_000,
            vote_cache_entries: 65_536,
            votes_per_peer_max: 256,
            driver_queue_per_peer_max: 4_096,
            driver_queue_per_peer_bytes_max: 32 * 1024 * 1024,
            frame_bytes_max: 16 * 1024 * 1024,
        }
    }
}

impl ClusterConfig {
    /// Checks what a bad hand edit could break before anything starts.
    pub fn validate(&self) -> anyhow::Result<()> {
        let n = self.members.len();
        if n == 0 {
            anyhow::bail!("cluster.members is empty");
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.index as usize != i {
                anyhow::bail!(
                    "cluster.members[{i}] has index {}; list them in index order",
                    m.index
                );
            }
        }
        if self.index as usize >= n {
            anyhow::bail!("cluster.index {} is not below the {n} members", self.index);
        }
        if self.sync_blocks_max == 0 || self.gossip_batch_max == 0 || self.status_interval_ms == 0 {
            anyhow::bail!("cluster limits sync_blocks_max, gossip_batch_max and status_interval_ms must be positive");
        }
        Ok(())
    }
}
