//! A group's view of the shared P2P network: the drivers address consensus positions
//! `0..k` of their group, this maps them to node indices, tags every frame with the group
//! and sends only to the group's members (a broadcast never reaches a node outside it).

use super::tag::tag;
use crate::runtime::Transport;
use alloy_primitives::bytes::Bytes;
use bcos_net::NetworkHandle;

pub struct GroupTransport {
    net: NetworkHandle,
    group: u32,
    /// Node index of each consensus position.
    nodes: Vec<u32>,
    /// This node's position.
    me: u32,
}

impl GroupTransport {
    pub fn new(net: NetworkHandle, group: u32, nodes: Vec<u32>, me: u32) -> Self {
        GroupTransport {
            net,
            group,
            nodes,
            me,
        }
    }
}

impl Transport for GroupTransport {
    fn send(&self, to: u32, frame: Bytes) -> bool {
        let Some(node) = self.nodes.get(to as usize) else {
            return false;
        };
        match self.net.send(*node, tag(self.group, &frame)) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(group = self.group, peer = node, "send failed: {e}");
                false
            }
        }
    }

    fn broadcast(&self, frame: Bytes) {
        let tagged = tag(self.group, &frame);
        for (pos, node) in self.nodes.iter().enumerate() {
            if pos as u32 != self.me {
                if let Err(e) = self.net.send(*node, tagged.clone()) {
                    tracing::debug!(group = self.group, peer = node, "send failed: {e}");
                }
            }
        }
    }
}
