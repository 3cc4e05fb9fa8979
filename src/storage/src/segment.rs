//! Block segment files: the record codec (spec/durability.md §1) and the set of
//! `blocks/seg-<id:08>.dat` files that records are appended to.
//!
//! Record layout (little-endian):
//!
//! ```text
//! magic "BCSR" (4) | payload_len u32 (4) | block_number u64 (8) | crc32 u32 (4) | payload
//! crc32 = CRC-32/ISO-HDLC over payload_len ‖ block_number ‖ payload
//! ```

use crate::io_backend::Appender;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const RECORD_MAGIC: [u8; 4] = *b"BCSR";
pub const RECORD_HEADER_BYTES: usize = 20;

/// Why bytes at a record position are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record truncated: {have} of {need} bytes present")]
    Truncated { have: usize, need: usize },
    #[error("bad record magic")]
    BadMagic,
    #[error("record checksum mismatch")]
    Checksum,
    #[error("payload of {0} bytes does not fit a record")]
    TooLarge(usize),
}

/// A record decoded from a buffer that starts at its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub number: u64,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Header plus payload.
    pub fn total_bytes(&self) -> usize {
        RECORD_HEADER_BYTES + self.payload.len()
    }
}

fn checksum(len_bytes: &[u8; 4], number_bytes: &[u8; 8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len_bytes);
    h.update(number_bytes);
    h.update(payload);
    h.finalize()
}

/// Reserves a record header at the end of `out`; the caller then appends the payload and
/// calls [`finish_record`]. Lets the block be encoded straight into the record buffer.
pub fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    start
}

/// Fills the header reserved by [`begin_record`] at `start` for the payload after it.
pub fn finish_record(out: &mut [u8], start: usize, number: u64) -> Result<(), RecordError> {
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let len = u32::try_from(payload_len).map_err(|_| RecordError::TooLarge(payload_len))?;
    let len_bytes = len.to_le_bytes();
    let number_bytes = number.to_le_bytes();
    let (head, payload) = out[start..].split_at_mut(RECORD_HEADER_BYTES);
    let crc = checksum(&len_bytes, &number_bytes, payload);
    head[0..4].copy_from_slice(&RECORD_MAGIC);
    head[4..8].copy_from_slice(&len_bytes);
    head[8..16].copy_from_slice(&number_bytes);
    head[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// One whole record for `payload`.
pub fn encode_record(number: u64, payload: &[u8]) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
    let start = begin_record(&mut out);
    out.extend_from_slice(payload);
    finish_record(&mut out, start, number)?;
    Ok(out)
}

/// The payload length a header announces (no checksum check), for sizing reads.
pub fn peek_payload_len(header: &[u8]) -> Result<usize, RecordError> {
    if header.len() < RECORD_HEADER_BYTES {
        return Err(RecordError::Truncated {
            have: header.len(),
            need: RECORD_HEADER_BYTES,
        });
    }
    if header[0..4] != RECORD_MAGIC {
        return Err(RecordError::BadMagic);
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[4..8]);
    Ok(u32::from_le_bytes(len) as usize)
}

/// Decodes the record at the start of `buf`; bytes after it are left alone.
pub fn decode_record(buf: &[u8]) -> Result<Record<'_>, RecordError> {
    let payload_len = peek_payload_len(buf)?;
    let need = RECORD_HEADER_BYTES + payload_len;
    if buf.len() < need {
        return Err(RecordError::Truncated {
            have: buf.len(),
            need,
        });
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&buf[4..8]);
    let mut number_bytes = [0u8; 8];
    number_bytes.copy_from_slice(&buf[8..16]);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(&buf[16..20]);
    let payload = &buf[RECORD_HEADER_BYTES..need];
    if checksum(&len_bytes, &number_bytes, payload) != u32::from_le_bytes(crc_bytes) {
        return Err(RecordError::Checksum);
    }
    Ok(Record {
        number: u64::from_le_bytes(number_bytes),
        payload,
    })
}

/// Where a record sits: what `block_index` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLocation {
    pub segment: u32,
    pub offset: u64,
    /// Header plus payload.
    pub length: u32,
}

impl RecordLocation {
    pub const ENCODED_BYTES: usize = 16;

    pub fn encode(&self) -> [u8; Self::ENCODED_BYTES] {
        let mut out = [0u8; Self::ENCODED_BYTES];
        out[0..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..12].copy_from_slice(&self.offset.to_be_bytes());
        out[12..16].copy_from_slice(&self.length.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_BYTES {
            return None;
        }
        let mut seg = [0u8; 4];
        seg.copy_from_slice(&bytes[0..4]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&bytes[4..12]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[12..16]);
        Some(RecordLocation {
            segment: u32::from_be_bytes(seg),
            offset: u64::from_be_bytes(off),
            length: u32::from_be_bytes(len),
        })
    }

    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.length)
    }
}

pub fn segment_file_name(id: u32) -> String {
    format!("seg-{id:08}.dat")
}

/// The segment id a file name stands for, if it is a segment file.
pub fn parse_segment_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".dat")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment ids present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// fsync a directory so that file creations and removals in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The writer's side of the segment files: the backend and the append position in the
/// last segment. Held under the store's commit lock.
pub struct AppendState {
    pub appender: Appender,
    pub tail_bytes: u64,
}

