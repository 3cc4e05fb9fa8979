//! Private topics: a subscriber proves it holds one of the topic's keys by signing a fresh
//! challenge (spec: `amop_challenge`, then `amop_subscribe(topic, auth)`). A nonce is good
//! for one subscription, within its time to live.

use super::config::AmopConfig;
use bcos_rpc::amop::{amop_auth_message, AmopAuth};
use bcos_rpc::ApiError;
use bcos_types::{Address, B256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// 256 unpredictable bits (ids and nonces): a keyed hash of a counter under keys the OS
/// drew for this process.
pub fn random_b256() -> B256 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<[RandomState; 4]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| std::array::from_fn(|_| RandomState::new()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = [0u8; 32];
    for (i, k) in keys.iter().enumerate() {
        out[i * 8..(i + 1) * 8].copy_from_slice(&k.hash_one(n).to_be_bytes());
    }
    B256::from(out)
}

/// The EIP-191 personal-message hash of `text`.
pub fn personal_hash(text: &str) -> B256 {
    alloy_primitives::eip191_hash_message(text)
}

pub struct PrivateTopics {
    keys: BTreeMap<String, BTreeSet<Address>>,
    /// nonce -> (topic, issued)
    challenges: HashMap<B256, (String, Instant)>,
    ttl: Duration,
    max: usize,
}

impl PrivateTopics {
    pub fn new(cfg: &AmopConfig) -> Self {
        PrivateTopics {
            keys: cfg
                .private_topics
                .iter()
                // A key that does not parse was refused by `AmopConfig::validate`.
                .map(|p| {
                    (
                        p.topic.clone(),
                        p.authorised().unwrap_or_default().into_iter().collect(),
                    )
                })
                .collect(),
            challenges: HashMap::new(),
            ttl: Duration::from_millis(cfg.challenge_ttl_ms),
            max: cfg.challenges_max,
        }
    }

    pub fn is_private(&self, topic: &str) -> bool {
        self.keys.contains_key(topic)
    }

    pub fn challenge(&mut self, topic: &str, now: Instant) -> Result<B256, ApiError> {
        if !self.is_private(topic) {
            return Err(ApiError::InvalidParams(format!(
                "topic {topic:?} is not private: subscribe without a challenge"
            )));
        }
        let ttl = self.ttl;
        self.challenges
            .retain(|_, (_, issued)| now.duration_since(*issued) < ttl);
        if self.challenges.len() >= self.max {
            return Err(ApiError::Unavailable(format!(
                "too many AMOP challenges outstanding (limit {})",
                self.max
            )));
        }
        let nonce = random_b256();
        self.challenges.insert(nonce, (topic.to_string(), now));
        Ok(nonce)
    }

    /// Ok for a public topic; for a private one, the auth must sign an unused, unexpired
    /// nonce of this topic with an authorised key (the nonce is spent either way).
    pub fn admit(
        &mut self,
        topic: &str,
        auth: Option<&AmopAuth>,
        now: Instant,
    ) -> Result<(), ApiError> {
        let Some(allowed) = self.keys.get(topic) else {
            return Ok(());
        };
        let refuse = |why: String| {
            Err(ApiError::InvalidParams(format!(
                "topic {topic:?} is private: {why}"
            )))
        };
        let Some(auth) = auth else {
            return refuse(
                "subscribe with {address, nonce, signature} (amop_challenge gives the nonce)"
                    .into(),
            );
        };
        match self.challenges.remove(&auth.nonce) {
            Some((t, issued)) if t == topic && now.duration_since(issued) < self.ttl => {}
            _ => {
                return refuse(
                    "unknown or expired nonce (ask amop_challenge for a fresh one)".into(),
                )
            }
        }
        if !allowed.contains(&auth.address) {
            return refuse(format!("{} is not authorised for it", auth.address));
        }
        let sig: &[u8] = &auth.signature;
        let (Some(compact), Some(&v)) = (sig.get(..64), sig.get(64)) else {
            return refuse("the signature is not 65 bytes".into());
        };
        let parity = match v {
            0 | 1 => v,
            27 | 28 => v - 27,
            _ => return refuse(format!("bad signature v {v}")),
        };
        let mut c = [0u8; 64];
        c.copy_from_slice(compact);
        let hash = personal_hash(&amop_auth_message(topic, &auth.nonce));
        match bcos_crypto::recover_address(hash, &c, parity) {
            Ok(a) if a == auth.address => Ok(()),
            _ => refuse(format!("the signature is not {}'s", auth.address)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::super::config::PrivateTopic;
    use super::*;

    fn sign(key: &bcos_crypto::SecretKey, topic: &str, nonce: &B256) -> Vec<u8> {
        let hash = personal_hash(&amop_auth_message(topic, nonce));
        // r ‖ s ‖ v with v = 27 + parity, as eth_sign gives it.
        bcos_crypto::sign_prehash(hash.0, key).as_bytes().to_vec()
    }

    #[test]
    fn only_a_fresh_signature_by_an_authorised_key_subscribes() {
        let keys = bcos_crypto::dev_keys(bcos_crypto::TEST_MNEMONIC, 2).unwrap();
        let (good, bad) = (keys[0], keys[1]);
        let good_addr = bcos_crypto::address_of(&good);
        let cfg = AmopConfig {
            private_topics: vec![PrivateTopic {
                topic: "p".into(),
                addresses: Vec::new(),
                // Named by its public key (compressed): the same address.
                public_keys: vec![secp256k1::PublicKey::from_secret_key_global(&good)
                    .serialize()
                    .to_vec()
                    .into()],
            }],
            ..Default::default()
        };
        let mut p = PrivateTopics::new(&cfg);
        let now = Instant::now();
        assert!(p.admit("public", None, now).is_ok());
        assert!(p.admit("p", None, now).is_err());
        assert!(p.challenge("public", now).is_err());

        let nonce = p.challenge("p", now).unwrap();
        let auth = |key, address, nonce| AmopAuth {
            address,
            nonce,
            signature: sign(key, "p", &nonce).into(),
        };
        // Another key, even claiming the good address, is refused (and spends the nonce).
        let forged = AmopAuth {
            address: good_addr,
            ..auth(&bad, good_addr, nonce)
        };
        assert!(p
            .admit("p", Some(&forged), now)
            .unwrap_err()
            .to_string()
            .contains("not"));
        assert!(
            p.admit("p", Some(&auth(&good, good_addr, nonce)), now)
                .is_err(),
            "spent"
        );

        let nonce = p.challenge("p", now).unwrap();
        let unlisted = bcos_crypto::address_of(&bad);
        assert!(p
            .admit("p", Some(&auth(&bad, unlisted, nonce)), now)
            .unwrap_err()
            .to_string()
            .contains("not authorised"));

        let nonce = p.challenge("p", now).unwrap();
        let late = now + Duration::from_millis(cfg.challenge_ttl_ms + 1);
        assert!(p
            .admit("p", Some(&auth(&good, good_addr, nonce)), late)
            .is_err());

        let nonce = p.challenge("p", now).unwrap();
        assert!(p
            .admit("p", Some(&auth(&good, good_addr, nonce)), now)
            .is_ok());
    }
}
