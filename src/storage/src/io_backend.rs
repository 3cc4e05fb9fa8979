//! Durable positional appends to segment files (spec/durability.md §5): io_uring (a write
//! and an fdatasync linked with IO_LINK, one `submit_and_wait`) or std (`pwrite` +
//! `fdatasync`). Both write the same bytes at the same offsets.

use crate::config::IoBackend;
use io_uring::{opcode, squeue, types, IoUring};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// Submission queue size: one append needs two entries.
const RING_ENTRIES: u32 = 4;
/// Largest single write submitted (the opcode takes a u32 length).
const WRITE_CHUNK_BYTES_MAX: usize = 1 << 30;
const USER_DATA_WRITE: u64 = 1;
const USER_DATA_FSYNC: u64 = 2;
/// Consecutive failed waits tolerated while an append is in flight.
const WAIT_FAILURES_MAX: u32 = 1000;

pub enum Appender {
    Uring(Box<UringAppender>),
    Std,
}

impl Appender {
    /// Selects the backend; `Auto` falls back to std when io_uring cannot be used.
    pub fn open(choice: IoBackend) -> io::Result<Self> {
        match choice {
            IoBackend::Std => {
                tracing::info!("segment appends use std pwrite + fdatasync (configured)");
                Ok(Appender::Std)
            }
            IoBackend::IoUring => {
                let ring = UringAppender::new()?;
                tracing::info!("segment appends use io_uring (configured)");
                Ok(Appender::Uring(Box::new(ring)))
            }
            IoBackend::Auto => match UringAppender::new() {
                Ok(ring) => {
                    tracing::info!("segment appends use io_uring (auto)");
                    Ok(Appender::Uring(Box::new(ring)))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "io_uring unavailable; segment appends use std pwrite + fdatasync");
                    Ok(Appender::Std)
                }
            },
        }
    }

    pub fn kind(&self) -> IoBackend {
        match self {
            Appender::Uring(_) => IoBackend::IoUring,
            Appender::Std => IoBackend::Std,
        }
    }

    /// Writes `bytes` at `offset` and returns once they are on stable storage.
    pub fn append_durable(&mut self, file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
        match self {
            Appender::Uring(ring) => ring.append_durable(file, offset, bytes),
            Appender::Std => {
                file.write_all_at(bytes, offset)?;
                file.sync_data()
            }
        }
    }
}

pub struct UringAppender {
    ring: IoUring,
}

impl UringAppender {
    fn new() -> io::Result<Self> {
        let ring = IoUring::new(RING_ENTRIES)?;
        // A kernel can set up a ring yet lack an opcode (IORING_OP_WRITE needs 5.6).
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::Write::CODE) || !probe.is_supported(opcode::Fsync::CODE) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks write or fsync",
            ));
        }
        Ok(UringAppender { ring })
    }

    fn append_durable(&mut self, file: &File, mut offset: u64, mut bytes: &[u8]) -> io::Result<()> {
        let fd = types::Fd(file.as_raw_fd());
        while !bytes.is_empty() {
            let chunk = bytes.len().min(WRITE_CHUNK_BYTES_MAX);
            let write = opcode::Write::new(fd, bytes.as_ptr(), chunk as u32)
                .offset(offset)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(USER_DATA_WRITE);
            let fsync = opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(USER_DATA_FSYNC);
            // SAFETY: `bytes` and `file` outlive both operations: `wait_pair` returns only
            // once both completions are reaped, or with the entries never consumed by the
            // kernel.
            unsafe {
                let mut sq = self.ring.submission();
                sq.push(&write)
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
                sq.push(&fsync)
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            }
            let (written, synced) = self.wait_pair()?;
            let written = written?;
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "io_uring write wrote nothing",
                ));
            }
            match synced {
                Ok(()) => {}
                // A short write severs the link and cancels the fsync; the next round writes
                // the rest and syncs, so the loop ends only after a synced full write.
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) && written < chunk => {}
                Err(e) => return Err(e),
            }
            bytes = &bytes[written..];
            offset += written as u64;
        }
        Ok(())
    }

    /// Waits for both completions of one append; returns (write result, fsync result).
    fn wait_pair(&mut self) -> io::Result<(io::Result<usize>, io::Result<()>)> {
        let mut write = None;
        let mut fsync = None;
        let mut failures = 0u32;
        while write.is_none() || fsync.is_none() {
            let want = usize::from(write.is_none()) + usize::from(fsync.is_none());
            if let Err(e) = self.ring.submit_and_wait(want) {
                if !self.ring.submission().is_empty() {
                    // Not consumed by the kernel: nothing is in flight, so drop them.
                    self.discard_unsubmitted();
                    return Err(e);
                }
                // In flight: the buffer must stay borrowed until they complete, so wait
                // again (EINTR and friends). A ring that keeps failing is not recoverable.
                failures += 1;
                if failures > WAIT_FAILURES_MAX {
                    tracing::error!(error = %e, "io_uring wait keeps failing with an append in flight");
                    std::process::abort();
                }
            }
            for cqe in self.ring.completion() {
                let res = cqe.result();
                let err = || io::Error::from_raw_os_error(-res);
                match cqe.user_data() {
                    USER_DATA_WRITE => {
                        write = Some(if res < 0 {
                            Err(err())
                        } else {
                            Ok(res as usize)
                        })
                    }
                    USER_DATA_FSYNC => fsync = Some(if res < 0 { Err(err()) } else { Ok(()) }),
                    _ => {}
                }
            }
        }
        match (write, fsync) {
            (Some(w), Some(f)) => Ok((w, f)),
            _ => Err(io::Error::other("io_uring completion missing")),
        }
    }

    /// Rebuilds the ring so entries the kernel never saw cannot be submitted later with a
    /// dangling buffer.
    fn discard_unsubmitted(&mut self) {
        match IoUring::new(RING_ENTRIES) {
            Ok(ring) => self.ring = ring,
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild io_uring after a failed submit");
                std::process::abort();
            }
        }
    }
}
