//! `[cluster]`: a node's place in a multi-node group, its keys and the driver's limits.
//! Written by `bcos init`; every limit is named and documented in docs/config.md.

use bcos_crypto::bls::BlsPublicKey;
use bcos_net::{NetConfig, PeerSpec};
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
    /// Proof of possession of `bls_public_key` (hex, 96-byte BLS signature of the key's own
    /// bytes under the PoP domain tag), written by `bcos init`. A member without a valid one
    /// is refused at start (PBFT-K1: rogue-key defence for aggregate certificates).
    #[serde(default)]
    pub bls_pop: String,
}

/// A deliberate bug for the simulator to find (`bcos-sim --bug`); never read from a config
/// file, `None` in every real node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeededBug {
    /// PBFT core: quorums of 2f (`bcos_consensus::pbft::SeededBug::QuorumTwoF`).
    PbftQuorumTwoF,
    /// PBFT core: view changes drop the lock (`NoLock`).
    PbftNoLock,
    /// Raft core: a second vote in one term (`VoteTwice`).
    RaftVoteTwice,
    /// Raft core: an old term's entry committed by count alone (`CommitOldTerm`).
    RaftCommitOldTerm,
    /// Driver: a synced block is applied without checking its commit certificate.
    SyncWithoutCertificate,
    /// Driver: the core's durable record is written only at the next step, after the
    /// messages that depend on it went out (breaks PBFT-R2 / RAFT-R2).
    SendBeforePersist,
    /// Driver: a decided block is announced (receipts visible) before it is stored, and
    /// stored only at the next step.
    AckBeforeDurable,
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
    /// The voting members at genesis (indices): Raft's voters, PBFT's validators; empty
    /// means all `members`. Others join through governance (`setSealer`, spec/governance.md
    /// GOV-R9, spec/pbft.md PBFT-R20).
    pub voters: Vec<u32>,
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
    /// A seeded bug (simulator only; never in a file).
    #[serde(skip)]
    pub seeded_bug: Option<SeededBug>,
    /// A group's view only (`crate::groups::config::for_group`): the node index behind each
    /// consensus position in `members`; empty means the same numbers (group 0).
    #[serde(skip)]
    pub node_indices: Vec<u32>,
    /// Largest P2P frame, in bytes.
    pub frame_bytes_max: u32,
    /// P2P: a TCP connect + TLS handshake + ack must finish within this (both directions).
    pub handshake_timeout_ms: u64,
    /// P2P: inbound handshakes in progress at once from IPs that are not a member's.
    pub handshakes_inflight_max: usize,
    /// P2P: inbound handshakes in progress at once from one IP (plus one per member there).
    pub handshakes_per_ip_max: usize,
    /// P2P: handshake failures are logged at warn once per remote IP per this interval.
    pub handshake_log_interval_ms: u64,
    /// P2P: frames queued per peer at most; past it new frames to that peer are dropped.
    pub send_queue_frames_max: usize,
    /// P2P: payload bytes queued per peer at most; past it new frames are dropped.
    pub send_queue_bytes_max: usize,
    /// P2P: a write to a peer must finish within this, or the link is closed and redialled.
    pub write_timeout_ms: u64,
    /// P2P: frames received from one peer and not yet consumed at most (then that peer's
    /// reader pauses).
    pub recv_queue_frames_max: usize,
    /// P2P: payload bytes received from one peer and not yet consumed at most.
    pub recv_queue_bytes_max: usize,
    /// P2P: a deny list of node ids / certificate serials (bcos_net::deny); a relative path
    /// is taken from the config file's directory; unset denies nothing. Re-read when the file
    /// changes; a newly denied peer's connections are closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_list_file: Option<PathBuf>,
    /// P2P: how often the deny list file is checked for changes.
    pub deny_list_poll_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        // the transport's defaults are documented (and chosen) in bcos_net::NetConfig
        let net = NetConfig::new(SocketAddr::from(([127, 0, 0, 1], 30300)), Vec::new());
        ClusterConfig {
            consensus: ConsensusKind::Pbft,
            group_id: 1,
            index: 0,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 30300)),
            keys_dir: PathBuf::from("keys"),
            members: Vec::new(),
            voters: Vec::new(),
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
            seeded_bug: None,
            node_indices: Vec::new(),
            frame_bytes_max: net.frame_bytes_max,
            handshake_timeout_ms: net.handshake_timeout_ms,
            handshakes_inflight_max: net.handshakes_inflight_max,
            handshakes_per_ip_max: net.handshakes_per_ip_max,
            handshake_log_interval_ms: net.handshake_log_interval_ms,
            send_queue_frames_max: net.send_queue_frames_max,
            send_queue_bytes_max: net.send_queue_bytes_max,
            write_timeout_ms: net.write_timeout_ms,
            recv_queue_frames_max: net.recv_queue_frames_max,
            recv_queue_bytes_max: net.recv_queue_bytes_max,
            deny_list_file: None,
            deny_list_poll_ms: net.deny_list_poll_ms,
        }
    }
}

