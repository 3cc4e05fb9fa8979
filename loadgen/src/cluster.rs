//! Embedded PBFT clusters (issue 3's performance part): `bcos init` writes an N-node group
//! (keys, certificates, one config.toml per node) into a temp dir on a free port range, then
//! the profile's `[node.settings.*]` sections are overlaid onto every node's config before
//! the nodes start. The layout `bcos init` owns (addresses, data dir, membership, keys) is
//! not overridable: a profile that sets it is a usage error.

use crate::error::UsageError;
use anyhow::{bail, Context};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lowest port a cluster's range may start at (above the usual ephemeral-free services).
pub const PORT_RANGE_MIN: u16 = 20_000;
/// Highest port a cluster's range may end at (below Linux's default ephemeral range).
pub const PORT_RANGE_MAX: u16 = 32_000;
/// Candidate ranges tried before giving up.
pub const PORT_SEARCH_TRIES: usize = 200;

/// Keys `bcos init` lays out per node; a profile may not override them.
pub const RESERVED_KEYS: &[(&str, &str)] = &[
    ("rpc", "addr"),
    ("chain", "data_dir"),
    ("cluster", "consensus"),
    ("cluster", "group_id"),
    ("cluster", "index"),
    ("cluster", "listen_addr"),
    ("cluster", "keys_dir"),
    ("cluster", "members"),
    ("cluster", "voters"),
];

/// Consensus protocols `loadgen` can start as a cluster.
pub fn check_consensus(consensus: &str, nodes: usize) -> Result<(), String> {
    match consensus {
        "solo" if nodes == 1 => Ok(()),
        "solo" => Err(format!(
            "node.nodes = {nodes} with consensus \"solo\": a solo chain has exactly one node (use consensus = \"pbft\")"
        )),
        "pbft" if nodes >= 1 => Ok(()),
        "pbft" => Err("node.nodes must be ≥ 1".into()),
        "raft" if nodes >= 1 => Ok(()),
        "raft" => Err("node.nodes must be ≥ 1".into()),
        other => Err(format!(
            "unknown node.consensus {other:?} (known: \"solo\", \"pbft\", \"raft\")"
        )),
    }
}

/// Overlays the profile's `settings` (sections of tables) onto a node config written by
/// `bcos init`: each key replaces the config's key, nested tables merge. Errors name the
/// offending key.
pub fn overlay(config: &mut toml::Table, settings: &toml::Table) -> Result<(), String> {
    // Everything is checked before anything changes, so a refused overlay leaves `config` as
    // it was.
    for (section, value) in settings {
        let toml::Value::Table(keys) = value else {
            return Err(format!(
                "node.settings.{section} must be a section (a table of keys)"
            ));
        };
        if let Some(key) = keys
            .keys()
            .find(|k| RESERVED_KEYS.contains(&(section.as_str(), k.as_str())))
        {
            return Err(format!(
                "node.settings.{section}.{key} is laid out per node by `bcos init` and cannot be set by a profile"
            ));
        }
        if config.get(section).is_some_and(|v| !v.is_table()) {
            return Err(format!("the node config's {section} is not a section"));
        }
    }
    merge(config, settings);
    Ok(())
}

fn merge(into: &mut toml::Table, from: &toml::Table) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The chain id the profile asks for (`node.settings.chain.chain_id`), else `bcos init`'s.
pub fn chain_id(settings: &toml::Table) -> Option<i64> {
    settings
        .get("chain")
        .and_then(|c| c.get("chain_id"))
        .and_then(toml::Value::as_integer)
}

/// First port of `count` consecutive ports on 127.0.0.1 that are free right now. The ports
/// are released before the nodes bind them, so another process could take one in between;
/// the node then fails to start and says so.
pub fn free_port_range(count: usize) -> anyhow::Result<u16> {
    let span = usize::from(PORT_RANGE_MAX - PORT_RANGE_MIN);
    anyhow::ensure!(count > 0 && count < span, "cannot find {count} ports");
    // Start at a per-process offset so concurrent runs rarely probe the same ranges.
    let slots = span / count;
    let mut slot = std::process::id() as usize % slots;
    for _ in 0..PORT_SEARCH_TRIES.min(slots) {
        let base = PORT_RANGE_MIN + (slot * count) as u16;
        let free = (0..count as u16).all(|k| TcpListener::bind(("127.0.0.1", base + k)).is_ok());
        if free {
            return Ok(base);
        }
        slot = (slot + 1) % slots;
    }
    bail!("no {count} consecutive free ports between {PORT_RANGE_MIN} and {PORT_RANGE_MAX}")
}

/// The `bcos init` arguments for `groups` groups of `consensus` (init makes groups 1.. PBFT
/// unless told otherwise), with the admin listener off.
pub fn init_group_args(consensus: &str, groups: usize) -> Vec<String> {
    let mut args = vec!["--admin-port".to_string(), "0".to_string()];
    if groups > 1 {
        args.extend(["--groups".to_string(), groups.to_string()]);
        if consensus != "pbft" {
            for g in 1..groups {
                args.extend(["--group-consensus".to_string(), format!("{g}={consensus}")]);
            }
        }
    }
    args
}

/// One node of an initialized cluster.
pub struct ClusterNode {
    pub config: PathBuf,
    /// The merged config as written.
    pub config_text: String,
}

