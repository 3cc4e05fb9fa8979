//! Inbound P2P frames to their groups (spec/groups.md §2). One task reads the network and
//! hands each frame to its group without ever waiting: consensus messages go to the group
//! driver's inbox (bounded per group and per peer), forwarded transactions to the group's
//! pool admission (bounded by the group's ingress queue). A full queue drops that group's
//! frame only, so a busy or hostile group cannot hold up another's; each group's driver then
//! runs on its own thread.
//!
//! Dropped and counted: a frame without a tag, for a group this node does not run, from a
//! node that is not a member of the group, or that does not decode.

use super::tag::untag;
use crate::cluster::inbox::Inbox;
use crate::cluster::wire::Wire;
use crate::pool::{Ingress, Pool};
use bcos_net::Inbound;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Where a group's forwarded transactions go: (sender's position, raw transactions).
pub type TxSink = Box<dyn Fn(u32, Vec<bcos_types::Bytes>) + Send + Sync>;

/// Where a running group takes its frames.
pub struct GroupPort {
    /// Node index of each consensus position.
    pub nodes: Vec<u32>,
    pub inbox: Arc<Inbox>,
    pub txs: TxSink,
    /// The group's AMOP router (never blocks: bounded queues, drops counted there).
    pub amop: Option<Arc<crate::amop::Router>>,
}

impl GroupPort {
    fn position(&self, node: u32) -> Option<u32> {
        self.nodes.iter().position(|n| *n == node).map(|p| p as u32)
    }
}

/// Frames dropped before they reached a group, by reason.
#[derive(Debug, Default)]
pub struct DispatchCounters {
    pub untagged: AtomicU64,
    pub unknown_group: AtomicU64,
    /// `unknown_group` by group number, for numbers below `GROUPS_MAX` (a bounded map: a
    /// peer cannot grow it by inventing groups). Frames for a group that has not started
    /// yet, or was stopped, land here too.
    unknown_by_group: parking_lot::Mutex<BTreeMap<u32, u64>>,
    pub not_member: AtomicU64,
    pub undecodable: AtomicU64,
    pub queue_full: AtomicU64,
}

impl DispatchCounters {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "untagged": self.untagged.load(Relaxed),
            "unknownGroup": self.unknown_group.load(Relaxed),
            "unknownByGroup": self.unknown_by_group.lock().iter().map(|(g, n)| (g.to_string(), serde_json::Value::from(*n))).collect::<serde_json::Map<_, _>>(),
            "notMember": self.not_member.load(Relaxed),
            "undecodable": self.undecodable.load(Relaxed),
            "queueFull": self.queue_full.load(Relaxed),
        })
    }
}

/// The running groups' ports, shared by the reader task and the group manager.
#[derive(Default)]
pub struct Dispatch {
    ports: RwLock<BTreeMap<u32, Arc<GroupPort>>>,
    pub counters: DispatchCounters,
}

impl Dispatch {
    pub fn attach(&self, group: u32, port: Arc<GroupPort>) {
        self.ports.write().insert(group, port);
    }

    pub fn detach(&self, group: u32) {
        self.ports.write().remove(&group);
    }

    /// Hands one frame from node `from` to its group.
    pub fn deliver(&self, from: u32, frame: &alloy_primitives::bytes::Bytes) {
        let c = &self.counters;
        let Some((group, payload)) = untag(frame) else {
            c.untagged.fetch_add(1, Relaxed);
            tracing::debug!(peer = from, "dropped a frame without a group tag");
            return;
        };
        let Some(port) = self.ports.read().get(&group).cloned() else {
            c.unknown_group.fetch_add(1, Relaxed);
            if group < super::config::GROUPS_MAX {
                *c.unknown_by_group.lock().entry(group).or_default() += 1;
            }
            tracing::debug!(
                peer = from,
                group,
                "dropped a frame for a group not run here"
            );
            return;
        };
        let Some(pos) = port.position(from) else {
            c.not_member.fetch_add(1, Relaxed);
            tracing::debug!(peer = from, group, "dropped a frame from a non-member");
            return;
        };
        match Wire::decode(&payload) {
            Ok(Wire::Txs(list)) => (port.txs)(pos, list),
            Ok(Wire::Amop(frame)) => {
                if let Some(router) = &port.amop {
                    router.on_frame(pos, &frame);
                }
            }
            Ok(w) => {
                let kind = w.kind();
                if port.inbox.push(pos, w, payload.len()).is_err() {
                    c.queue_full.fetch_add(1, Relaxed);
                    tracing::debug!(group, peer = pos, kind, "driver queue full; dropped");
                }
            }
            Err(e) => {
                c.undecodable.fetch_add(1, Relaxed);
                tracing::warn!(group, peer = from, "dropped undecodable frame: {e}");
            }
        }
    }

