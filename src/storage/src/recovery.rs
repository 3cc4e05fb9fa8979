//! Recovery at open (spec/durability.md §4, DUR-R1 ... DUR-R6): find the committed end of
//! the segment files from RocksDB's head, refuse to open when a committed block is missing
//! or damaged, and cut off whatever was appended but never committed.

use crate::rocks::{self, CF_BLOCK_INDEX, CF_META, CF_NUMBER_TO_HASH, META_HEAD, META_TOTAL_TX};
use crate::segment::{self, decode_record, segment_file_name, RecordLocation, SegmentSet};
use crate::traits::StorageError;
use bcos_types::{Block, B256};
use rocksdb::DB;
use std::fs::{File, OpenOptions};
use std::path::Path;

/// What `open` continues from.
#[derive(Debug)]
pub struct Recovered {
    pub head: Option<(u64, B256)>,
    pub total_tx: u64,
    /// Segment files `0..segment_count` stay; appends continue in the last.
    pub segment_count: u32,
    pub tail_bytes: u64,
}

fn corrupt(msg: String) -> StorageError {
    StorageError::Corrupt(msg)
}

pub fn block_location(db: &DB, number: u64) -> Result<Option<RecordLocation>, StorageError> {
    let cf = rocks::cf(db, CF_BLOCK_INDEX)?;
    match db
        .get_pinned_cf(cf, rocks::number_key(number))
        .map_err(rocks::db_err)?
    {
        None => Ok(None),
        Some(v) => RecordLocation::decode(&v)
            .map(Some)
            .ok_or_else(|| corrupt(format!("block_index entry of block {number} is malformed"))),
    }
}

pub fn recover(
    db: &DB,
    blocks_dir: &Path,
    verify_tail_blocks: u64,
) -> Result<Recovered, StorageError> {
    // DUR-R1: the committed head and counters are what RocksDB says.
    let meta = rocks::cf(db, CF_META)?;
    let head = match db.get_pinned_cf(meta, META_HEAD).map_err(rocks::db_err)? {
        Some(v) => Some(rocks::decode_head(&v)?),
        None => None,
    };
    let total_tx = match db
        .get_pinned_cf(meta, META_TOTAL_TX)
        .map_err(rocks::db_err)?
    {
        Some(v) => rocks::decode_u64(&v, "total tx count")?,
        None => 0,
    };

    // DUR-R2: segment ids are contiguous from 0.
    let ids = segment::list_segments(blocks_dir)?;
    for (expect, id) in ids.iter().enumerate() {
        if *id != expect as u32 {
            return Err(corrupt(format!(
                "segment file {} is missing from {} (found {})",
                segment_file_name(expect as u32),
                blocks_dir.display(),
                segment_file_name(*id)
            )));
        }
    }
    let files: Vec<File> = ids
        .iter()
        .map(|id| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(blocks_dir.join(segment_file_name(*id)))
        })
        .collect::<Result<_, _>>()?;

    // DUR-R3: the committed end is the end of the head block's record; it must exist.
    let committed_end = match head {
        None => None,
        Some((number, _)) => {
            let loc = block_location(db, number)?
                .ok_or_else(|| corrupt(format!("head block {number} has no block_index entry")))?;
            let file = files.get(loc.segment as usize).ok_or_else(|| {
                corrupt(format!(
                    "head block {number} is in {}, which does not exist",
                    segment_file_name(loc.segment)
                ))
            })?;
            let len = file.metadata()?.len();
            if len < loc.end() {
                return Err(corrupt(format!(
                    "committed block {number} ends at byte {} of {} but the file has {len} bytes",
                    loc.end(),
                    segment_file_name(loc.segment)
                )));
            }
            Some(loc)
        }
    };

    // DUR-R4: re-read the newest committed blocks before touching anything.
    if let Some((number, _)) = head {
        let first = number.saturating_sub(verify_tail_blocks.saturating_sub(1));
        if verify_tail_blocks > 0 {
            for n in first..=number {
                verify_committed(db, &files, n)?;
            }
        }
    }

    // DUR-R5: everything after the committed end was appended but never committed.
    let (seg, offset) = committed_end.map_or((0, 0), |l| (l.segment as usize, l.end()));
    let mut uncommitted_records = 0usize;
    let mut torn_bytes = 0u64;
    for (i, file) in files.iter().enumerate().skip(seg) {
        let start = if i == seg { offset } else { 0 };
        let (records, torn) = scan(file, start)?;
        uncommitted_records += records;
        torn_bytes += torn;
    }
    if head.is_none() && uncommitted_records > 1 {
        // The commit order leaves at most one record without state; many records and an
        // empty database means the database was lost, not a crash.
        return Err(corrupt(format!(
            "the state database is empty but {} holds {uncommitted_records} block records; refusing to discard them",
            blocks_dir.display()
        )));
    }
    if uncommitted_records > 0 || torn_bytes > 0 {
        tracing::warn!(
            uncommitted_records,
            torn_bytes,
            head = ?head.map(|h| h.0),
            "truncating segment data past the committed head (appended, never committed)"
        );
    }

    // DUR-R6: cut the tail back to the committed end, durably, and drop later segments.
    if let Some(file) = files.get(seg) {
        if file.metadata()?.len() != offset {
            file.set_len(offset)?;
            file.sync_all()?;
        }
    }
    let keep = if files.is_empty() { 0 } else { seg + 1 };
    if ids.len() > keep {
        for id in &ids[keep..] {
            std::fs::remove_file(blocks_dir.join(segment_file_name(*id)))?;
        }
        segment::sync_dir(blocks_dir)?;
    }
    Ok(Recovered {
        head,
        total_tx,
        segment_count: keep as u32,
        tail_bytes: offset,
    })
}