/// Runs `bcos init` for `nodes` nodes under `dir` and overlays `settings` onto each node's
/// config. Node i's P2P port is `base + i`, its RPC port `base + nodes + i`. Every node runs
/// `groups` groups (`--groups`), all of `consensus` and all nodes members; group g is served
/// at the node's RPC URL + `/g/<g>`. The admin listener (group lifecycle) is off
/// (`--admin-port 0`): loadgen does not use it, and init's default ports (8645 + i) would
/// collide with any other cluster on the host. `extra` arguments go to `bcos init` as given
/// (`--hf-merchant ...` for high-frequency accounts, [`crate::settlement::init_args`]).
pub fn init(
    bin: &Path,
    dir: &Path,
    nodes: usize,
    consensus: &str,
    groups: usize,
    settings: &toml::Table,
    extra: &[String],
) -> anyhow::Result<Vec<ClusterNode>> {
    let base = free_port_range(2 * nodes)?;
    let out = dir.join("cluster");
    let mut cmd = Command::new(bin);
    // a dev chain: the load is signed by the test mnemonic's funded accounts
    cmd.arg("init")
        .arg("--dev")
        .args(["--nodes", &nodes.to_string(), "--hosts", "127.0.0.1"])
        .arg("--out")
        .arg(&out)
        .args(["--p2p-port", &base.to_string()])
        .args(["--rpc-port", &(usize::from(base) + nodes).to_string()])
        .args(["--consensus", consensus])
        .args(init_group_args(consensus, groups))
        .args(extra);
    if let Some(id) = chain_id(settings) {
        cmd.args(["--chain-id", &id.to_string()]);
    }
    let output = cmd
        .output()
        .with_context(|| format!("running {} init", bin.display()))?;
    if !output.status.success() {
        bail!(
            "`bcos init` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    (0..nodes)
        .map(|i| {
            let config = out.join(format!("node{i}")).join("config.toml");
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("reading {}", config.display()))?;
            let mut table: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", config.display()))?;
            overlay(&mut table, settings).map_err(UsageError)?;
            let config_text = toml::to_string(&table).context("serializing a node config")?;
            std::fs::write(&config, &config_text)?;
            Ok(ClusterNode {
                config,
                config_text,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap_or_default()
    }

    const INIT: &str = r#"
[chain]
chain_id = 20200
data_dir = "data"
[pool]
txs_max = 200000
per_sender_max = 5000
[rpc]
addr = "127.0.0.1:8545"
[cluster]
index = 2
view_timeout_ms = 3000
"#;

    #[test]
    fn overlay_replaces_keys_and_keeps_the_rest() {
        let mut cfg = table(INIT);
        let settings = table(
            "[pool]\ntxs_max = 1000\n[sealer]\nblock_txs_max = 77\n[cluster]\nview_timeout_ms = 9000\n",
        );
        assert_eq!(overlay(&mut cfg, &settings), Ok(()));
        let expected = table(
            r#"
[chain]
chain_id = 20200
data_dir = "data"
[pool]
txs_max = 1000
per_sender_max = 5000
[rpc]
addr = "127.0.0.1:8545"
[cluster]
index = 2
view_timeout_ms = 9000
[sealer]
block_txs_max = 77
"#,
        );
        assert_eq!(cfg, expected);
    }

    #[test]
    fn overlay_refuses_the_layout_init_owns() {
        for bad in [
            "[rpc]\naddr = \"0.0.0.0:1\"\n",
            "[chain]\ndata_dir = \"x\"\n",
            "[cluster]\nindex = 0\n",
        ] {
            let mut cfg = table(INIT);
            let err = overlay(&mut cfg, &table(bad)).err().unwrap_or_default();
            assert!(err.contains("bcos init"), "{bad}: {err}");
            assert_eq!(cfg, table(INIT), "a refused overlay changes nothing");
        }
        let mut cfg = table(INIT);
        let err = overlay(&mut cfg, &table("txs_max = 3\n"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("must be a section"), "{err}");
    }

    #[test]
    fn chain_id_comes_from_the_chain_section() {
        assert_eq!(chain_id(&table("[chain]\nchain_id = 7\n")), Some(7));
        assert_eq!(chain_id(&table("[pool]\ntxs_max = 1\n")), None);
    }

    #[test]
    fn consensus_rules() {
        assert!(check_consensus("solo", 1).is_ok());
        assert!(check_consensus("pbft", 4).is_ok());
        assert!(check_consensus("solo", 4).is_err());
        assert!(check_consensus("raft", 3).is_ok());
        assert!(check_consensus("hotstuff", 4)
            .err()
            .unwrap_or_default()
            .contains("unknown"));
    }

    #[test]
    fn init_lays_out_groups_of_the_profiles_consensus() {
        assert_eq!(init_group_args("pbft", 1), ["--admin-port", "0"]);
        assert_eq!(
            init_group_args("pbft", 4),
            ["--admin-port", "0", "--groups", "4"]
        );
        assert_eq!(
            init_group_args("raft", 3),
            [
                "--admin-port",
                "0",
                "--groups",
                "3",
                "--group-consensus",
                "1=raft",
                "--group-consensus",
                "2=raft"
            ]
        );
    }

    #[test]
    fn free_port_range_is_bindable() {
        let base = free_port_range(4).unwrap_or(0);
        assert!(base >= PORT_RANGE_MIN);
        assert!(base + 4 <= PORT_RANGE_MAX);
    }
}
