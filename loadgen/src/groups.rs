//! Groups (issue 13, spec/groups.md): one node process runs several chains over one P2P
//! network and one RPC port; group g is served at `<node url>/g/<g>` with chain id
//! `chain_id + g`. A level run over G groups is split evenly: each group gets its own
//! workload instance (accounts, nonces, funding, contracts, prepared through its own URL and
//! signed for its own chain id), `1/G` of the load (open loop: `rate/G`; closed loop:
//! `concurrency/G`, the remainder to the first groups), a share of the connections (spread so
//! that every group and every node get some) and its own commit tracker. One group (G = 1) is
//! exactly the single-chain run: node URLs without a path, nothing split.
//!
//! These are the pure rules; `engine::run_level` and `runner` apply them.

use crate::engine::Load;
use crate::profile::WorkloadSpec;

/// Most groups a node runs (`GROUPS_MAX` in src/node/src/groups/config.rs: ids 0..63).
pub const GROUPS_MAX: usize = 64;

/// Checks a group count for a target: 1..=[`GROUPS_MAX`], and more than one only on a
/// cluster (`bcos init` lays groups out; a solo `bcos dev` node runs one chain) or on remote
/// nodes (whose `/g/<g>` endpoints `Target::remote` then checks).
pub fn check(groups: usize, consensus: &str, remote: bool) -> Result<(), String> {
    if groups == 0 || groups > GROUPS_MAX {
        return Err(format!(
            "groups = {groups}: must be 1..={GROUPS_MAX} (a node runs groups 0..{})",
            GROUPS_MAX - 1
        ));
    }
    if groups > 1 && !remote && consensus == "solo" {
        return Err(format!(
            "groups = {groups} needs a cluster: a solo node (`bcos dev`) runs one chain; use consensus = \"pbft\" or \"raft\" (`bcos init --groups`)"
        ));
    }
    Ok(())
}

/// Checks that `spec` can be split over `groups`: every group needs a connection, a slot of
/// the closed loop's concurrency and its own accounts.
pub fn check_workload(spec: &WorkloadSpec, groups: usize) -> Result<(), String> {
    if groups <= 1 {
        return Ok(());
    }
    let n = &spec.name;
    let mut need = vec![("connections", spec.connections, groups)];
    if let Some(c) = spec.concurrency {
        need.push(("concurrency", c, groups));
    }
    match n.as_str() {
        "hf-account" => need.push(("users", spec.users, groups)),
        _ => need.push(("accounts", spec.accounts, 2 * groups)),
    }
    for (what, have, min) in need {
        if have < min {
            return Err(format!(
                "workload {n}: {what} = {have} cannot be split over {groups} groups (need ≥ {min}: each group gets its own share)"
            ));
        }
    }
    Ok(())
}

/// Group `group`'s endpoint on the node at `node_url`: the URL itself when the run has one
/// group (exactly the single-chain run), else `<node_url>/g/<group>`.
pub fn group_url(node_url: &str, group: usize, groups: usize) -> String {
    if groups <= 1 {
        return node_url.to_string();
    }
    format!("{}/g/{group}", node_url.trim_end_matches('/'))
}

/// `total` split over `groups` parts as evenly as integers allow: the first `total % groups`
/// parts get one more.
pub fn split_count(total: usize, groups: usize) -> Vec<usize> {
    let groups = groups.max(1);
    (0..groups)
        .map(|g| total / groups + usize::from(g < total % groups))
        .collect()
}

/// Each group's share of a level's load: `rate/G` each (open loop), `concurrency/G` each
/// with the remainder to the first groups (closed loop).
pub fn split_load(load: Load, groups: usize) -> Vec<Load> {
    let groups = groups.max(1);
    match load {
        Load::Open { rate_per_s } => vec![
            Load::Open {
                rate_per_s: rate_per_s / groups as f64
            };
            groups
        ],
        Load::Closed { concurrency } => split_count(concurrency, groups)
            .into_iter()
            .map(|concurrency| Load::Closed { concurrency })
            .collect(),
    }
}

/// (group, node) of each sender connection. Connection i serves group `i mod G` (so the
/// groups' shares differ by at most one) and goes to the least-loaded node among those its
/// group uses least so far, ties broken starting from node `g` (groups start on different
/// nodes). So a group with k connections uses min(k, N) distinct nodes and every node gets
/// about C/N connections. With one group this is node `i mod N`, the single-chain rule.
pub fn assign_connections(connections: usize, groups: usize, nodes: usize) -> Vec<(usize, usize)> {
    let (groups, nodes) = (groups.max(1), nodes.max(1));
    let mut load = vec![0usize; nodes];
    let mut used = vec![vec![0usize; nodes]; groups];
    (0..connections)
        .map(|i| {
            let g = i % groups;
            let least = used[g].iter().copied().min().unwrap_or(0);
            let node = (0..nodes)
                .map(|k| (g + k) % nodes)
                .filter(|&n| used[g][n] == least)
                .min_by_key(|&n| load[n])
                .unwrap_or(0);
            load[node] += 1;
            used[g][node] += 1;
            (g, node)
        })
        .collect()
}

