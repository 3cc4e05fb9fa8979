//! One group's AMOP router: its local subscribers, which peers have subscribers of which
//! topics, and the requests in flight. Messages go over the group's P2P links to the nodes
//! that have subscribers and never touch the chain.
//!
//! Bounds: each subscription queues at most `queue_per_subscriber_max` messages and
//! `queue_per_subscriber_bytes_max` bytes, a topic's subscriptions together
//! `queue_per_topic_bytes_max`, all of them together `queued_bytes_max`; a
//! message past a bound is dropped for that subscriber only and counted. Requests waiting
//! (from here or for a peer) are at most `pending_requests_max`.

use super::config::AmopConfig;
use super::private::{random_b256, PrivateTopics};
use super::wire::AmopWire;
use bcos_rpc::amop::{AmopAuth, AmopEvent, AmopFeed, AmopKind};
use bcos_rpc::ApiError;
use bcos_types::{Bytes, B256};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How the router reaches the group's other nodes (their consensus positions).
pub trait AmopNet: Send + Sync {
    fn send(&self, peer: u32, frame: Bytes) -> bool;
    fn peers(&self) -> Vec<u32>;
}

/// Counters for `bcos_getNodeInfo`.
#[derive(Debug, Default)]
pub struct AmopCounters {
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    /// Messages a slow subscriber lost to its queue bounds.
    pub dropped_slow: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub timeouts: AtomicU64,
    pub undecodable: AtomicU64,
}

struct LocalSub {
    id: u64,
    tx: mpsc::Sender<AmopEvent>,
    queued_bytes: Arc<AtomicUsize>,
    /// Shared by the topic's subscriptions on this node.
    topic_bytes: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
}

struct Peer {
    topics: BTreeSet<String>,
    seen: Instant,
}

/// A request delivered to a local subscriber, waiting for `amop_respond`.
struct Delivered {
    /// Who asked: a peer, or this node (None).
    origin: Option<u32>,
    at: Instant,
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    Local(u64),
    Peer(u32),
}

pub(crate) enum Reply {
    Data(Bytes),
    NoSubscriber,
}

#[derive(Default)]
struct State {
    local: BTreeMap<String, Vec<LocalSub>>,
    peers: BTreeMap<u32, Peer>,
    /// Requests this node sent, by id.
    waiting: HashMap<B256, oneshot::Sender<Reply>>,
    delivered: HashMap<B256, Delivered>,
    private: Option<PrivateTopics>,
    next_sub: u64,
}

pub struct Router {
    pub(crate) cfg: AmopConfig,
    net: Mutex<Option<Arc<dyn AmopNet>>>,
    state: Mutex<State>,
    queued_bytes: Arc<AtomicUsize>,
    pub counters: AmopCounters,
    /// Rotates the choice of a request's target (spreads load).
    next_pick: AtomicUsize,
    /// When the topics were last announced.
    announced: Mutex<Option<Instant>>,
}

/// Gives a delivered message's bytes back to the bounds when the RPC layer is done with it.
struct Budget {
    bytes: usize,
    sub: Arc<AtomicUsize>,
    topic: Arc<AtomicUsize>,
    all: Arc<AtomicUsize>,
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.sub.fetch_sub(self.bytes, Relaxed);
        self.topic.fetch_sub(self.bytes, Relaxed);
        self.all.fetch_sub(self.bytes, Relaxed);
    }
}

/// Unsubscribes when the RPC subscription ends.
struct SubGuard {
    router: Arc<Router>,
    topic: String,
    id: u64,
}

impl Drop for SubGuard {
    fn drop(&mut self) {
        self.router.unsubscribe(&self.topic, self.id);
    }
}

impl Router {
    pub fn new(cfg: AmopConfig) -> Arc<Router> {
        let private = PrivateTopics::new(&cfg);
        Arc::new(Router {
            cfg,
            net: Mutex::new(None),
            state: Mutex::new(State {
                private: Some(private),
                ..Default::default()
            }),
            queued_bytes: Arc::new(AtomicUsize::new(0)),
            counters: AmopCounters::default(),
            next_pick: AtomicUsize::new(0),
            announced: Mutex::new(None),
        })
    }

    /// Connects the router to the group's peers (a cluster node; a dev node has none).
    pub fn attach(&self, net: Arc<dyn AmopNet>) {
        *self.net.lock() = Some(net);
    }

    fn net(&self) -> Option<Arc<dyn AmopNet>> {
        self.net.lock().clone()
    }

