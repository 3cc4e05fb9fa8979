//! Admission of inbound connections before they authenticate (P2P-L3), and rate-limited
//! logging of what they do wrong.
//!
//! An inbound connection holds a handshake slot until it has authenticated and been acked,
//! failed, or run out of `handshake_timeout_ms`. Slots are bounded two ways:
//!
//! - per remote IP (`handshakes_per_ip_max`, plus one per configured peer at that IP, so
//!   validators sharing a host never refuse each other), so one host cannot take them all;
//! - connections from an IP that is not a configured peer's share `handshakes_inflight_max`
//!   slots; connections from a configured peer's IP do not use that share, so unauthenticated
//!   clients elsewhere cannot starve validators' reconnects.
//!
//! A connection over either bound is closed at once, never queued: the accept loop keeps
//! accepting, so the kernel's backlog never fills with junk ahead of a validator.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::time::Instant;

/// Remote IPs whose last warning time is remembered at most; past it, entries older than the
/// interval are forgotten, and if none is, further failures are logged at debug only.
pub const LOG_LIMITER_IPS_MAX: usize = 4096;

/// Why an inbound connection was closed before its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its IP already holds `handshakes_per_ip_max` slots.
    PerIp,
    /// All `handshakes_inflight_max` slots for non-peer IPs are taken.
    Busy,
}

#[derive(Default)]
struct Counts {
    per_ip: HashMap<IpAddr, usize>,
    general: usize,
}

pub(crate) struct Admission {
    /// Configured peers per IP.
    peer_ips: HashMap<IpAddr, usize>,
    per_ip_max: usize,
    general_max: usize,
    counts: Mutex<Counts>,
}

/// A handshake slot; released when dropped.
pub(crate) struct HandshakeSlot {
    admission: Arc<Admission>,
    ip: IpAddr,
    general: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// IPv4 peers may reach an IPv6 listener as `::ffff:a.b.c.d`; compare them as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Admission {
    pub(crate) fn new(
        peer_ips: impl IntoIterator<Item = IpAddr>,
        per_ip_max: usize,
        general_max: usize,
    ) -> Arc<Self> {
        let mut per_ip = HashMap::new();
        for ip in peer_ips {
            *per_ip.entry(canonical(ip)).or_insert(0) += 1;
        }
        Arc::new(Self {
            peer_ips: per_ip,
            per_ip_max,
            general_max,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub(crate) fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<HandshakeSlot, Refusal> {
        let ip = canonical(ip);
        let peers_here = self.peer_ips.get(&ip).copied().unwrap_or(0);
        let general = peers_here == 0;
        let mut counts = lock(&self.counts);
        let held = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if held >= self.per_ip_max.saturating_add(peers_here) {
            return Err(Refusal::PerIp);
        }
        if general && counts.general >= self.general_max {
            return Err(Refusal::Busy);
        }
        counts.per_ip.insert(ip, held + 1);
        if general {
            counts.general += 1;
        }
        Ok(HandshakeSlot {
            admission: self.clone(),
            ip,
            general,
        })
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let counts = lock(&self.counts);
        (counts.per_ip.values().sum(), counts.general)
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.admission.counts);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                // no entry outlives its last slot: the map is bounded by the slots held
                counts.per_ip.remove(&self.ip);
            }
        }
        if self.general {
            counts.general -= 1;
        }
    }
}

/// One warning per key per interval; the rest are counted and reported with the next one.
pub(crate) struct LogLimiter {
    interval: Duration,
    last: Mutex<HashMap<IpAddr, (Instant, u64)>>,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(suppressed)` when this event may be logged at warn (with the count of events
    /// from `ip` not logged since the last warning), `None` when it should go to debug.
    pub(crate) fn allow(&self, ip: IpAddr) -> Option<u64> {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut last = lock(&self.last);
        if let Some((at, suppressed)) = last.get_mut(&ip) {
            if now.duration_since(*at) < self.interval {
                *suppressed += 1;
                return None;
            }
            let n = *suppressed;
            *at = now;
            *suppressed = 0;
            return Some(n);
        }
        if last.len() >= LOG_LIMITER_IPS_MAX {
            let interval = self.interval;
            last.retain(|_, (at, _)| now.duration_since(*at) < interval);
            if last.len() >= LOG_LIMITER_IPS_MAX {
                return None;
            }
        }
        last.insert(ip, (now, 0));
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn per_ip_and_general_limits_and_release_on_drop() {
        let adm = Admission::new([ip(1)], 2, 3);
        let a = adm.try_admit(ip(9)).expect("first");
        let _b = adm.try_admit(ip(9)).expect("second");
        assert_eq!(adm.try_admit(ip(9)).err(), Some(Refusal::PerIp));
        let _c = adm.try_admit(ip(8)).expect("third general");
        assert_eq!(adm.try_admit(ip(7)).err(), Some(Refusal::Busy));
        // a configured peer's IP is not in the general share, and its per-IP bound has room
        // for each peer there (one here) on top of the per-IP share
        let p1 = adm.try_admit(ip(1)).expect("peer ip");
        let _p2 = adm.try_admit(ip(1)).expect("peer ip again");
        let _p3 = adm
            .try_admit(ip(1))
            .expect("one more for the one peer at this ip");
        assert_eq!(adm.try_admit(ip(1)).err(), Some(Refusal::PerIp));
        assert_eq!(adm.held(), (6, 3));
        drop(a);
        drop(p1);
        assert_eq!(adm.held(), (4, 2));
        assert!(adm.try_admit(ip(7)).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert!(
            adm.try_admit(mapped).is_ok(),
            "mapped IPv4 is the peer's IP"
        );
    }

    #[test]
    fn one_warning_per_ip_per_interval_with_the_suppressed_count() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let later = |s| t0 + Duration::from_secs(s);
        assert_eq!(limiter.allow_at(ip(1), t0), Some(0));
        assert_eq!(limiter.allow_at(ip(1), later(1)), None);
        assert_eq!(limiter.allow_at(ip(1), later(9)), None);
        assert_eq!(
            limiter.allow_at(ip(2), later(9)),
            Some(0),
            "another IP is not held back"
        );
        assert_eq!(limiter.allow_at(ip(1), later(11)), Some(2));
        assert_eq!(limiter.allow_at(ip(1), later(12)), None);
    }

    #[test]
    fn the_limiter_forgets_old_ips_and_never_grows_past_its_bound() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let many = |i: usize| IpAddr::from((i as u32).to_be_bytes());
        for i in 0..LOG_LIMITER_IPS_MAX {
            assert_eq!(limiter.allow_at(many(i), t0), Some(0));
        }
        assert_eq!(
            limiter.allow_at(many(LOG_LIMITER_IPS_MAX), t0),
            None,
            "full"
        );
        let t1 = t0 + Duration::from_secs(11);
        assert_eq!(
            limiter.allow_at(many(LOG_LIMITER_IPS_MAX), t1),
            Some(0),
            "old ones forgotten"
        );
        assert!(lock(&limiter.last).len() <= LOG_LIMITER_IPS_MAX);
    }
}
