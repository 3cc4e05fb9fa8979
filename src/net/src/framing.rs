//! Length-prefixed frames: a `u32` big-endian payload length, then the payload.
//!
//! A frame longer than `frame_bytes_max`, an empty frame, or a stream that ends inside a frame is
//! a protocol violation by that peer: the reader returns a [`FrameError`] and the caller closes
//! that connection only. The reader never allocates more than `frame_bytes_max` plus a header
//! for one frame, whatever length a peer announces.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of the length prefix.
pub const HEADER_BYTES: usize = 4;
/// Read chunk when the buffer has no room; frames larger than this are read with one
/// reservation of exactly their size.
const READ_CHUNK_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds frame_bytes_max {max}")]
    TooLarge { len: u64, max: u32 },
    #[error("empty frame")]
    Empty,
    #[error("stream ended inside a frame ({have} of {need} bytes)")]
    Truncated { have: usize, need: usize },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks a payload we are about to send against the same rules the receiver applies.
pub fn check_outgoing(payload: &[u8], max: u32) -> Result<(), FrameError> {
    if payload.is_empty() {
        return Err(FrameError::Empty);
    }
    if payload.len() as u64 > u64::from(max) {
        return Err(FrameError::TooLarge {
            len: payload.len() as u64,
            max,
        });
    }
    Ok(())
}

/// Appends one frame to `out`. The payload must have passed [`check_outgoing`].
pub fn encode(payload: &[u8], out: &mut BytesMut) {
    out.reserve(HEADER_BYTES + payload.len());
    // check_outgoing bounds the length by a u32
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
}

/// Takes one complete frame off the front of `buf`, if there is one. On `Ok(None)` the buffer
/// has been reserved to hold the rest of the frame being received.
pub fn decode(buf: &mut BytesMut, max: u32) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < HEADER_BYTES {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max,
        });
    }
    let need = HEADER_BYTES + len as usize;
    if buf.len() < need {
        buf.reserve(need - buf.len());
        return Ok(None);
    }
    buf.advance(HEADER_BYTES);
    Ok(Some(buf.split_to(len as usize).freeze()))
}

/// Reads frames from a byte stream. Cancel-safe: all state is in the buffer.
pub struct FrameReader {
    buf: BytesMut,
    max: u32,
}

impl FrameReader {
    pub fn new(max: u32) -> Self {
        Self {
            buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            max,
        }
    }

    /// The next frame; `Ok(None)` when the stream ended cleanly between frames.
    pub async fn next<R: AsyncRead + Unpin>(
        &mut self,
        stream: &mut R,
    ) -> Result<Option<Bytes>, FrameError> {
        loop {
            if let Some(frame) = decode(&mut self.buf, self.max)? {
                return Ok(Some(frame));
            }
            if self.buf.capacity() == self.buf.len() {
                self.buf.reserve(READ_CHUNK_BYTES);
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let need = if self.buf.len() < HEADER_BYTES {
                    HEADER_BYTES
                } else {
                    HEADER_BYTES
                        + u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                            as usize
                };
                return Err(FrameError::Truncated {
                    have: self.buf.len(),
                    need,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(mut wire: &[u8], chunk: usize, max: u32) -> Result<Vec<Bytes>, FrameError> {
        // feed the wire in chunks to exercise partial headers and bodies
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        while !wire.is_empty() {
            let n = chunk.min(wire.len());
            buf.extend_from_slice(&wire[..n]);
            wire = &wire[n..];
            while let Some(f) = decode(&mut buf, max)? {
                out.push(f);
            }
        }
        if !buf.is_empty() {
            return Err(FrameError::Truncated {
                have: buf.len(),
                need: 0,
            });
        }
        Ok(out)
    }

    proptest! {
        #[test]
        fn round_trip_in_any_chunking(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..20),
            chunk in 1usize..64,
        ) {
            let mut wire = BytesMut::new();
            for f in &frames {
                prop_assert!(check_outgoing(f, 300).is_ok());
                encode(f, &mut wire);
            }
            let got = decode_all(&wire, chunk, 300).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), frames);
        }

        #[test]
        fn garbage_never_yields_an_oversized_frame(
            wire in proptest::collection::vec(any::<u8>(), 0..600),
            max in 1u32..256,
        ) {
            let mut buf = BytesMut::from(&wire[..]);
            while let Ok(Some(f)) = decode(&mut buf, max) {
                prop_assert!(!f.is_empty() && f.len() <= max as usize);
            }
        }
    }

    #[test]
    fn oversized_and_empty_are_rejected_by_both_sides() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1][..]);
        assert!(matches!(
            decode(&mut buf, 1024),
            Err(FrameError::TooLarge {
                len: 0xffff_ffff,
                max: 1024
            })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 0][..]);
        assert!(matches!(decode(&mut buf, 1024), Err(FrameError::Empty)));
        assert!(matches!(
            check_outgoing(&[0; 1025], 1024),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(check_outgoing(&[], 1024), Err(FrameError::Empty)));
        assert!(check_outgoing(&[0; 1024], 1024).is_ok());
    }

    #[tokio::test]
    async fn reader_reports_truncation_and_clean_end() {
        let mut wire = BytesMut::new();
        encode(b"hello", &mut wire);
        let mut clean: &[u8] = &wire;
        let mut reader = FrameReader::new(64);
        assert_eq!(
            reader.next(&mut clean).await.ok().flatten().as_deref(),
            Some(&b"hello"[..])
        );
        assert!(matches!(reader.next(&mut clean).await, Ok(None)));

        let mut cut: &[u8] = &wire[..7];
        let mut reader = FrameReader::new(64);
        assert!(matches!(
            reader.next(&mut cut).await,
            Err(FrameError::Truncated { have: 7, need: 9 })
        ));
    }
}