    fn check_topic(&self, topic: &str) -> Result<(), ApiError> {
        if topic.is_empty() || topic.len() > self.cfg.topic_bytes_max {
            return Err(ApiError::InvalidParams(format!(
                "a topic is 1 to {} bytes, not {}",
                self.cfg.topic_bytes_max,
                topic.len()
            )));
        }
        Ok(())
    }

    fn check_data(&self, data: &Bytes) -> Result<(), ApiError> {
        if data.len() > self.cfg.data_bytes_max {
            return Err(ApiError::InvalidParams(format!(
                "AMOP data is at most {} bytes, not {}",
                self.cfg.data_bytes_max,
                data.len()
            )));
        }
        Ok(())
    }

    pub fn subscribe(
        self: &Arc<Self>,
        topic: &str,
        auth: Option<AmopAuth>,
    ) -> Result<AmopFeed, ApiError> {
        self.check_topic(topic)?;
        let (tx, rx) = mpsc::channel(self.cfg.queue_per_subscriber_max);
        let id = {
            let mut s = self.state.lock();
            if let Some(p) = s.private.as_mut() {
                p.admit(topic, auth.as_ref(), Instant::now())?;
            }
            if !s.local.contains_key(topic) && s.local.len() >= self.cfg.topics_max {
                return Err(ApiError::Unavailable(format!(
                    "too many AMOP topics on this node (limit {})",
                    self.cfg.topics_max
                )));
            }
            let subs = s.local.entry(topic.to_string()).or_default();
            if subs.len() >= self.cfg.subscribers_per_topic_max {
                return Err(ApiError::Unavailable(format!(
                    "too many subscribers of {topic:?} on this node (limit {})",
                    self.cfg.subscribers_per_topic_max
                )));
            }
            let topic_bytes = subs
                .first()
                .map(|x| x.topic_bytes.clone())
                .unwrap_or_default();
            s.next_sub += 1;
            let id = s.next_sub;
            s.local
                .get_mut(topic)
                .expect("inserted above")
                .push(LocalSub {
                    id,
                    tx,
                    queued_bytes: Arc::new(AtomicUsize::new(0)),
                    topic_bytes,
                    dropped: Arc::new(AtomicU64::new(0)),
                });
            id
        };
        self.announce();
        Ok(AmopFeed {
            events: rx,
            guard: Box::new(SubGuard {
                router: self.clone(),
                topic: topic.to_string(),
                id,
            }),
        })
    }

    fn unsubscribe(&self, topic: &str, id: u64) {
        let changed = {
            let mut s = self.state.lock();
            let Some(subs) = s.local.get_mut(topic) else {
                return;
            };
            subs.retain(|x| x.id != id);
            if subs.is_empty() {
                s.local.remove(topic);
                true
            } else {
                false
            }
        };
        if changed {
            self.announce();
        }
    }

    /// Queues an event for one subscriber within the bounds; false (counted) if it is full.
    fn offer(&self, sub: &LocalSub, kind: AmopKind, id: B256, topic: &str, data: &Bytes) -> bool {
        let n = data.len();
        let over_sub = sub.queued_bytes.load(Relaxed).saturating_add(n)
            > self.cfg.queue_per_subscriber_bytes_max;
        let over_topic =
            sub.topic_bytes.load(Relaxed).saturating_add(n) > self.cfg.queue_per_topic_bytes_max;
        let over_all =
            self.queued_bytes.load(Relaxed).saturating_add(n) > self.cfg.queued_bytes_max;
        if over_sub || over_topic || over_all {
            sub.dropped.fetch_add(1, Relaxed);
            self.counters.dropped_slow.fetch_add(1, Relaxed);
            return false;
        }
        sub.queued_bytes.fetch_add(n, Relaxed);
        sub.topic_bytes.fetch_add(n, Relaxed);
        self.queued_bytes.fetch_add(n, Relaxed);
        let event = AmopEvent {
            kind,
            id,
            topic: topic.to_string(),
            data: data.clone(),
            budget: Box::new(Budget {
                bytes: n,
                sub: sub.queued_bytes.clone(),
                topic: sub.topic_bytes.clone(),
                all: self.queued_bytes.clone(),
            }),
        };
        // A failed send drops the event, and with it its budget.
        if sub.tx.try_send(event).is_err() {
            sub.dropped.fetch_add(1, Relaxed);
            self.counters.dropped_slow.fetch_add(1, Relaxed);
            return false;
        }
        self.counters.delivered.fetch_add(1, Relaxed);
        true
    }

    fn deliver_local(&self, topic: &str, data: &Bytes) -> u64 {
        let s = self.state.lock();
        let Some(subs) = s.local.get(topic) else {
            return 0;
        };
        subs.iter()
            .filter(|sub| self.offer(sub, AmopKind::Message, random_b256(), topic, data))
            .count() as u64
    }

