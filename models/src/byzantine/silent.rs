//! A silent node: it emits nothing. The actor also skips its inputs, so a silent node adds no
//! states of its own; to its peers it is a node that crashed for good (PBFT-L*: a silent
//! leader must be replaced within the view-change timeout).

use crate::core::ModelCore;
use bcos_consensus::Output;

pub fn transform<P: ModelCore>(
    outs: Vec<Output<P::Message, P::Timer, P::Durable>>,
) -> Vec<Output<P::Message, P::Timer, P::Durable>> {
    drop(outs);
    Vec::new()
}
