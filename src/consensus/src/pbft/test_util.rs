//! Helpers shared by the phase tests.

use super::*;
use bcos_types::B256;

pub fn node(me: NodeIndex) -> Pbft {
    Pbft::new(PbftConfig::new(4, me), 1).unwrap()
}

pub fn hash(b: u8) -> B256 {
    B256::repeat_byte(b)
}

pub fn body(b: u8) -> CommitBody {
    CommitBody {
        block_hash: hash(b),
        state_root: hash(0xa0 ^ b),
        receipts_root: hash(0xb0 ^ b),
    }
}

pub fn msg(p: &mut Pbft, from: NodeIndex, msg: PbftMsg) -> Vec<Out> {
    p.handle(Input::Message { from, msg })
}

pub fn broadcasts(out: &[Out]) -> Vec<PbftMsg> {
    out.iter()
        .filter_map(|o| {
            if let Output::Broadcast(m) = o {
                Some(m.clone())
            } else {
                None
            }
        })
        .collect()
}

pub fn evidence(out: &[Out]) -> Vec<NodeIndex> {
    out.iter()
        .filter_map(|o| {
            if let Output::Evidence { culprit, .. } = o {
                Some(*culprit)
            } else {
                None
            }
        })
        .collect()
}

pub fn commits(out: &[Out]) -> Vec<crate::protocol::Decision> {
    out.iter()
        .filter_map(|o| {
            if let Output::Commit(d) = o {
                Some(d.clone())
            } else {
                None
            }
        })
        .collect()
}

/// Every Persist precedes the first send after the state change it covers: checked as
/// "no send precedes a Persist in the same batch unless a Persist precedes that send".
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
