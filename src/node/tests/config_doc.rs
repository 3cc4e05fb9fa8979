//! docs/config.md documents every setting: each key of the node's configuration (a default
//! `NodeConfig` with a `[cluster]` section and one member, serialized) must appear in the
//! reference as `` `section.key` ``, and each field of a table array (`[[cluster.members]]`)
//! as `` `field` ``. A setting added without its line in the reference fails here.

use bcos_node::cluster::config::{ClusterConfig, Member};
use bcos_node::NodeConfig;
use serde_json::Value;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn full_config() -> Value {
    let member = Member {
        index: 0,
        p2p_addr: "127.0.0.1:30300".parse().expect("addr"),
        node_id: Default::default(),
        bls_public_key: String::new(),
        bls_pop: String::new(),
    };
    let cluster = ClusterConfig {
        members: vec![member],
        ..ClusterConfig::default()
    };
    let mut group = bcos_node::groups::config::GroupConfig::new(1);
    group.chain_id = Some(20_201);
    group.members = vec![0];
    group.voters = vec![0];
    group.alloc = Some(vec![bcos_node::config::GenesisAccount {
        address: Default::default(),
        balance_wei: "1".into(),
    }]);
    let mut config = NodeConfig {
        cluster: Some(cluster),
        groups: vec![group],
        ..NodeConfig::default()
    };
    // Settings serialized only when set.
    config.chain.committee = vec![bcos_node::config::CommitteeMember {
        address: Default::default(),
        weight: 1,
    }];
    config.chain.regulator = Some(Default::default());
    serde_json::to_value(&config).expect("the config serializes")
}

/// (dotted key, is a field of a table array) for every leaf setting.
fn keys(prefix: &str, v: &Value, in_array: bool, out: &mut Vec<(String, bool)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match child {
                    Value::Object(_) => keys(&path, child, in_array, out),
                    Value::Array(items) if items.iter().any(Value::is_object) => {
                        out.push((path.clone(), in_array));
                        for item in items.iter().filter(|i| i.is_object()) {
                            keys(&path, item, true, out);
                        }
                    }
                    _ => out.push((path, in_array)),
                }
            }
        }
        _ => out.push((prefix.to_string(), in_array)),
    }
}

#[test]
fn every_setting_is_documented() {
    let doc = doc();
    let mut all = Vec::new();
    keys("", &full_config(), false, &mut all);
    assert!(all.len() > 40, "the walk found too few settings: {all:?}");
    let missing: Vec<String> = all
        .iter()
        .filter(|(key, in_array)| {
            let field = key.rsplit('.').next().unwrap_or(key);
            let documented = doc.contains(&format!("`{key}`"))
                || (*in_array && doc.contains(&format!("`{field}`")));
            !documented
        })
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/config.md lacks these settings (add a row: setting, default, meaning): {missing:?}"
    );
}

#[test]
fn the_walk_sees_nested_and_array_settings() {
    let mut all = Vec::new();
    keys("", &full_config(), false, &mut all);
    let has = |k: &str| all.iter().any(|(key, _)| key == k);
    assert!(has("pool.txs_max"));
    assert!(has("cluster.view_timeout_ms"));
    assert!(has("cluster.members"));
    assert!(has("cluster.members.bls_public_key"));
    assert!(has("chain.regulator"), "Option fields count too");
    assert!(has("chain.committee.weight"));
}