/// DUR-R4 for one block: record present, crc ok, right number, decodes, hash matches.
fn verify_committed(db: &DB, files: &[File], number: u64) -> Result<(), StorageError> {
    let loc = block_location(db, number)?
        .ok_or_else(|| corrupt(format!("committed block {number} has no block_index entry")))?;
    let name = segment_file_name(loc.segment);
    let file = files.get(loc.segment as usize).ok_or_else(|| {
        corrupt(format!(
            "committed block {number} is in {name}, which does not exist"
        ))
    })?;
    let len = file.metadata()?.len();
    let bytes = SegmentSet::read_at_unchecked(file, loc.offset, len).map_err(|e| {
        corrupt(format!(
            "committed block {number} at {name}:{}: {e}",
            loc.offset
        ))
    })?;
    let record = decode_record(&bytes).map_err(|e| {
        corrupt(format!(
            "committed block {number} at {name}:{}: {e}",
            loc.offset
        ))
    })?;
    if record.number != number || record.total_bytes() != loc.length as usize {
        return Err(corrupt(format!(
            "record at {name}:{} holds block {} ({} bytes), index says block {number} ({} bytes)",
            loc.offset,
            record.number,
            record.total_bytes(),
            loc.length
        )));
    }
    let block = Block::decode_bytes(record.payload).map_err(|e| {
        corrupt(format!(
            "committed block {number} at {name}:{} does not decode: {e}",
            loc.offset
        ))
    })?;
    let cf = rocks::cf(db, CF_NUMBER_TO_HASH)?;
    let indexed = db
        .get_pinned_cf(cf, rocks::number_key(number))
        .map_err(rocks::db_err)?
        .ok_or_else(|| {
            corrupt(format!(
                "committed block {number} has no number_to_hash entry"
            ))
        })?;
    if indexed.as_ref() != block.hash().as_slice() {
        return Err(corrupt(format!(
            "committed block {number} at {name}:{} hashes differently from the index",
            loc.offset
        )));
    }
    Ok(())
}

/// Counts the whole records from `start` to the end of `file` and the bytes after the last.
fn scan(file: &File, start: u64) -> Result<(usize, u64), StorageError> {
    let len = file.metadata()?.len();
    let mut at = start;
    let mut records = 0;
    while at < len {
        match SegmentSet::read_at_unchecked(file, at, len)
            .and_then(|b| decode_record(&b).map(|r| r.total_bytes()))
        {
            Ok(n) => {
                records += 1;
                at += n as u64;
            }
            Err(_) => break,
        }
    }
    Ok((records, len.saturating_sub(at)))
}