    /// The peers that announced subscribers of `topic` and are not silent too long.
    fn peers_with(&self, s: &State, topic: &str, now: Instant) -> Vec<u32> {
        let silent = self.peer_ttl();
        s.peers
            .iter()
            .filter(|(_, p)| now.duration_since(p.seen) < silent && p.topics.contains(topic))
            .map(|(n, _)| *n)
            .collect()
    }

    fn peer_ttl(&self) -> Duration {
        Duration::from_millis(self.cfg.announce_interval_ms.saturating_mul(3))
    }

    pub fn publish(&self, topic: &str, data: Bytes) -> Result<(u64, u64), ApiError> {
        self.check_topic(topic)?;
        self.check_data(&data)?;
        self.counters.published.fetch_add(1, Relaxed);
        let local = self.deliver_local(topic, &data);
        let peers = self.peers_with(&self.state.lock(), topic, Instant::now());
        let mut nodes = 0;
        if let Some(net) = self.net() {
            let frame = AmopWire::Publish {
                topic: topic.to_string(),
                data,
            }
            .encode();
            for p in peers {
                if net.send(p, frame.clone()) {
                    nodes += 1;
                }
            }
        }
        Ok((local, nodes))
    }

    /// Candidates for a request to `topic` not tried yet, starting at a rotating offset.
    pub(crate) fn targets(&self, topic: &str, tried: &BTreeSet<Target>) -> Vec<Target> {
        let s = self.state.lock();
        let mut all: Vec<Target> = s
            .local
            .get(topic)
            .map(|subs| subs.iter().map(|x| Target::Local(x.id)).collect())
            .unwrap_or_default();
        all.extend(
            self.peers_with(&s, topic, Instant::now())
                .into_iter()
                .map(Target::Peer),
        );
        all.retain(|t| !tried.contains(t));
        if !all.is_empty() {
            let k = self.next_pick.fetch_add(1, Relaxed) % all.len();
            all.rotate_left(k);
        }
        all
    }

    /// Whether `target` can still answer a request to `topic`.
    pub(crate) fn alive(&self, target: Target, topic: &str) -> bool {
        let s = self.state.lock();
        match target {
            Target::Local(id) => s
                .local
                .get(topic)
                .is_some_and(|subs| subs.iter().any(|x| x.id == id)),
            Target::Peer(p) => self.peers_with(&s, topic, Instant::now()).contains(&p),
        }
    }

    fn has_room(&self, s: &State) -> bool {
        s.waiting.len() + s.delivered.len() < self.cfg.pending_requests_max
    }

