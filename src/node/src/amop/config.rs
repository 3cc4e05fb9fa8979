//! `[amop]`: the bounds of AMOP messaging (docs/config.md, docs/memory-budget.md) and its
//! private topics.

use bcos_types::Address;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmopConfig {
    /// Largest message or request (its data). Default 256 KiB (a P2P frame carries it).
    pub data_bytes_max: usize,
    /// Longest topic name. Default 128 bytes.
    pub topic_bytes_max: usize,
    /// Messages queued for one subscription; past it the subscription loses messages
    /// (counted), the node nothing. Default 256.
    pub queue_per_subscriber_max: usize,
    /// Bytes queued for one subscription. Default 4 MiB.
    pub queue_per_subscriber_bytes_max: usize,
    /// Bytes queued for all subscriptions of one topic on this node. Default 16 MiB.
    pub queue_per_topic_bytes_max: usize,
    /// Bytes queued for all subscriptions of the group together. Default 64 MiB.
    pub queued_bytes_max: usize,
    /// Subscriptions to one topic on this node. Default 256.
    pub subscribers_per_topic_max: usize,
    /// Topics with subscribers on this node, and topics kept per peer. Default 1,024.
    pub topics_max: usize,
    /// Requests waiting for an answer, here and for peers together. Default 4,096.
    pub pending_requests_max: usize,
    /// Longest timeout a request may ask for. Default 60 s.
    pub request_timeout_ms_max: u64,
    /// How often this node tells its peers which topics it has subscribers for; a peer
    /// silent for three intervals is taken to have none (it died, or the link broke).
    /// Default 500 ms.
    pub announce_interval_ms: u64,
    /// How long a private topic's challenge nonce stays valid. Default 60 s.
    pub challenge_ttl_ms: u64,
    /// Challenges outstanding at once. Default 1,024.
    pub challenges_max: usize,
    /// `[[amop.private_topics]]`: topics only holders of the listed keys may subscribe to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_topics: Vec<PrivateTopic>,
}

/// A private topic: subscribers prove they hold one of the listed keys, named by their
/// public keys (33 or 65 bytes, SEC1) or by the addresses derived from them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateTopic {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<bcos_types::Bytes>,
}

impl PrivateTopic {
    /// Every authorised address: the listed ones and those of the listed public keys.
    pub fn authorised(&self) -> anyhow::Result<Vec<Address>> {
        let mut out = self.addresses.clone();
        for key in &self.public_keys {
            let pk = secp256k1::PublicKey::from_slice(key).map_err(|e| {
                anyhow::anyhow!("amop private topic {:?}: public key {key}: {e}", self.topic)
            })?;
            let raw = pk.serialize_uncompressed();
            let hash = bcos_types::keccak256(&raw[1..]);
            out.push(Address::from_slice(&hash[12..]));
        }
        Ok(out)
    }
}

impl Default for AmopConfig {
    fn default() -> Self {
        AmopConfig {
            data_bytes_max: 256 * 1024,
            topic_bytes_max: 128,
            queue_per_subscriber_max: 256,
            queue_per_subscriber_bytes_max: 4 * 1024 * 1024,
            queue_per_topic_bytes_max: 16 * 1024 * 1024,
            queued_bytes_max: 64 * 1024 * 1024,
            subscribers_per_topic_max: 256,
            topics_max: 1024,
            pending_requests_max: 4096,
            request_timeout_ms_max: 60_000,
            announce_interval_ms: 500,
            challenge_ttl_ms: 60_000,
            challenges_max: 1024,
            private_topics: Vec::new(),
        }
    }
}

impl AmopConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (what, v) in [
            ("data_bytes_max", self.data_bytes_max),
            ("topic_bytes_max", self.topic_bytes_max),
            ("queue_per_subscriber_max", self.queue_per_subscriber_max),
            (
                "queue_per_subscriber_bytes_max",
                self.queue_per_subscriber_bytes_max,
            ),
            ("queue_per_topic_bytes_max", self.queue_per_topic_bytes_max),
            ("queued_bytes_max", self.queued_bytes_max),
            ("subscribers_per_topic_max", self.subscribers_per_topic_max),
            ("topics_max", self.topics_max),
            ("pending_requests_max", self.pending_requests_max),
            ("challenges_max", self.challenges_max),
        ] {
            anyhow::ensure!(v > 0, "amop.{what} must be positive");
        }
        anyhow::ensure!(
            self.announce_interval_ms > 0,
            "amop.announce_interval_ms must be positive"
        );
        for p in &self.private_topics {
            anyhow::ensure!(
                !p.authorised()?.is_empty(),
                "amop private topic {:?} lists no addresses or public keys: nobody could subscribe",
                p.topic
            );
        }
        Ok(())
    }
}
