//! One group's part of a run: its chain, its members' slots (one real driver each, with its
//! own store, pool and durable records), its checkers and its users. Everything here is per
//! chain; what the nodes share (clocks, keys, the network, crashes) stays in the world.

use crate::checkers::Checkers;
use crate::client::Client;
use crate::config::SimConfig;
use crate::groups::SimGroup;
use crate::node::{Live, SimNode};
use crate::runtime::{MemDurable, NodeClock};
use crate::setup::{self, Chain, Validator};
use bcos_execution::SystemContracts;
use bcos_storage::{CachedStore, ChainStore, MemStore};
use bcos_types::B256;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Group {
    /// The group number: chain id `chain_id + id`, vote domain `group_id + id`.
    pub id: u32,
    pub spec: SimGroup,
    pub chain: &'static Chain,
    /// The members' slots, by node index (ascending, so in consensus-position order).
    pub reps: BTreeMap<u32, SimNode>,
    pub checkers: Checkers,
    /// The users of this chain: the dev accounts, with nonces and contracts of this chain.
    pub client: Client,
    /// PBFT: the last new view delivered per height: its re-proposal and whether the block
    /// came with it.
    pub last_new_view: BTreeMap<u64, (B256, bool)>,
    /// When liveness was reached (ms after the faults stopped).
    pub settled_at: Option<u64>,
    pub view_changes: u64,
    pub max_view_or_term: u64,
    /// Raft: every voter set a member's configuration held (RAFT-R15).
    pub voter_sets: std::collections::BTreeSet<Vec<u32>>,
}

impl Group {
    /// Group `id` of the run: every member's store holds the group's genesis, its cluster
    /// section is the group's view (`setup::group_cluster_config`), and its executors have
    /// `contracts` (none outside a settlement run).
    pub fn new(
        cfg: &SimConfig,
        id: u32,
        spec: SimGroup,
        vals: &[Validator],
        clocks: &[Arc<NodeClock>],
        contracts: SystemContracts,
    ) -> anyhow::Result<Group> {
        let chain = setup::group_chain(id)?;
        let mut reps = BTreeMap::new();
        for &i in &spec.members {
            // The state cache (spec/durability.md §2.1) in front of the store, small enough
            // to evict and refill all the time, so every checker runs with it.
            let state_cache = Arc::new(CachedStore::with_entries_per_shard(
                MemStore::new(),
                cfg.state_cache_entries,
            ));
            let store: Arc<dyn ChainStore> = state_cache.clone();
            bcos_node::genesis::ensure_genesis(&*store, &chain.genesis)?;
            let clock = clocks
                .get(i as usize)
                .ok_or_else(|| anyhow::anyhow!("no clock for node {i}"))?
                .clone();
            let cluster = setup::group_cluster_config(cfg, vals, id, &spec, i)?;
            reps.insert(
                i,
                SimNode {
                    index: i,
                    byzantine: cfg.byzantine.filter(|b| b.node == i).map(|b| b.kind),
                    clock,
                    cluster,
                    contracts: contracts.clone(),
                    store,
                    state_cache,
                    durable: MemDurable::default(),
                    bodies: MemDurable::default(),
                    live: None,
                    wake_at: None,
                    checked_head: 0,
                    acked: Default::default(),
                    starts: 0,
                    last_state: None,
                    sent_state: None,
                    last_pos: (0, 0),
                },
            );
        }
        let group_id = reps
            .values()
            .next()
            .map(|r| r.cluster.group_id)
            .ok_or_else(|| anyhow::anyhow!("group {id} has no members"))?;
        let members: Vec<Validator> = spec
            .members
            .iter()
            .filter_map(|m| vals.get(*m as usize).cloned())
            .collect();
        Ok(Group {
            checkers: Checkers::new(
                spec.protocol,
                &members,
                group_id,
                cfg.multi_group().then_some(id),
            )?,
            client: Client::new(
                &chain.genesis.keys,
                chain.chain.chain_id,
                chain.chain.base_fee_wei,
            ),
            id,
            spec,
            chain,
            reps,
            last_new_view: BTreeMap::new(),
            settled_at: None,
            view_changes: 0,
            max_view_or_term: 0,
            voter_sets: std::collections::BTreeSet::new(),
        })
    }

    pub fn rep(&self, node: u32) -> Option<&SimNode> {
        self.reps.get(&node)
    }

