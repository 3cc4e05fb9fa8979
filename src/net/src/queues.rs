//! The transport's queues, bounded in frames and in bytes per peer (P2P-L1, P2P-L2).
//!
//! - Send: one queue per peer holds at most `send_queue_frames_max` frames and
//!   `send_queue_bytes_max` payload bytes. A frame over either bound is dropped and counted;
//!   nothing waits. The writer gives up a write after `write_timeout_ms` (see `peer.rs`).
//! - Receive: each peer's frames not yet taken by the consumer hold permits of that peer's
//!   two semaphores (one per frame, one per payload byte). A reader that cannot get permits
//!   stops reading, which pushes back on that peer's TCP connection only, so a flooding peer
//!   fills its own budget and never the others'. The shared channel to the consumer has room
//!   for every permit, so sending into it never waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::config::PeerIndex;

/// Why a frame was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    Frames,
    Bytes,
    Closed,
}

/// The sending end of one peer's queue.
pub(crate) struct SendQueue {
    tx: mpsc::Sender<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
    bytes_max: usize,
}

/// The writer's end: taking a frame releases its bytes.
pub(crate) struct SendQueueRx {
    rx: mpsc::Receiver<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
}

pub(crate) fn send_queue(frames_max: usize, bytes_max: usize) -> (SendQueue, SendQueueRx) {
    let (tx, rx) = mpsc::channel(frames_max);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        SendQueue {
            tx,
            queued_bytes: queued_bytes.clone(),
            bytes_max,
        },
        SendQueueRx { rx, queued_bytes },
    )
}

impl SendQueue {
    pub(crate) fn push(&self, frame: Bytes) -> Result<(), Dropped> {
        let len = frame.len();
        // reserve the bytes first so concurrent senders can never overshoot together
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > self.bytes_max {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(Dropped::Bytes);
        }
        match self.tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => Dropped::Frames,
                    mpsc::error::TrySendError::Closed(_) => Dropped::Closed,
                })
            }
        }
    }

    /// Payload bytes queued and not yet taken by the writer.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }
}

impl SendQueueRx {
    fn taken(&self, frame: &Bytes) {
        self.queued_bytes.fetch_sub(frame.len(), Ordering::AcqRel);
    }

    pub(crate) async fn recv(&mut self) -> Option<Bytes> {
        let frame = self.rx.recv().await?;
        self.taken(&frame);
        Some(frame)
    }

