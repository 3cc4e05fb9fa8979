//! Builds an [`ActorModel`] of `n` [`ProtocolActor`]s with the chosen faults and at most one
//! Byzantine node.

use crate::actor::ProtocolActor;
use crate::byzantine::Role;
use crate::core::ModelCore;
use crate::faults::Faults;
use bcos_consensus::NodeIndex;
use bcos_types::Height;
use stateright::actor::{ActorModel, LossyNetwork};
use stateright::Property;

/// What the properties need to know about a run (stateright's model `cfg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCfg {
    pub n: u32,
    /// The Byzantine node and its behaviour, if any; every other node is honest.
    pub byzantine: Option<(NodeIndex, Role)>,
    /// Proposals stop after this height.
    pub max_height: Height,
    /// A protocol-specific bound on the explored space (pbft: the highest view; states past
    /// it are not expanded). `None`: no bound.
    pub bound: Option<u64>,
}

impl ModelCfg {
    pub fn is_honest(&self, node: NodeIndex) -> bool {
        !matches!(self.byzantine, Some((b, r)) if b == node && !r.is_honest())
    }
}

/// The model type for core `P`.
pub type CoreModel<P> = ActorModel<ProtocolActor<P>, ModelCfg, ()>;

/// Everything that defines one model of core `P`.
#[derive(Debug, Clone)]
pub struct ModelSpec<P: ModelCore> {
    pub core: P::Config,
    pub cfg: ModelCfg,
    pub faults: Faults,
}

impl<P: ModelCore> ModelSpec<P> {
    /// The model with `properties` attached.
    pub fn build(&self, properties: Vec<Property<CoreModel<P>>>) -> CoreModel<P> {
        let actors = (0..self.cfg.n).map(|i| {
            let role = match self.cfg.byzantine {
                Some((b, r)) if b == i => r,
                _ => Role::Honest,
            };
            ProtocolActor::new(i, self.cfg.n, self.core.clone(), self.cfg.max_height, role)
        });
        let mut model = ActorModel::new(self.cfg.clone(), ())
            .actors(actors)
            .init_network(self.faults.network())
            .lossy_network(if self.faults.loss {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            .max_crashes(self.faults.crashes_max);
        model.properties = properties;
        model
    }
}