    pub fn rep_mut(&mut self, node: u32) -> Option<&mut SimNode> {
        self.reps.get_mut(&node)
    }

    /// Node index of consensus position `pos`.
    pub fn node_at(&self, pos: u32) -> Option<u32> {
        self.spec.members.get(pos as usize).copied()
    }

    /// Members whose driver runs.
    pub fn up_members(&self) -> Vec<u32> {
        self.reps
            .values()
            .filter(|r| r.is_up())
            .map(|r| r.index)
            .collect()
    }

    /// Every honest member's stored head.
    pub fn heads(&self) -> Vec<u64> {
        self.reps
            .values()
            .filter(|r| r.honest())
            .map(|r| r.store.head().map_or(0, |(h, _)| h))
            .collect()
    }

    /// Every member's stored head (the Byzantine one's too).
    pub fn all_heads(&self) -> Vec<u64> {
        self.reps
            .values()
            .map(|r| r.store.head().map_or(0, |(h, _)| h))
            .collect()
    }

    /// Liveness of this chain (once faults stopped): every transaction has a receipt and
    /// every honest member is up at one head.
    pub fn settled(&self) -> bool {
        if self.client.pending() > 0 || self.reps.values().any(|r| r.honest() && !r.is_up()) {
            return false;
        }
        self.heads().windows(2).all(|w| w[0] == w[1])
    }

    /// The liveness violation's text: what is pending and where each member stands.
    pub fn stall_detail(&self) -> String {
        let states: Vec<String> = self
            .reps
            .values()
            .map(|n| match &n.live {
                Some(l) => format!(
                    "node {}: {}, deadline {} ms, pool {} ready {} gapped",
                    n.index,
                    l.driver.describe(),
                    l.driver.next_deadline_ms().saturating_sub(n.clock.skew_ms),
                    l.pool.ready_len(),
                    l.pool.gapped_len()
                ),
                None => format!("node {}: down", n.index),
            })
            .collect();
        format!(
            "{} ms after the faults stopped: {} transactions without a receipt, honest heads \
             {:?}; {}",
            crate::checkers::LIVENESS_BOUND_MS,
            self.client.pending(),
            self.heads(),
            states.join("; ")
        )
    }

    /// Whether a liveness failure is one of the driver bugs this simulator found and that
    /// are fixed since (src/sim/README.md, "Bugs found"; a regression is named), recognised by their exact state:
    /// - `raft-block-body-lost`: a Raft leader whose log ends above its head in an entry
    ///   whose block body it does not hold (bodies are kept in memory only; when every node
    ///   that had it crashed, no follower can execute and acknowledge the entry);
    /// - `pbft-locked-block-lost`: every honest PBFT node is locked on one block at the next
    ///   height, and the last new view re-proposed it without its bytes (the lock is durable,
    ///   the block is not: every node that held it restarted);
    /// - `pbft-view-change-split`: every honest PBFT node waits for a new view at one height
    ///   but not all in the same view (a node that left view v after seeing a quorum of view
    ///   changes for it no longer repeats its own, so the others never reach that quorum; on
    ///   a timeout without one they only repeat theirs, PBFT-R10).
    pub fn known_stall(&self) -> Option<&'static str> {
        let live: Vec<&Live> = self
            .reps
            .values()
            .filter(|n| n.honest())
            .filter_map(|n| n.live.as_ref())
            .collect();
        if live.iter().any(|l| l.driver.raft_leader_without_block()) {
            return Some("raft-block-body-lost");
        }
        let locks: Vec<Option<(u64, B256)>> = live.iter().map(|l| l.driver.pbft_lock()).collect();
        if let Some(Some((h, hash))) = locks.first() {
            let all_same = locks.iter().all(|l| *l == Some((*h, *hash)));
            if all_same && self.last_new_view.get(h) == Some(&(*hash, false)) {
                return Some("pbft-locked-block-lost");
            }
        }
        let waiting: Vec<Option<(u64, u64)>> =
            live.iter().map(|l| l.driver.pbft_waiting_view()).collect();
        if let Some(Some((h, v))) = waiting.first() {
            let all_waiting_at_h = waiting.iter().all(|w| w.is_some_and(|(h2, _)| h2 == *h));
            let split = waiting.iter().any(|w| w.is_some_and(|(_, v2)| v2 != *v));
            if all_waiting_at_h && split {
                return Some("pbft-view-change-split");
            }
        }
        None
    }
}