    /// Sends request `id` to `target`; the reply arrives on the returned receiver.
    pub(crate) fn send_request(
        &self,
        target: Target,
        id: B256,
        topic: &str,
        data: &Bytes,
    ) -> Result<Option<oneshot::Receiver<Reply>>, ApiError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self.state.lock();
            self.sweep(&mut s);
            if !self.has_room(&s) {
                return Err(ApiError::Unavailable(format!(
                    "too many AMOP requests in flight (limit {})",
                    self.cfg.pending_requests_max
                )));
            }
            s.waiting.insert(id, tx);
            if let Target::Local(sub) = target {
                let ok = s
                    .local
                    .get(topic)
                    .and_then(|subs| subs.iter().find(|x| x.id == sub))
                    .is_some_and(|x| self.offer(x, AmopKind::Request, id, topic, data));
                if !ok {
                    s.waiting.remove(&id);
                    return Ok(None);
                }
                s.delivered.insert(
                    id,
                    Delivered {
                        origin: None,
                        at: Instant::now(),
                    },
                );
                return Ok(Some(rx));
            }
        }
        let Target::Peer(peer) = target else {
            unreachable!("local targets returned above")
        };
        let sent = self.net().is_some_and(|net| {
            let frame = AmopWire::Request {
                id,
                topic: topic.to_string(),
                data: data.clone(),
            };
            net.send(peer, frame.encode())
        });
        if !sent {
            self.forget(id);
            return Ok(None);
        }
        Ok(Some(rx))
    }

    pub(crate) fn forget(&self, id: B256) {
        let mut s = self.state.lock();
        s.waiting.remove(&id);
        s.delivered.remove(&id);
    }

    /// Drops requests delivered here that nobody answered within the longest timeout.
    fn sweep(&self, s: &mut State) {
        let max = Duration::from_millis(self.cfg.request_timeout_ms_max);
        let now = Instant::now();
        s.delivered.retain(|_, d| now.duration_since(d.at) < max);
    }

    pub fn respond(&self, id: B256, data: Bytes) -> Result<(), ApiError> {
        self.check_data(&data)?;
        let mut s = self.state.lock();
        let Some(d) = s.delivered.remove(&id) else {
            return Err(ApiError::InvalidParams(format!(
                "no AMOP request {id} is waiting here (answered, timed out, or never delivered)"
            )));
        };
        match d.origin {
            None => {
                if let Some(tx) = s.waiting.remove(&id) {
                    let _ = tx.send(Reply::Data(data));
                }
            }
            Some(peer) => {
                drop(s);
                if let Some(net) = self.net() {
                    net.send(peer, AmopWire::Response { id, data }.encode());
                }
            }
        }
        Ok(())
    }

    /// A frame from peer `from` of the group.
    pub fn on_frame(&self, from: u32, frame: &[u8]) {
        let Some(msg) = AmopWire::decode(frame) else {
            self.counters.undecodable.fetch_add(1, Relaxed);
            tracing::debug!(peer = from, "dropped an undecodable AMOP frame");
            return;
        };
        match msg {
            AmopWire::Topics(topics) => {
                let topics: BTreeSet<String> = topics
                    .into_iter()
                    .filter(|t| !t.is_empty() && t.len() <= self.cfg.topic_bytes_max)
                    .take(self.cfg.topics_max)
                    .collect();
                self.state.lock().peers.insert(
                    from,
                    Peer {
                        topics,
                        seen: Instant::now(),
                    },
                );
            }
            AmopWire::Publish { topic, data } => {
                if data.len() <= self.cfg.data_bytes_max {
                    self.deliver_local(&topic, &data);
                }
            }
            AmopWire::Request { id, topic, data } => self.on_request(from, id, topic, data),
            AmopWire::Response { id, data } => self.reply(id, Reply::Data(data)),
            AmopWire::NoSubscriber { id } => self.reply(id, Reply::NoSubscriber),
        }
    }

    fn reply(&self, id: B256, reply: Reply) {
        if let Some(tx) = self.state.lock().waiting.remove(&id) {
            let _ = tx.send(reply);
        }
    }

    /// A peer's request: to one local subscriber (rotating), or "none here".
    fn on_request(&self, from: u32, id: B256, topic: String, data: Bytes) {
        let taken = data.len() <= self.cfg.data_bytes_max && {
            let mut s = self.state.lock();
            self.sweep(&mut s);
            let room = self.has_room(&s);
            let taken = room
                && s.local.get(&topic).is_some_and(|subs| {
                    let k = self.next_pick.fetch_add(1, Relaxed);
                    (0..subs.len()).any(|i| {
                        self.offer(
                            &subs[(k + i) % subs.len()],
                            AmopKind::Request,
                            id,
                            &topic,
                            &data,
                        )
                    })
                });
            if taken {
                s.delivered.insert(
                    id,
                    Delivered {
                        origin: Some(from),
                        at: Instant::now(),
                    },
                );
            }
            taken
        };
        if !taken {
            if let Some(net) = self.net() {
                net.send(from, AmopWire::NoSubscriber { id }.encode());
            }
        }
    }

    /// Whether `announce_interval_ms` passed since the last announcement.
    pub fn announce_due(&self) -> bool {
        let every = Duration::from_millis(self.cfg.announce_interval_ms);
        self.announced.lock().is_none_or(|at| at.elapsed() >= every)
    }

    /// Tells every peer which topics have subscribers here.
    pub fn announce(&self) {
        let Some(net) = self.net() else {
            return;
        };
        *self.announced.lock() = Some(Instant::now());
        let topics: Vec<String> = self.state.lock().local.keys().cloned().collect();
        let frame = AmopWire::Topics(topics).encode();
        for p in net.peers() {
            net.send(p, frame.clone());
        }
    }

    pub fn challenge(&self, topic: &str) -> Result<B256, ApiError> {
        self.check_topic(topic)?;
        let mut s = self.state.lock();
        match s.private.as_mut() {
            Some(p) => p.challenge(topic, Instant::now()),
            None => Err(ApiError::InvalidParams("no private topics".into())),
        }
    }

    pub fn status(&self) -> serde_json::Value {
        let s = self.state.lock();
        let c = &self.counters;
        serde_json::json!({
            "localTopics": s.local.len(),
            "localSubscribers": s.local.values().map(Vec::len).sum::<usize>(),
            "peersWithTopics": s.peers.values().filter(|p| !p.topics.is_empty()).count(),
            "requestsInFlight": s.waiting.len() + s.delivered.len(),
            "queuedBytes": self.queued_bytes.load(Relaxed),
            "published": c.published.load(Relaxed),
            "delivered": c.delivered.load(Relaxed),
            "droppedSlow": c.dropped_slow.load(Relaxed),
            "requests": c.requests.load(Relaxed),
            "retries": c.retries.load(Relaxed),
            "timeouts": c.timeouts.load(Relaxed),
            "undecodable": c.undecodable.load(Relaxed),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;

    fn router(queue: usize, bytes: usize, all: usize) -> Arc<Router> {
        Router::new(AmopConfig {
            queue_per_subscriber_max: queue,
            queue_per_subscriber_bytes_max: bytes,
            queue_per_topic_bytes_max: all,
            queued_bytes_max: all,
            ..Default::default()
        })
    }

    #[test]
    fn a_slow_subscriber_loses_its_own_messages_and_the_bounds_hold() {
        let r = router(4, 1000, 1500);
        let mut slow = r.subscribe("t", None).unwrap();
        let mut fast = r.subscribe("t", None).unwrap();
        let data = Bytes::from(vec![7u8; 100]);
        let mut fast_got = 0;
        for _ in 0..10 {
            r.publish("t", data.clone()).unwrap();
            // The fast one reads as it goes; its events' budgets are given back on drop.
            while let Ok(e) = fast.events.try_recv() {
                assert_eq!(e.data, data);
                fast_got += 1;
            }
        }
        assert_eq!(fast_got, 10, "the fast subscriber lost nothing");
        let mut slow_got = 0;
        while slow.events.try_recv().is_ok() {
            slow_got += 1;
        }
        assert_eq!(slow_got, 4, "the slow one kept its queue's worth");
        assert_eq!(r.counters.dropped_slow.load(Relaxed), 6);
        assert_eq!(r.queued_bytes.load(Relaxed), 0, "every budget came back");

        // The byte bound of one subscription, then of all of them together.
        let big = Bytes::from(vec![1u8; 600]);
        assert_eq!(r.publish("t", big.clone()).unwrap().0, 2);
        assert_eq!(
            r.publish("t", big.clone()).unwrap().0,
            0,
            "1,200 > 1,000 per subscriber"
        );
        assert_eq!(r.queued_bytes.load(Relaxed), 1200);
        let _third = r.subscribe("t", None).unwrap();
        assert_eq!(
            r.publish("t", Bytes::from(vec![1u8; 400])).unwrap().0,
            0,
            "1,600 > 1,500 in all"
        );
        drop((slow, fast));
        assert_eq!(
            r.queued_bytes.load(Relaxed),
            0,
            "a subscription's queue is freed with it"
        );

        // A topic's subscriptions together: two topics, the bound hits one of them only.
        let r = Router::new(AmopConfig {
            queue_per_subscriber_bytes_max: 1000,
            queue_per_topic_bytes_max: 1000,
            queued_bytes_max: 10_000,
            ..Default::default()
        });
        let subs: Vec<_> = (0..3).map(|_| r.subscribe("hot", None).unwrap()).collect();
        let _other = r.subscribe("cold", None).unwrap();
        let reached = r.publish("hot", Bytes::from(vec![0u8; 400])).unwrap().0;
        assert_eq!(
            reached, 2,
            "800 of 1,000 topic bytes; the third would pass the bound"
        );
        assert_eq!(r.publish("cold", Bytes::from(vec![0u8; 400])).unwrap().0, 1);
        drop(subs);
    }

    #[test]
    fn a_request_to_a_local_subscriber_is_answered_and_unknown_answers_are_refused() {
        let r = router(4, 1000, 1000);
        let mut sub = r.subscribe("svc", None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let answer = rt.block_on(async {
            let ask = tokio::spawn(super::super::request::request(
                r.clone(),
                "svc".into(),
                Bytes::from_static(b"q"),
                Duration::from_secs(5),
            ));
            let e = loop {
                if let Ok(e) = sub.events.try_recv() {
                    break e;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            assert_eq!(e.kind, AmopKind::Request);
            r.respond(e.id, Bytes::from_static(b"a")).unwrap();
            assert!(
                r.respond(e.id, Bytes::from_static(b"a")).is_err(),
                "answered once"
            );
            ask.await.unwrap()
        });
        assert_eq!(answer.unwrap(), Bytes::from_static(b"a"));
        // Nobody subscribes to "none": a clear error at once.
        let none = rt.block_on(super::super::request::request(
            r.clone(),
            "none".into(),
            Bytes::new(),
            Duration::from_secs(5),
        ));
        assert!(none.unwrap_err().to_string().contains("no subscriber"));
    }
}
