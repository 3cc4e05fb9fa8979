//! AMOP's P2P messages, inside a group's `Wire::Amop` frame (postcard). Nothing here ever
//! reaches the chain.

use bcos_types::{Bytes, B256};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmopWire {
    /// Every topic the sender has subscribers for (the whole set, so a lost or reordered
    /// announcement is corrected by the next).
    Topics(Vec<String>),
    /// A multicast: for every subscriber of `topic` on the receiving node.
    Publish { topic: String, data: Bytes },
    /// For one subscriber of `topic` on the receiving node.
    Request {
        id: B256,
        topic: String,
        data: Bytes,
    },
    /// The subscriber's answer to request `id`.
    Response { id: B256, data: Bytes },
    /// The receiving node had no subscriber to take request `id` (the sender tries another).
    NoSubscriber { id: B256 },
}

impl AmopWire {
    pub fn encode(&self) -> Bytes {
        // Serialising plain data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default().into()
    }

    pub fn decode(bytes: &[u8]) -> Option<AmopWire> {
        match postcard::take_from_bytes::<AmopWire>(bytes) {
            Ok((w, [])) => Some(w),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_rejects_trailing_bytes() {
        let w = AmopWire::Request {
            id: B256::repeat_byte(3),
            topic: "t".into(),
            data: Bytes::from(vec![1, 2, 3]),
        };
        let mut bytes = w.encode().to_vec();
        assert_eq!(AmopWire::decode(&bytes), Some(w));
        bytes.push(0);
        assert_eq!(AmopWire::decode(&bytes), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = AmopWire::decode(&bytes);
        }
    }
}
