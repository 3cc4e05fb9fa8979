//! A lock hider: every view change it sends claims no prepared certificate
//! (`ModelCore::hide_lock`), whatever it holds. Nothing forces a node to prove a lock, so
//! any Byzantine node can do this; the protocol must still carry a decided block into the
//! next view through its honest voters (PBFT-S3).

use crate::core::ModelCore;
use bcos_consensus::Output;

pub fn transform<P: ModelCore>(
    outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
) -> Vec<Output<P::Message, P::Timer, P::Durable>> {
    outs.into_iter()
        .map(|out| match out {
            Output::Broadcast(msg) => Output::Broadcast(P::hide_lock(&msg).unwrap_or(msg)),
            Output::Send { to, msg } => Output::Send {
                to,
                msg: P::hide_lock(&msg).unwrap_or(msg),
            },
            other => other,
        })
        .collect()
}