impl ClusterConfig {
    /// This node's index among the cluster's nodes (its `index` is its position in the
    /// group, which differs in a group of a subset of the nodes).
    pub fn node_index(&self) -> u32 {
        self.node_indices
            .get(self.index as usize)
            .copied()
            .unwrap_or(self.index)
    }

    /// The node index behind each consensus position.
    pub fn member_nodes(&self) -> Vec<u32> {
        if self.node_indices.is_empty() {
            self.members.iter().map(|m| m.index).collect()
        } else {
            self.node_indices.clone()
        }
    }

    /// The P2P transport's configuration: every member but us is a peer, bound to its node
    /// id (P2P-I1).
    pub fn net_config(&self) -> NetConfig {
        let peers = self
            .members
            .iter()
            .map(|m| PeerSpec::new(m.index, m.p2p_addr, format!("{:x}", m.node_id)))
            .collect();
        let mut net = NetConfig::new(self.listen_addr, peers);
        net.frame_bytes_max = self.frame_bytes_max;
        net.handshake_timeout_ms = self.handshake_timeout_ms;
        net.handshakes_inflight_max = self.handshakes_inflight_max;
        net.handshakes_per_ip_max = self.handshakes_per_ip_max;
        net.handshake_log_interval_ms = self.handshake_log_interval_ms;
        net.send_queue_frames_max = self.send_queue_frames_max;
        net.send_queue_bytes_max = self.send_queue_bytes_max;
        net.write_timeout_ms = self.write_timeout_ms;
        net.recv_queue_frames_max = self.recv_queue_frames_max;
        net.recv_queue_bytes_max = self.recv_queue_bytes_max;
        net.deny_list_file = self.deny_list_file.clone();
        net.deny_list_poll_ms = self.deny_list_poll_ms;
        net
    }

    /// The validators' BLS keys in index order, each checked against its proof of
    /// possession (PBFT-K1). The member list is read only here, at start: a change to the
    /// validator set is a config change and goes through this check again at the restart
    /// that applies it (Raft's governance changes only pick among these members).
    pub fn validator_keys(&self) -> anyhow::Result<Vec<BlsPublicKey>> {
        self.members
            .iter()
            .map(|m| {
                if m.bls_pop.trim().is_empty() {
                    anyhow::bail!(
                        "cluster.members[{}] has no bls_pop (proof of possession of its BLS \
                         key); a validator key is accepted only with one. Regenerate the \
                         cluster with `bcos init`, or have the member sign its key",
                        m.index
                    );
                }
                BlsPublicKey::from_hex_with_possession(&m.bls_public_key, &m.bls_pop).map_err(|e| {
                    anyhow::anyhow!(
                        "cluster.members[{}]: BLS key refused ({e}); a key whose owner \
                             cannot prove possession could forge certificates with the others' \
                             keys (rogue-key attack)",
                        m.index
                    )
                })
            })
            .collect()
    }

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
        self.net_config()
            .check()
            .map_err(|e| anyhow::anyhow!("cluster P2P settings: {e}"))?;
        self.validator_keys()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_crypto::bls::rogue::rogue_public_key;
    use bcos_crypto::bls::{
        quorum_for, sign_vote, verify_certificate, BlsSecretKey, CommitCertificate, VoteData,
        VotePhase,
    };

