//! The group tag of a P2P frame (spec/groups.md §2): a 4-byte big-endian group number in
//! front of the group's own wire message, so one TLS connection per pair of nodes carries
//! every group's traffic.

use alloy_primitives::bytes::{BufMut, Bytes, BytesMut};

pub const TAG_BYTES: usize = 4;

/// `payload` tagged with `group`.
pub fn tag(group: u32, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(TAG_BYTES + payload.len());
    out.put_u32(group);
    out.put_slice(payload);
    out.freeze()
}

/// The group and the payload of a received frame; `None` for a frame too short to carry a
/// tag (the sender is broken or hostile: the frame is dropped).
pub fn untag(frame: &Bytes) -> Option<(u32, Bytes)> {
    let head: [u8; TAG_BYTES] = frame.get(..TAG_BYTES)?.try_into().ok()?;
    Some((u32::from_be_bytes(head), frame.slice(TAG_BYTES..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_frame_untags_to_its_group_and_payload() {
        let f = tag(7, b"vote");
        assert_eq!(untag(&f), Some((7, Bytes::from_static(b"vote"))));
        assert_eq!(untag(&tag(u32::MAX, b"")), Some((u32::MAX, Bytes::new())));
        assert_eq!(untag(&Bytes::from_static(b"abc")), None);
    }
}
