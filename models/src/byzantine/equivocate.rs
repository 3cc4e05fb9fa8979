//! An equivocating leader: each proposal it broadcasts goes as the honest block to the lower
//! half of its peers and as a conflicting block (`ModelCore::forge_proposal`) to the upper
//! half, so two honest groups see two blocks for one height and view. Direct sends of a
//! proposal alternate between the two by peer parity.

use crate::core::ModelCore;
use bcos_consensus::{NodeIndex, Output};

pub fn transform<P: ModelCore>(
    me: NodeIndex,
    n: u32,
    outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
) -> Vec<Output<P::Message, P::Timer, P::Durable>> {
    let peers: Vec<NodeIndex> = (0..n).filter(|j| *j != me).collect();
    // Fewer honest copies than forged ones: with n = 4 one peer gets the block and two get
    // the forgery, the split that lets a 2f quorum form on each side.
    let half = peers.len() / 2;
    let mut result = Vec::with_capacity(outs.len() + peers.len());
    for out in outs {
        match out {
            Output::Broadcast(msg) => match P::forge_proposal(&msg) {
                Some(forged) => {
                    for (i, to) in peers.iter().enumerate() {
                        let msg = if i < half {
                            msg.clone()
                        } else {
                            forged.clone()
                        };
                        result.push(Output::Send { to: *to, msg });
                    }
                }
                None => result.push(Output::Broadcast(msg)),
            },
            Output::Send { to, msg } => match P::forge_proposal(&msg) {
                Some(forged) if to % 2 == 1 => result.push(Output::Send { to, msg: forged }),
                _ => result.push(Output::Send { to, msg }),
            },
            other => result.push(other),
        }
    }
    result
}
