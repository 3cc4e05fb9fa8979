//! Which groups a run has (spec/groups.md, whitepaper §3.3.3): each group is a chain of its
//! own (consensus, chain id, genesis, stores), run by some of the simulated nodes over their
//! one shared network. A run without groups is the single-chain run: one group, `--protocol`
//! on every node.

use crate::config::Protocol;

/// Groups in one run at most: each is a full set of drivers, so the event rate and the run
/// time grow with it.
pub const GROUPS_MAX: u32 = 8;

/// One group of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimGroup {
    pub protocol: Protocol,
    /// Node indices of its members, ascending: consensus position p is `members[p]`
    /// (`bcos_node::groups::config::for_group` numbers them the same way).
    pub members: Vec<u32>,
}

impl SimGroup {
    pub fn all_nodes(protocol: Protocol, nodes: u32) -> Self {
        SimGroup {
            protocol,
            members: (0..nodes).collect(),
        }
    }

    /// Consensus position of node `node`, if it is a member.
    pub fn position(&self, node: u32) -> Option<u32> {
        self.members
            .iter()
            .position(|m| *m == node)
            .map(|p| p as u32)
    }
}

/// The groups of `--groups COUNT --group-protocols P,.. --group-members G=I,..`. Protocols
/// default to alternating from `first` (pbft, raft, pbft, ... for `--protocol pbft`);
/// members default to every node. One group without either flag is the single-chain run
/// (an empty list).
pub fn groups_from_cli(
    nodes: u32,
    first: Protocol,
    count: u32,
    protocols: Option<&str>,
    members: &[String],
) -> Result<Vec<SimGroup>, String> {
    if count == 0 || count > GROUPS_MAX {
        return Err(format!("--groups must be 1..={GROUPS_MAX}"));
    }
    if count == 1 && protocols.is_none() && members.is_empty() {
        return Ok(Vec::new());
    }
    let other = match first {
        Protocol::Pbft => Protocol::Raft,
        Protocol::Raft => Protocol::Pbft,
    };
    let mut out: Vec<SimGroup> = (0..count)
        .map(|g| SimGroup::all_nodes(if g % 2 == 0 { first } else { other }, nodes))
        .collect();
    if let Some(list) = protocols {
        let ps: Vec<Protocol> = list
            .split(',')
            .map(|p| p.trim().parse())
            .collect::<Result<_, String>>()
            .map_err(|e| format!("--group-protocols {list:?}: {e}"))?;
        if ps.len() != count as usize {
            return Err(format!(
                "--group-protocols {list:?}: {} protocols for {count} groups",
                ps.len()
            ));
        }
        for (g, p) in out.iter_mut().zip(ps) {
            g.protocol = p;
        }
    }
    for spec in members {
        let (g, list) = spec
            .split_once('=')
            .ok_or_else(|| format!("--group-members {spec:?}: expected GROUP=NODE,NODE,.."))?;
        let g: usize = g
            .trim()
            .parse()
            .ok()
            .filter(|g| *g < out.len())
            .ok_or_else(|| {
                format!("--group-members {spec:?}: {g:?} is not a group below {count}")
            })?;
        let mut m: Vec<u32> = list
            .split(',')
            .map(|n| n.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("--group-members {spec:?}: not a list of node indices"))?;
        m.sort_unstable();
        out[g].members = m;
    }
    Ok(out)
}

/// Refuses group lists that cannot run: empty or repeated members, members beyond the
/// cluster, or a node in no group (it would run nothing, yet count as down).
pub fn validate(groups: &[SimGroup], nodes: u32) -> Result<(), String> {
    if groups.len() > GROUPS_MAX as usize {
        return Err(format!("at most {GROUPS_MAX} groups"));
    }
    for (g, grp) in groups.iter().enumerate() {
        if grp.members.is_empty() {
            return Err(format!("group {g} has no members"));
        }
        if grp.members.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "group {g}: members {:?} must be ascending, without repeats",
                grp.members
            ));
        }
        if let Some(bad) = grp.members.iter().find(|m| **m >= nodes) {
            return Err(format!(
                "group {g}: node {bad} is not below --nodes {nodes}"
            ));
        }
    }
    if !groups.is_empty() {
        if let Some(idle) = (0..nodes).find(|n| groups.iter().all(|g| g.position(*n).is_none())) {
            return Err(format!("node {idle} is in no group"));
        }
    }
    Ok(())
}

/// `--groups ..` flags that reproduce `groups` (empty for the single-chain run).
pub fn cli_flags(groups: &[SimGroup], nodes: u32) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let protocols: Vec<String> = groups.iter().map(|g| g.protocol.to_string()).collect();
    let mut s = format!(
        " --groups {} --group-protocols {}",
        groups.len(),
        protocols.join(",")
    );
    for (g, grp) in groups.iter().enumerate() {
        if grp.members.len() != nodes as usize {
            let m: Vec<String> = grp.members.iter().map(u32::to_string).collect();
            s.push_str(&format!(" --group-members {g}={}", m.join(",")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_protocols_and_members() {
        assert!(groups_from_cli(4, Protocol::Pbft, 1, None, &[])
            .expect("one group")
            .is_empty());
        let gs = groups_from_cli(4, Protocol::Pbft, 3, None, &["2=3,1,2".into()]).expect("ok");
        let ps: Vec<Protocol> = gs.iter().map(|g| g.protocol).collect();
        assert_eq!(ps, [Protocol::Pbft, Protocol::Raft, Protocol::Pbft]);
        assert_eq!(gs[0].members, [0, 1, 2, 3]);
        assert_eq!(gs[2].members, [1, 2, 3]);
        assert_eq!(gs[2].position(3), Some(2));
        assert_eq!(gs[2].position(0), None);
        assert_eq!(
            cli_flags(&gs, 4),
            " --groups 3 --group-protocols pbft,raft,pbft --group-members 2=1,2,3"
        );
        let gs = groups_from_cli(4, Protocol::Pbft, 2, Some("raft, raft"), &[]).expect("ok");
        assert!(gs.iter().all(|g| g.protocol == Protocol::Raft));
        for (count, protocols, members) in [
            (0, None, vec![]),
            (GROUPS_MAX + 1, None, vec![]),
            (2, Some("pbft"), vec![]),
            (2, Some("pbft,paxos"), vec![]),
            (2, None, vec!["2=0,1".to_string()]),
            (2, None, vec!["1=0,x".to_string()]),
            (2, None, vec!["0,1".to_string()]),
        ] {
            assert!(
                groups_from_cli(4, Protocol::Pbft, count, protocols, &members).is_err(),
                "{count} {protocols:?} {members:?}"
            );
        }
    }

    #[test]
    fn group_lists_that_cannot_run_are_refused() {
        let ok = vec![
            SimGroup::all_nodes(Protocol::Pbft, 4),
            SimGroup {
                protocol: Protocol::Raft,
                members: vec![1, 2, 3],
            },
        ];
        assert!(validate(&ok, 4).is_ok());
        for members in [vec![], vec![1, 1, 2], vec![2, 1], vec![1, 4]] {
            let mut bad = ok.clone();
            bad[1].members = members;
            assert!(validate(&bad, 4).is_err(), "{:?}", bad[1].members);
        }
        let idle = vec![SimGroup {
            protocol: Protocol::Pbft,
            members: vec![0, 1, 2],
        }];
        let why = validate(&idle, 4).expect_err("node 3 is idle");
        assert!(why.contains("node 3"), "{why}");
    }
}