    pub(crate) fn try_recv(&mut self) -> Option<Bytes> {
        let frame = self.rx.try_recv().ok()?;
        self.taken(&frame);
        Some(frame)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

/// One peer's receive budget.
#[derive(Clone)]
pub(crate) struct RecvBudget {
    frames: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    bytes_max: usize,
}

/// Permits a delivered frame holds until the consumer takes it.
pub(crate) struct RecvPermits {
    _frame: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

impl RecvBudget {
    pub(crate) fn new(frames_max: usize, bytes_max: usize) -> Self {
        Self {
            frames: Arc::new(Semaphore::new(frames_max)),
            bytes: Arc::new(Semaphore::new(bytes_max)),
            bytes_max,
        }
    }

    /// Payload bytes delivered and not yet taken by the consumer.
    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes_max
            .saturating_sub(self.bytes.available_permits())
    }

    /// Waits until a frame of `len` bytes fits. `len` is at most `frame_bytes_max`, which
    /// `NetConfig::check` keeps within the byte budget (and below `u32::MAX`), so this ends
    /// once the consumer takes enough frames; `None` only if the budget was closed.
    pub(crate) async fn acquire(&self, len: usize) -> Option<RecvPermits> {
        let frame = self.frames.clone().acquire_owned().await.ok()?;
        let len = u32::try_from(len).ok()?;
        let bytes = self.bytes.clone().acquire_many_owned(len).await.ok()?;
        Some(RecvPermits {
            _frame: frame,
            _bytes: bytes,
        })
    }
}

/// Per-peer receive budgets and the channel to the consumer.
pub(crate) struct Delivery {
    pub(crate) budgets: HashMap<PeerIndex, RecvBudget>,
    pub(crate) tx: mpsc::Sender<Delivered>,
}

pub(crate) struct Delivered {
    peer: PeerIndex,
    frame: Bytes,
    _permits: RecvPermits,
}

impl Delivered {
    pub(crate) fn new(peer: PeerIndex, frame: Bytes, permits: RecvPermits) -> Self {
        Self {
            peer,
            frame,
            _permits: permits,
        }
    }
}

pub(crate) fn delivery(
    peers: impl IntoIterator<Item = PeerIndex>,
    frames_max: usize,
    bytes_max: usize,
) -> (Delivery, Inbound) {
    let budgets: HashMap<_, _> = peers
        .into_iter()
        .map(|p| (p, RecvBudget::new(frames_max, bytes_max)))
        .collect();
    // room for every frame permit of every peer: a send never waits
    let capacity = frames_max.saturating_mul(budgets.len()).max(1);
    let (tx, rx) = mpsc::channel(capacity);
    (Delivery { budgets, tx }, Inbound { rx })
}

/// The frames received from all peers, as `(sender index, payload)`. Taking a frame frees
/// its place in the sender's receive budget.
pub struct Inbound {
    rx: mpsc::Receiver<Delivered>,
}

impl Inbound {
    /// The next frame; `None` once the network has stopped.
    pub async fn recv(&mut self) -> Option<(PeerIndex, Bytes)> {
        self.rx.recv().await.map(|d| (d.peer, d.frame))
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Result<(PeerIndex, Bytes), mpsc::error::TryRecvError> {
        self.rx.try_recv().map(|d| (d.peer, d.frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn send_queue_bounds_frames_and_bytes_and_releases_on_take() {
        let (q, mut rx) = send_queue(3, 10);
        assert_eq!(q.push(Bytes::from_static(b"123456")), Ok(()));
        assert_eq!(q.push(Bytes::from_static(b"12345")), Err(Dropped::Bytes));
        assert_eq!(q.push(Bytes::from_static(b"1234")), Ok(()));
        assert_eq!(q.queued_bytes(), 10);
        assert_eq!(rx.recv().await.as_deref(), Some(&b"123456"[..]));
        assert_eq!(q.queued_bytes(), 4);
        assert_eq!(q.push(Bytes::from_static(b"1")), Ok(()));
        assert_eq!(q.push(Bytes::from_static(b"1")), Ok(()));
        assert_eq!(q.push(Bytes::from_static(b"1")), Err(Dropped::Frames));
        assert_eq!(
            q.queued_bytes(),
            6,
            "a frame refused for count holds no bytes"
        );
        while rx.try_recv().is_some() {}
        assert_eq!(q.queued_bytes(), 0);
        drop(rx);
        assert_eq!(q.push(Bytes::from_static(b"1")), Err(Dropped::Closed));
        assert_eq!(q.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn a_peer_over_its_receive_budget_waits_until_the_consumer_takes_its_frames() {
        let (delivery, mut inbound) = delivery([1, 2], 2, 10);
        let budget = |p| delivery.budgets.get(&p).cloned().expect("peer");
        let send = |p: PeerIndex, len: usize, permits| {
            delivery
                .tx
                .try_send(Delivered::new(p, Bytes::from(vec![p as u8; len]), permits))
                .map_err(|_| "channel full")
        };
        send(1, 8, budget(1).acquire(8).await.expect("fits")).expect("sent");
        // peer 1 has 2 bytes left: a 3-byte frame waits; peer 2 is unaffected
        let waiting = tokio::spawn({
            let b = budget(1);
            async move { b.acquire(3).await.is_some() }
        });
        send(2, 10, budget(2).acquire(10).await.expect("own budget")).expect("sent");
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(
            inbound.recv().await.map(|(p, b)| (p, b.len())),
            Some((1, 8))
        );
        assert!(waiting.await.expect("task"), "freed by the take");
        assert_eq!(inbound.try_recv().map(|(p, _)| p), Ok(2));
    }
}
