//! Group lifecycle on one node (spec/groups.md §4), in the spirit of FISCO BCOS 2.x's
//! `generateGroup / startGroup / stopGroup / removeGroup / queryGroupStatus`.
//!
//! - A group is *configured* (`[[groups]]` in the node's config, or a `group.toml` written
//!   by [`GroupManager::generate`] into its data directory) and is then *running*,
//!   *stopped* (data kept, nothing served) or *removed* (its data directory moved aside to
//!   `groups/removed-<id>-<unix_s>`, never deleted).
//! - Stopped and removed are remembered in the group's data directory (`group-status`), so
//!   a restarted node keeps them; a removed group is generated again to come back.
//! - Group 0 is the node's own chain (`[chain]`): it always runs; stop the node instead.
//! - Lifecycle calls come only from the admin listener (loopback by default,
//!   `rpc.admin_addr`): see bcos_rpc::admin for why it is a listener and not a token.

use super::config::{
    all_groups, chain_id_of, for_group, group_data_dir, member_nodes, GroupConfig,
};
use super::instance::{GroupInstance, Shared};
use crate::config::NodeConfig;
use anyhow::Context;
use bcos_rpc::{ApiError, ChainApi, JsonValue};
use bcos_rpc::{GroupAdmin, GroupStatus};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

const STATUS_FILE: &str = "group-status";
const GENERATED_FILE: &str = "group.toml";

enum State {
    Running(Arc<GroupInstance>),
    Stopped,
    Removed,
    /// Configured, but this node is not one of its members.
    NotMember,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Running(_) => "running",
            State::Stopped => "stopped",
            State::Removed => "removed",
            State::NotMember => "not-member",
        }
    }
}

struct Entry {
    cfg: GroupConfig,
    state: State,
}

pub struct GroupManager {
    node: Arc<NodeConfig>,
    shared: Shared,
    rpc: OnceLock<bcos_rpc::RpcHandle>,
    groups: Mutex<BTreeMap<u32, Entry>>,
    /// Lifecycle calls one at a time (they open databases and join threads).
    ops: Mutex<()>,
}

