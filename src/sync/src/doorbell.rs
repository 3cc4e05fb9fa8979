//! The hand-off between the transaction pool and the sealer.
//!
//! Admission rings the bell after it has made a transaction ready; the sealer waits on it
//! between blocks. The bell latches: a ring that happens while the sealer is busy is not
//! lost, and many rings collapse into one wake-up. Shutdown also wakes the sealer.
//!
//! Loom-checked: see the crate docs.

use crate::shim::{Arc, Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    rung: bool,
    closed: bool,
}

/// Cloneable handle; all clones share one bell.
#[derive(Debug, Clone, Default)]
pub struct Doorbell {
    inner: Arc<(Mutex<State>, Condvar)>,
}

/// Why `wait` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Rung,
    Closed,
}

impl Doorbell {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn ring(&self) {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        if !st.rung {
            st.rung = true;
            cv.notify_one();
        }
    }

    /// Wakes the waiter for good; later waits return `Closed` at once.
    pub fn close(&self) {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.closed = true;
        cv.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        let (lock, _) = &*self.inner;
        lock.lock().unwrap_or_else(|p| p.into_inner()).closed
    }

    /// Blocks until the bell was rung since the last wait, or it was closed. Consumes the ring.
    pub fn wait(&self) -> Wake {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.closed {
                return Wake::Closed;
            }
            if st.rung {
                st.rung = false;
                return Wake::Rung;
            }
            st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ring_before_wait_is_latched() {
        let bell = Doorbell::new();
        bell.ring();
        bell.ring();
        assert_eq!(bell.wait(), Wake::Rung);
        bell.close();
        assert_eq!(bell.wait(), Wake::Closed);
    }

    #[test]
    fn ring_from_another_thread_wakes_the_waiter() {
        let bell = Doorbell::new();
        let b2 = bell.clone();
        let t = std::thread::spawn(move || b2.wait());
        bell.ring();
        assert_eq!(t.join().unwrap(), Wake::Rung);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// The producer's ring is never lost: whatever the interleaving, the sealer wakes with
    /// `Rung` before it sees `Closed` only if the ring came first, and it always wakes.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let bell = Doorbell::new();
            let producer = bell.clone();
            let t = loom::thread::spawn(move || producer.ring());
            assert_eq!(bell.wait(), Wake::Rung);
            t.join().unwrap();
        });
    }

    #[test]
    fn close_always_wakes() {
        loom::model(|| {
            let bell = Doorbell::new();
            let closer = bell.clone();
            let t = loom::thread::spawn(move || closer.close());
            let w = bell.wait();
            assert_eq!(w, Wake::Closed);
            t.join().unwrap();
        });
    }

    #[test]
    fn two_rings_one_or_two_wakes_never_zero() {
        loom::model(|| {
            let bell = Doorbell::new();
            let p1 = bell.clone();
            let p2 = bell.clone();
            let t1 = loom::thread::spawn(move || p1.ring());
            let t2 = loom::thread::spawn(move || p2.ring());
            assert_eq!(bell.wait(), Wake::Rung);
            t1.join().unwrap();
            t2.join().unwrap();
        });
    }
}
