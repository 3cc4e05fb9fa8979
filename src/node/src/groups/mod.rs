//! Groups (whitepaper §3.3.3, spec/groups.md): one node process takes part in several
//! chains, each with its own consensus instance, pool, executor and storage, over one P2P
//! network and one RPC port.
//!
//! - [`config`]: `[[groups]]` and the per-group configuration derived from the node's;
//! - [`tag`], [`transport`], [`dispatch`]: the group tag on P2P frames, a group's view of the
//!   network, and inbound frames to their group;
//! - [`instance`]: one running group; [`manager`]: the lifecycle (start, stop, generate,
//!   remove) and `bcos_getGroupList`.

pub mod config;
pub mod dispatch;
pub mod instance;
pub mod manager;
pub mod tag;
pub mod transport;
