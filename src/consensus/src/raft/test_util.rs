//! Helpers shared by the phase tests.

use super::*;
use bcos_types::B256;

pub fn node(me: NodeIndex) -> Raft {
    Raft::new(RaftConfig::new(3, me), 0).unwrap()
}

pub fn hash(b: u8) -> B256 {
    B256::repeat_byte(b)
}

pub fn entry(index: Height, term: Term) -> Entry {
    Entry {
        term,
        index,
        block_hash: hash(index as u8),
        change: None,
    }
}

pub fn append(term: Term, prev: LogPos, entries: Vec<Entry>, commit: Height) -> RaftMsg {
    RaftMsg::Append(Append {
        term,
        prev,
        entries,
        commit,
    })
}

pub fn propose(height: Height) -> Input<RaftMsg, RaftTimer> {
    Input::Propose(crate::protocol::Proposal {
        height,
        block_hash: hash(height as u8),
    })
}

pub fn msg(p: &mut Raft, from: NodeIndex, msg: RaftMsg) -> Vec<Out> {
    p.handle(Input::Message { from, msg })
}

/// Node 0 of three, elected in term 1 with node 1's vote.
pub fn leader_of_three() -> (Raft, Vec<Out>) {
    let mut n = node(0);
    n.handle(Input::Timeout(RaftTimer::Election));
    let out = msg(
        &mut n,
        1,
        RaftMsg::Vote(Vote {
            term: 1,
            granted: true,
        }),
    );
    (n, out)
}

pub fn broadcasts(out: &[Out]) -> Vec<RaftMsg> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

pub fn sends(out: &[Out]) -> Vec<(NodeIndex, RaftMsg)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

pub fn votes(out: &[Out]) -> Vec<(NodeIndex, bool)> {
    sends(out)
        .into_iter()
        .filter_map(|(to, m)| match m {
            RaftMsg::Vote(v) => Some((to, v.granted)),
            _ => None,
        })
        .collect()
}

pub fn replies(out: &[Out]) -> Vec<AppendReply> {
    sends(out)
        .into_iter()
        .filter_map(|(_, m)| match m {
            RaftMsg::AppendReply(r) => Some(r),
            _ => None,
        })
        .collect()
}

pub fn commits(out: &[Out]) -> Vec<Height> {
    out.iter()
        .filter_map(|o| match o {
            Output::Commit(d) => Some(d.height),
            _ => None,
        })
        .collect()
}

/// No send precedes the batch's first Persist.
pub fn persist_precedes_sends(out: &[Out]) -> bool {
    let first_send = out
        .iter()
        .position(|o| matches!(o, Output::Send { .. } | Output::Broadcast(_)));
    let first_persist = out.iter().position(|o| matches!(o, Output::Persist(_)));
    match (first_send, first_persist) {
        (Some(s), Some(p)) => p < s,
        _ => true,
    }
}