/// Group `group`'s part of a workload: `accounts` (transfer, erc20) and `users` (hf-account)
/// are totals over the groups, so each group's share keeps the load per account of the
/// single-chain run. Everything else is per group as given (the load is split by
/// [`split_load`], the merchants of hf-account are per group).
pub fn spec_for_group(spec: &WorkloadSpec, group: usize, groups: usize) -> WorkloadSpec {
    let mut s = spec.clone();
    if groups > 1 {
        s.accounts = split_count(spec.accounts, groups)[group];
        s.users = split_count(spec.users, groups)[group];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Mode;

    #[test]
    fn one_group_is_the_single_chain_run() {
        assert_eq!(
            group_url("http://127.0.0.1:8545", 0, 1),
            "http://127.0.0.1:8545"
        );
        assert_eq!(split_count(5000, 1), vec![5000]);
        let spec = WorkloadSpec::new("transfer", Mode::Closed);
        assert_eq!(spec_for_group(&spec, 0, 1).accounts, spec.accounts);
        // Connection i goes to node i mod N, as before groups existed.
        let nodes: Vec<usize> = assign_connections(8, 1, 4).iter().map(|c| c.1).collect();
        assert_eq!(nodes, [0, 1, 2, 3, 0, 1, 2, 3]);
        assert!(assign_connections(8, 1, 4).iter().all(|c| c.0 == 0));
    }

    #[test]
    fn group_urls_take_the_group_path() {
        assert_eq!(
            group_url("http://127.0.0.1:8545", 0, 4),
            "http://127.0.0.1:8545/g/0"
        );
        assert_eq!(
            group_url("http://127.0.0.1:8545/", 3, 4),
            "http://127.0.0.1:8545/g/3"
        );
    }

    #[test]
    fn loads_split_evenly() {
        let open = split_load(Load::Open { rate_per_s: 3000.0 }, 4);
        assert_eq!(open.len(), 4);
        for l in &open {
            assert!(matches!(l, Load::Open { rate_per_s } if (*rate_per_s - 750.0).abs() < 1e-9));
        }
        let closed: Vec<usize> = split_load(Load::Closed { concurrency: 5001 }, 4)
            .into_iter()
            .map(|l| match l {
                Load::Closed { concurrency } => concurrency,
                Load::Open { .. } => 0,
            })
            .collect();
        assert_eq!(closed, [1251, 1250, 1250, 1250]);
        assert_eq!(closed.iter().sum::<usize>(), 5001);
        assert_eq!(split_count(7, 3), [3, 2, 2]);
    }

    #[test]
    fn connections_reach_every_group_and_node() {
        for (c, g, n) in [(8, 2, 4), (8, 4, 4), (8, 3, 4), (12, 4, 3), (8, 8, 4)] {
            let a = assign_connections(c, g, n);
            assert_eq!(a.len(), c);
            let mut per_group = vec![0; g];
            let mut per_node = vec![0; n];
            let mut nodes_of_group = vec![std::collections::BTreeSet::new(); g];
            for &(grp, node) in &a {
                per_group[grp] += 1;
                per_node[node] += 1;
                nodes_of_group[grp].insert(node);
            }
            let spread = |v: &[usize]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
            assert!(spread(&per_group) <= 1, "{c}/{g}/{n}: {per_group:?}");
            assert!(spread(&per_node) <= 1, "{c}/{g}/{n}: {per_node:?}");
            // A group with k connections uses k distinct nodes (up to N).
            for (grp, nodes) in nodes_of_group.iter().enumerate() {
                assert_eq!(nodes.len(), per_group[grp].min(n), "{c}/{g}/{n}: {a:?}");
            }
        }
        // 8 connections, 4 groups, 4 nodes: group g on nodes g and g + 1.
        assert_eq!(
            assign_connections(8, 4, 4),
            [
                (0, 0),
                (1, 1),
                (2, 2),
                (3, 3),
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 0)
            ]
        );
    }

    #[test]
    fn accounts_and_users_are_totals_over_the_groups() {
        let mut spec = WorkloadSpec::new("transfer", Mode::Closed);
        spec.accounts = 2001;
        spec.users = 10;
        let per: Vec<(usize, usize)> = (0..4)
            .map(|g| {
                let s = spec_for_group(&spec, g, 4);
                (s.accounts, s.users)
            })
            .collect();
        assert_eq!(per, [(501, 3), (500, 3), (500, 2), (500, 2)]);
    }

    #[test]
    fn group_counts_are_checked() {
        assert!(check(1, "solo", false).is_ok());
        assert!(check(4, "pbft", false).is_ok());
        assert!(check(4, "raft", false).is_ok());
        assert!(check(64, "pbft", false).is_ok());
        assert!(check(0, "pbft", false)
            .err()
            .unwrap_or_default()
            .contains("1..=64"));
        assert!(check(65, "pbft", false)
            .err()
            .unwrap_or_default()
            .contains("1..=64"));
        assert!(check(2, "solo", false)
            .err()
            .unwrap_or_default()
            .contains("cluster"));
        // Remote nodes: their /g/<g> endpoints are checked when attaching.
        assert!(check(2, "solo", true).is_ok());
    }

    #[test]
    fn workloads_must_split_over_the_groups() {
        let mut spec = WorkloadSpec::new("transfer", Mode::Closed);
        spec.concurrency = Some(5000);
        spec.connections = 8;
        assert!(check_workload(&spec, 8).is_ok());
        let err = check_workload(&spec, 9).err().unwrap_or_default();
        assert!(
            err.contains("connections = 8") && err.contains("9 groups"),
            "{err}"
        );
        spec.connections = 16;
        spec.concurrency = Some(3);
        assert!(check_workload(&spec, 4)
            .err()
            .unwrap_or_default()
            .contains("concurrency"));
        spec.concurrency = Some(100);
        spec.accounts = 7;
        assert!(check_workload(&spec, 4)
            .err()
            .unwrap_or_default()
            .contains("accounts"));
        assert!(check_workload(&spec, 1).is_ok());
        let mut hf = WorkloadSpec::new("hf-account", Mode::Open);
        hf.users = 3;
        assert!(check_workload(&hf, 4)
            .err()
            .unwrap_or_default()
            .contains("users"));
    }
}