    /// Reads the network until it closes.
    pub fn spawn_reader(self: &Arc<Self>, mut inbound: Inbound) {
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((from, frame)) = inbound.recv().await {
                me.deliver(from, &frame);
            }
        });
    }
}

/// The sink of a group whose forwarded transactions run through the same checks and
/// admission as RPC ones (and are never forwarded again).
pub fn admit_into(pool: Arc<Pool>, ingress: Arc<Ingress>, group: u32) -> TxSink {
    Box::new(move |from, list| admit_forwarded(&pool, &ingress, group, from, list))
}

fn admit_forwarded(
    pool: &Pool,
    ingress: &Ingress,
    group: u32,
    from: u32,
    list: Vec<bcos_types::Bytes>,
) {
    for raw in list {
        match pool.rules().check_raw(&raw) {
            Ok(tx) => {
                if let Err(e) = ingress.offer(Arc::new(tx)) {
                    tracing::debug!(group, peer = from, "forwarded transaction not queued: {e}");
                }
            }
            Err(e) => tracing::debug!(group, peer = from, "forwarded transaction refused: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tag::tag;
    use super::*;
    use crate::cluster::inbox::Event;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn port(nodes: Vec<u32>, txs: Arc<AtomicUsize>) -> Arc<GroupPort> {
        Arc::new(GroupPort {
            nodes,
            inbox: Arc::new(Inbox::new(2, 1 << 20)),
            txs: Box::new(move |_, list| {
                txs.fetch_add(list.len(), Relaxed);
            }),
            amop: None,
        })
    }

    fn count(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }

    #[test]
    fn frames_reach_their_group_at_the_senders_position_and_the_rest_are_counted() {
        let d = Dispatch::default();
        let txs = Arc::new(AtomicUsize::new(0));
        // group 5 of nodes {2, 7}: node 7 is position 1
        let p = port(vec![2, 7], txs.clone());
        d.attach(5, p.clone());
        let status = Wire::Status {
            height: 3,
            hash: bcos_types::B256::ZERO,
        }
        .encode();
        d.deliver(7, &tag(5, &status));
        match p.inbox.recv_timeout(Duration::ZERO) {
            Some(Event::Net(from, Wire::Status { height: 3, .. })) => assert_eq!(from, 1),
            _ => panic!("the frame did not reach group 5's inbox"),
        }
        d.deliver(
            2,
            &tag(
                5,
                &Wire::Txs(vec![vec![1u8].into(), vec![2u8].into()]).encode(),
            ),
        );
        assert_eq!(txs.load(Relaxed), 2);

        d.deliver(7, &tag(6, &status));
        d.deliver(7, &tag(u32::MAX, &status));
        d.deliver(3, &tag(5, &status));
        d.deliver(7, &alloy_primitives::bytes::Bytes::from_static(b"ab"));
        d.deliver(7, &tag(5, b"\xffgarbage"));
        let c = &d.counters;
        assert_eq!(
            (
                count(&c.unknown_group),
                count(&c.not_member),
                count(&c.untagged),
                count(&c.undecodable)
            ),
            (2, 1, 1, 1)
        );
        let json = c.json();
        assert_eq!(
            json["unknownByGroup"],
            serde_json::json!({"6": 1}),
            "{json}"
        );

        // a full queue drops that group's frame only
        for _ in 0..3 {
            d.deliver(7, &tag(5, &status));
        }
        assert_eq!(count(&c.queue_full), 1);
        d.detach(5);
        d.deliver(7, &tag(5, &status));
        assert_eq!(count(&c.unknown_group), 3);
    }
}