impl GroupManager {
    /// `shared.group_list` is replaced by this manager's list.
    pub fn new(node: Arc<NodeConfig>, mut shared: Shared) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<GroupManager>| {
            let me = me.clone();
            shared.group_list = Arc::new(move || {
                me.upgrade().map_or(JsonValue::Null, |m| {
                    serde_json::to_value(m.statuses()).unwrap_or_default()
                })
            });
            GroupManager {
                node,
                shared,
                rpc: OnceLock::new(),
                groups: Mutex::new(BTreeMap::new()),
                ops: Mutex::new(()),
            }
        })
    }

    /// Starts every configured group that is not stopped or removed; serves each on `rpc`.
    pub fn start_all(&self, rpc: bcos_rpc::RpcHandle) -> anyhow::Result<()> {
        let _ = self.rpc.set(rpc);
        let mut configured = all_groups(&self.node)?;
        for g in self.generated()? {
            if !configured.iter().any(|c| c.id == g.id) {
                configured.push(g);
            }
        }
        for g in configured {
            let saved = self.saved_state(g.id);
            let id = g.id;
            self.groups.lock().insert(
                id,
                Entry {
                    cfg: g,
                    state: State::Stopped,
                },
            );
            match saved.as_deref() {
                Some("removed") => self.set_state(id, State::Removed),
                Some("stopped") if id != 0 => {}
                _ => {
                    self.run(id)?;
                }
            }
        }
        Ok(())
    }

    /// The running group 0 (the node's own chain).
    pub fn group_zero(&self) -> Option<Arc<GroupInstance>> {
        self.instance(0)
    }

    pub fn instance(&self, id: u32) -> Option<Arc<GroupInstance>> {
        match self.groups.lock().get(&id).map(|e| &e.state) {
            Some(State::Running(i)) => Some(i.clone()),
            _ => None,
        }
    }

    /// Stops every running group (node shutdown); their saved state stays as it was.
    pub fn stop_all(&self) {
        let _op = self.ops.lock();
        let running: Vec<_> = self
            .groups
            .lock()
            .iter_mut()
            .filter_map(
                |(id, e)| match std::mem::replace(&mut e.state, State::Stopped) {
                    State::Running(i) => Some((*id, i)),
                    other => {
                        e.state = other;
                        None
                    }
                },
            )
            .collect();
        for (id, inst) in running {
            if let Some(rpc) = self.rpc.get() {
                rpc.remove_group(id);
            }
            inst.stop();
        }
    }

    fn set_state(&self, id: u32, state: State) {
        if let Some(e) = self.groups.lock().get_mut(&id) {
            e.state = state;
        }
    }

    fn data_dir(&self, id: u32) -> PathBuf {
        group_data_dir(&self.node.chain.data_dir, id)
    }

    fn saved_state(&self, id: u32) -> Option<String> {
        std::fs::read_to_string(self.data_dir(id).join(STATUS_FILE))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn save_state(&self, id: u32, state: Option<&str>) -> anyhow::Result<()> {
        let dir = self.data_dir(id);
        let path = dir.join(STATUS_FILE);
        match state {
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            },
            Some(s) => {
                std::fs::create_dir_all(&dir)?;
                crate::cluster::durable::DurableFile::new(&dir, STATUS_FILE)
                    .store_bytes(s.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))
            }
        }
    }

    /// Groups written by `generate` (their `group.toml`), in id order.
    fn generated(&self) -> anyhow::Result<Vec<GroupConfig>> {
        let root = self.node.chain.data_dir.join("groups");
        let Ok(dir) = std::fs::read_dir(&root) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in dir.flatten() {
            let path = entry.path().join(GENERATED_FILE);
            if !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let g: GroupConfig = toml::from_str(&text)
                .with_context(|| format!("invalid group description {}", path.display()))?;
            out.push(g);
        }
        out.sort_by_key(|g| g.id);
        Ok(out)
    }

    /// Starts group `id` if this node is a member; serves it on RPC.
    fn run(&self, id: u32) -> anyhow::Result<()> {
        let cfg = self
            .groups
            .lock()
            .get(&id)
            .map(|e| e.cfg.clone())
            .with_context(|| format!("group {id} is not configured"))?;
        let Some(group_cfg) = for_group(&self.node, &cfg)? else {
            self.set_state(id, State::NotMember);
            return Ok(());
        };
        let inst = Arc::new(GroupInstance::start(id, Arc::new(group_cfg), &self.shared)?);
        if let Some(rpc) = self.rpc.get() {
            if let Err(e) = rpc.add_group(id, inst.api.clone() as Arc<dyn ChainApi>) {
                inst.stop();
                anyhow::bail!("serving group {id} on RPC: {e}");
            }
        }
        self.set_state(id, State::Running(inst));
        Ok(())
    }

    /// Every running group, in ascending order.
    pub fn running(&self) -> Vec<Arc<GroupInstance>> {
        self.groups
            .lock()
            .values()
            .filter_map(|e| match &e.state {
                State::Running(i) => Some(i.clone()),
                _ => None,
            })
            .collect()
    }

    fn statuses(&self) -> Vec<GroupStatus> {
        self.groups
            .lock()
            .iter()
            .map(|(id, e)| self.status_of(*id, e))
            .collect()
    }

    fn status_of(&self, id: u32, e: &Entry) -> GroupStatus {
        let members = self
            .node
            .cluster
            .as_ref()
            .and_then(|c| member_nodes(c, &e.cfg).ok())
            .unwrap_or_else(|| vec![0]);
        GroupStatus {
            group: id,
            status: e.state.name().to_string(),
            chain_id: chain_id_of(&self.node, &e.cfg).unwrap_or_default(),
            consensus: match (&self.node.cluster, e.cfg.consensus) {
                (None, _) => "solo".into(),
                (_, crate::cluster::config::ConsensusKind::Pbft) => "pbft".into(),
                (_, crate::cluster::config::ConsensusKind::Raft) => "raft".into(),
            },
            members,
            block_number: match &e.state {
                State::Running(i) => Some(i.api.head_number()),
                _ => None,
            },
        }
    }

    fn status_now(&self, id: u32) -> Result<GroupStatus, ApiError> {
        let groups = self.groups.lock();
        let e = groups.get(&id).ok_or_else(|| unknown(id))?;
        Ok(self.status_of(id, e))
    }
}

fn unknown(id: u32) -> ApiError {
    ApiError::InvalidParams(format!("group {id} is not configured on this node"))
}

fn failed(e: anyhow::Error) -> ApiError {
    ApiError::Internal(format!("{e:#}"))
}

/// What a `bcos_generateGroup` description may say (camelCase JSON).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Description {
    #[serde(default)]
    chain_id: Option<u64>,
    #[serde(default)]
    consensus: Option<crate::cluster::config::ConsensusKind>,
    #[serde(default)]
    members: Vec<u32>,
    #[serde(default)]
    voters: Vec<u32>,
    /// `[{"address": "0x…", "balance_wei": "…"}]`; unset: the node's `chain.alloc`.
    #[serde(default)]
    alloc: Option<Vec<crate::config::GenesisAccount>>,
}

impl GroupAdmin for GroupManager {
    fn set_flow_log(&self, group: u32, on: bool) -> Result<bool, ApiError> {
        let inst = self.instance(group).ok_or_else(|| {
            ApiError::InvalidParams(format!("group {group} is not running on this node"))
        })?;
        let was = inst.api.metrics.flow.set(on);
        tracing::info!(group, on, "flow log switched");
        Ok(was)
    }

