//! A double voter: every vote it sends is followed by a vote for a conflicting digest
//! (`ModelCore::forge_vote`) to the same recipients, so one node counts towards two quorums.

use crate::core::ModelCore;
use bcos_consensus::Output;

pub fn transform<P: ModelCore>(
    outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
) -> Vec<Output<P::Message, P::Timer, P::Durable>> {
    let mut result = Vec::with_capacity(outs.len() * 2);
    for out in outs {
        match out {
            Output::Broadcast(msg) => {
                let forged = P::forge_vote(&msg);
                result.push(Output::Broadcast(msg));
                if let Some(f) = forged {
                    result.push(Output::Broadcast(f));
                }
            }
            Output::Send { to, msg } => {
                let forged = P::forge_vote(&msg);
                result.push(Output::Send { to, msg });
                if let Some(f) = forged {
                    result.push(Output::Send { to, msg: f });
                }
            }
            other => result.push(other),
        }
    }
    result
}