    fn member(index: u32, key: &BlsPublicKey, pop: String) -> Member {
        Member {
            index,
            p2p_addr: SocketAddr::from(([127, 0, 0, 1], 30300 + index as u16)),
            node_id: bcos_types::Address::repeat_byte(index as u8 + 1),
            bls_public_key: key.to_hex(),
            bls_pop: pop,
        }
    }

    /// PBFT-K1 regression: validator 3 registers `own - pk0 - pk1`, with which it alone signs
    /// a certificate for {0, 1, 3} that the fast aggregate check accepts; the member set that
    /// carries it is refused at load because no proof of possession verifies for it.
    #[test]
    fn a_member_set_with_a_rogue_key_is_refused_though_its_forged_certificate_verifies() {
        let honest: Vec<BlsSecretKey> = (1..=3u8)
            .map(|s| BlsSecretKey::from_seed(&[s; 32]))
            .collect();
        let attacker = BlsSecretKey::from_seed(&[0x66; 32]);
        let pks: Vec<_> = honest.iter().map(BlsSecretKey::public_key).collect();
        let rogue = rogue_public_key(&attacker, &pks[..2]).unwrap();
        let mut members: Vec<_> = honest
            .iter()
            .enumerate()
            .map(|(i, k)| member(i as u32, &k.public_key(), k.prove_possession().to_hex()))
            .collect();
        // the best proof the attacker can make: one for the key it actually owns
        members.push(member(3, &rogue, attacker.prove_possession().to_hex()));
        let mut cfg = ClusterConfig {
            members,
            ..ClusterConfig::default()
        };

        // Loaded without the possession check, the set accepts a certificate nobody but
        // the attacker signed.
        let unchecked: Vec<_> = cfg
            .members
            .iter()
            .map(|m| BlsPublicKey::from_hex(&m.bls_public_key).unwrap())
            .collect();
        let digest = VoteData {
            group_id: cfg.group_id,
            height: 1,
            view: 0,
            block_hash: bcos_types::B256::repeat_byte(0xee),
            state_root: bcos_types::B256::repeat_byte(0xef),
            receipts_root: bcos_types::B256::repeat_byte(0xf0),
            phase: VotePhase::Commit,
        }
        .digest();
        let forged = CommitCertificate {
            digest,
            signers: vec![0b1011],
            aggregate: sign_vote(&attacker, &digest).to_bytes(),
        };
        assert_eq!(
            verify_certificate(&forged, &unchecked, quorum_for(4)),
            Ok(())
        );

        let refused = format!("{:#}", cfg.validate().unwrap_err());
        assert!(
            refused.contains("members[3]") && refused.contains("proof of possession"),
            "{refused}"
        );

        // An honest fourth validator with its own proof loads; the forged certificate then
        // fails against the loaded keys.
        let fourth = BlsSecretKey::from_seed(&[4; 32]);
        cfg.members[3] = member(3, &fourth.public_key(), fourth.prove_possession().to_hex());
        cfg.validate().unwrap();
        let keys = cfg.validator_keys().unwrap();
        assert!(verify_certificate(&forged, &keys, quorum_for(4)).is_err());

        // A member without any proof is refused with a message saying what is missing.
        cfg.members[1].bls_pop.clear();
        let missing = format!("{:#}", cfg.validate().unwrap_err());
        assert!(missing.contains("members[1] has no bls_pop"), "{missing}");
        // and a proof belonging to another member does not pass either
        cfg.members[1].bls_pop = cfg.members[2].bls_pop.clone();
        assert!(cfg.validate().is_err());
    }
}