    fn list(&self) -> Vec<GroupStatus> {
        self.statuses()
    }

    fn status(&self, group: u32) -> Result<GroupStatus, ApiError> {
        self.status_now(group)
    }

    fn generate(&self, group: u32, description: JsonValue) -> Result<GroupStatus, ApiError> {
        let _op = self.ops.lock();
        let d: Description = serde_json::from_value(description)
            .map_err(|e| ApiError::InvalidParams(format!("group description: {e}")))?;
        let cfg = GroupConfig {
            id: group,
            chain_id: d.chain_id,
            consensus: d.consensus.unwrap_or_default(),
            members: d.members,
            voters: d.voters,
            alloc: d.alloc,
        };
        if let Some(e) = self.groups.lock().get(&group) {
            if !matches!(e.state, State::Removed) {
                return Err(ApiError::InvalidParams(format!(
                    "group {group} exists already ({})",
                    e.state.name()
                )));
            }
        }
        // The same checks as a configured group, against the node's other groups.
        let mut node = (*self.node).clone();
        // every group the manager knows (configured or generated) but removed ones
        node.groups.clear();
        node.groups.extend(
            self.groups
                .lock()
                .values()
                .filter(|e| {
                    e.cfg.id != 0 && e.cfg.id != group && !matches!(e.state, State::Removed)
                })
                .map(|e| e.cfg.clone()),
        );
        node.groups.push(cfg.clone());
        all_groups(&node).map_err(|e| ApiError::InvalidParams(format!("{e:#}")))?;
        let member = for_group(&node, &cfg)
            .map_err(|e| ApiError::InvalidParams(format!("{e:#}")))?
            .is_some();
        let dir = self.data_dir(group);
        std::fs::create_dir_all(&dir).map_err(|e| failed(e.into()))?;
        let text = toml::to_string_pretty(&cfg).map_err(|e| failed(e.into()))?;
        crate::cluster::durable::DurableFile::new(&dir, GENERATED_FILE)
            .store_bytes(text.as_bytes())
            .map_err(failed)?;
        self.save_state(group, Some("stopped")).map_err(failed)?;
        let state = if member {
            State::Stopped
        } else {
            State::NotMember
        };
        self.groups.lock().insert(group, Entry { cfg, state });
        self.status_now(group)
    }

    fn start(&self, group: u32) -> Result<GroupStatus, ApiError> {
        let _op = self.ops.lock();
        let state = self.status_now(group)?.status;
        match state.as_str() {
            "running" => return self.status_now(group),
            "removed" => {
                return Err(ApiError::InvalidParams(format!(
                    "group {group} was removed; generate it again first"
                )))
            }
            "not-member" => {
                return Err(ApiError::InvalidParams(format!(
                    "this node is not a member of group {group}"
                )))
            }
            _ => {}
        }
        self.save_state(group, None).map_err(failed)?;
        self.run(group).map_err(failed)?;
        self.status_now(group)
    }

    fn stop(&self, group: u32) -> Result<GroupStatus, ApiError> {
        if group == 0 {
            return Err(ApiError::InvalidParams(
                "group 0 is the node's own chain ([chain]); stop the node instead".into(),
            ));
        }
        let _op = self.ops.lock();
        self.status_now(group)?;
        self.save_state(group, Some("stopped")).map_err(failed)?;
        let inst = {
            let mut groups = self.groups.lock();
            let e = groups.get_mut(&group).ok_or_else(|| unknown(group))?;
            match std::mem::replace(&mut e.state, State::Stopped) {
                State::Running(i) => Some(i),
                other => {
                    e.state = other;
                    None
                }
            }
        };
        if let Some(inst) = inst {
            if let Some(rpc) = self.rpc.get() {
                rpc.remove_group(group);
            }
            inst.stop();
        }
        self.status_now(group)
    }

    fn remove(&self, group: u32) -> Result<GroupStatus, ApiError> {
        if group == 0 {
            return Err(ApiError::InvalidParams(
                "group 0 is the node's own chain ([chain]) and cannot be removed".into(),
            ));
        }
        if self.status_now(group)?.status == "running" {
            self.stop(group)?;
        }
        let _op = self.ops.lock();
        let dir = self.data_dir(group);
        if dir.exists() {
            let now = crate::runtime::SystemClock::new();
            let aside = dir.with_file_name(format!(
                "removed-{group}-{}",
                crate::runtime::Clock::wall_s(&now)
            ));
            std::fs::rename(&dir, &aside)
                .with_context(|| format!("moving {} aside", dir.display()))
                .map_err(failed)?;
            tracing::info!(group, to = %aside.display(), "group removed; its data was moved aside");
        }
        self.save_state(group, Some("removed")).map_err(failed)?;
        self.set_state(group, State::Removed);
        self.status_now(group)
    }
}