/// The open segment files: all readable (concurrently with appends), the last one
/// appended to.
pub struct SegmentSet {
    dir: PathBuf,
    /// Indexed by segment id; ids are contiguous from 0.
    files: parking_lot::RwLock<Vec<Arc<File>>>,
    segment_bytes_max: u64,
}

impl SegmentSet {
    /// Opens segments `0..count`, creating segment 0 when `count` is 0.
    pub fn open(dir: &Path, count: u32, segment_bytes_max: u64) -> io::Result<Self> {
        let mut files = Vec::with_capacity(count as usize);
        for id in 0..count.max(1) {
            let path = dir.join(segment_file_name(id));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            files.push(Arc::new(file));
        }
        if count == 0 {
            sync_dir(dir)?;
        }
        Ok(SegmentSet {
            dir: dir.to_path_buf(),
            files: parking_lot::RwLock::new(files),
            segment_bytes_max,
        })
    }

    fn file(&self, id: u32) -> Option<Arc<File>> {
        self.files.read().get(id as usize).cloned()
    }

    /// Appends one encoded record durably (DUR-1) and says where it went.
    pub fn append(&self, w: &mut AppendState, record: &[u8]) -> io::Result<RecordLocation> {
        let length = u32::try_from(record.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record larger than 4 GiB"))?;
        if w.tail_bytes > 0 && w.tail_bytes + record.len() as u64 > self.segment_bytes_max {
            self.rotate(w)?;
        }
        let (segment, file) = {
            let files = self.files.read();
            let last = files.len() - 1;
            (last as u32, files[last].clone())
        };
        w.appender.append_durable(&file, w.tail_bytes, record)?;
        let loc = RecordLocation {
            segment,
            offset: w.tail_bytes,
            length,
        };
        w.tail_bytes += record.len() as u64;
        Ok(loc)
    }

    fn rotate(&self, w: &mut AppendState) -> io::Result<()> {
        let next = self.files.read().len() as u32;
        let path = self.dir.join(segment_file_name(next));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // The new file's directory entry must be durable before a record in it counts as
        // durable.
        sync_dir(&self.dir)?;
        self.files.write().push(Arc::new(file));
        w.tail_bytes = 0;
        Ok(())
    }

    pub fn segment_count(&self) -> usize {
        self.files.read().len()
    }

    /// Reads the record at `loc` (header and payload) with one pread.
    pub fn read(&self, loc: RecordLocation) -> io::Result<Vec<u8>> {
        let file = self.file(loc.segment).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("segment {} is not open", loc.segment),
            )
        })?;
        let mut buf = vec![0u8; loc.length as usize];
        file.read_exact_at(&mut buf, loc.offset)?;
        Ok(buf)
    }

    /// Reads a record with only the header's own length to go by (recovery scans).
    pub fn read_at_unchecked(
        file: &File,
        offset: u64,
        file_bytes: u64,
    ) -> Result<Vec<u8>, RecordError> {
        let avail = file_bytes.saturating_sub(offset) as usize;
        let mut head = vec![0u8; RECORD_HEADER_BYTES.min(avail)];
        if file.read_exact_at(&mut head, offset).is_err() {
            return Err(RecordError::Truncated {
                have: 0,
                need: RECORD_HEADER_BYTES,
            });
        }
        let payload_len = peek_payload_len(&head)?;
        let need = RECORD_HEADER_BYTES + payload_len;
        if avail < need {
            return Err(RecordError::Truncated { have: avail, need });
        }
        let mut buf = vec![0u8; need];
        if file.read_exact_at(&mut buf, offset).is_err() {
            return Err(RecordError::Truncated { have: 0, need });
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn record_round_trips(number in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), extra in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut bytes = encode_record(number, &payload).expect("valid");
            prop_assert_eq!(bytes.len(), RECORD_HEADER_BYTES + payload.len());
            let rec = decode_record(&bytes).expect("valid");
            prop_assert_eq!(rec.number, number);
            prop_assert_eq!(rec.payload, &payload[..]);
            prop_assert_eq!(rec.total_bytes(), bytes.len());
            // Bytes after a record (the next record, or garbage) do not change it.
            bytes.extend_from_slice(&extra);
            let rec = decode_record(&bytes).expect("valid");
            prop_assert_eq!(rec.payload, &payload[..]);
        }

        #[test]
        fn truncated_record_is_detected(number in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
            let bytes = encode_record(number, &payload).expect("valid");
            let cut = cut.index(bytes.len());
            prop_assert!(decode_record(&bytes[..cut]).is_err());
        }

        #[test]
        fn any_flipped_bit_is_detected(number in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = encode_record(number, &payload).expect("valid");
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
            // A flip in the length field may also make the record look truncated.
            prop_assert!(decode_record(&bytes).is_err());
        }

        #[test]
        fn location_round_trips(segment in any::<u32>(), offset in any::<u64>(), length in any::<u32>()) {
            let loc = RecordLocation { segment, offset, length };
            prop_assert_eq!(RecordLocation::decode(&loc.encode()), Some(loc));
        }
    }

    #[test]
    fn zeroed_bytes_are_not_a_record() {
        assert_eq!(decode_record(&[0u8; 64]), Err(RecordError::BadMagic));
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_file_name(7), "seg-00000007.dat");
        assert_eq!(parse_segment_file_name("seg-00000007.dat"), Some(7));
        assert_eq!(parse_segment_file_name("seg-7.dat"), None);
        assert_eq!(parse_segment_file_name("seg-0000000x.dat"), None);
    }
}
