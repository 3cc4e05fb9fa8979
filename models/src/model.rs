//! Builds a [`SystemModel`] of `n` nodes running core `P` with the chosen faults and at most
//! one Byzantine node.

use crate::byzantine::Role;
use crate::core::ModelCore;
use crate::faults::Faults;
use crate::memo::Memo;
use crate::node::NodeSpec;
use crate::stats::Coverage;
use crate::system::{Env, SysState, SystemModel};
use bcos_consensus::NodeIndex;
use bcos_types::Height;
use stateright::Property;
use std::sync::Arc;

/// What the properties need to know about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCfg {
    pub n: u32,
    /// The Byzantine node and its behaviour, if any; every other node is honest.
    pub byzantine: Option<(NodeIndex, Role)>,
    /// Proposals stop after this height.
    pub max_height: Height,
    /// A protocol-specific bound on the explored space (pbft: the highest view; raft: the
    /// highest term; states past it are not expanded). `None`: no bound.
    pub bound: Option<u64>,
}

impl ModelCfg {
    pub fn is_honest(&self, node: NodeIndex) -> bool {
        !matches!(self.byzantine, Some((b, r)) if b == node && !r.is_honest())
    }
}

/// Everything that defines one model of core `P`.
#[derive(Debug, Clone)]
pub struct ModelSpec<P: ModelCore> {
    pub core: P::Config,
    pub cfg: ModelCfg,
    pub faults: Faults,
}

fn unbounded<P: ModelCore>(_: &SystemModel<P>, _: &SysState<P>) -> bool {
    true
}

impl<P: ModelCore> ModelSpec<P> {
    /// The model with `properties`, silent-step fusion on (safety form).
    pub fn build(&self, properties: Vec<Property<SystemModel<P>>>) -> SystemModel<P> {
        let specs = (0..self.cfg.n)
            .map(|i| {
                let role = match self.cfg.byzantine {
                    Some((b, r)) if b == i => r,
                    _ => Role::Honest,
                };
                NodeSpec {
                    me: i,
                    n: self.cfg.n,
                    cfg: self.core.clone(),
                    max_height: self.cfg.max_height,
                    role,
                }
            })
            .collect();
        SystemModel {
            specs,
            cfg: self.cfg.clone(),
            env: Env {
                net: self.faults.net(),
                loss: self.faults.loss,
                restarts_max: self.faults.restarts.max(),
                fuse_silent: true,
                liveness: false,
                gst_at_start: false,
            },
            bound: unbounded::<P>,
            allow: None,
            init: Vec::new(),
            properties,
            on_step: None,
            probes: Vec::new(),
            coverage: Arc::new(Coverage::default()),
            memo: Arc::new(Memo::default()),
        }
    }
}
