//! The solo protocol: one node seals and decides alone. There is no agreement to reach, so a
//! proposal for the next height commits at once. It exercises the same driver path PBFT and
//! Raft use (propose → commit), which is its point. spec/execution.md §5.

use crate::protocol::{Decision, Input, Output, Protocol};
use bcos_types::Height;

/// Solo never talks to anyone, so it has no messages, timers or durable state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Never {}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Solo {
    next_height: Height,
}

impl Solo {
    /// Starts deciding at `next_height` (the committed head + 1).
    pub fn new(next_height: Height) -> Self {
        Solo { next_height }
    }
}

impl Protocol for Solo {
    type Message = Never;
    type Timer = Never;
    type Durable = Never;

    fn next_height(&self) -> Height {
        self.next_height
    }

    fn may_propose(&self) -> bool {
        true
    }

    fn handle(&mut self, input: Input<Never, Never>) -> Vec<Output<Never, Never, Never>> {
        match input {
            // SOLO-R1: a proposal for the next height is decided immediately.
            Input::Propose(p) if p.height == self.next_height => {
                self.next_height += 1;
                vec![Output::Commit(Decision {
                    height: p.height,
                    block_hash: p.block_hash,
                    certificate: Vec::new(),
                })]
            }
            // SOLO-R2: a stale or future proposal is ignored.
            Input::Propose(_) | Input::Executed(_) => Vec::new(),
            Input::Message { msg, .. } => match msg {},
            Input::Timeout(t) => match t {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Proposal;
    use bcos_types::B256;

    #[test]
    fn commits_next_height_and_advances() {
        let mut solo = Solo::new(1);
        let out = solo.handle(Input::Propose(Proposal {
            height: 1,
            block_hash: B256::repeat_byte(1),
        }));
        assert_eq!(
            out,
            vec![Output::Commit(Decision {
                height: 1,
                block_hash: B256::repeat_byte(1),
                certificate: vec![]
            })]
        );
        assert_eq!(solo.next_height(), 2);
    }

    #[test]
    fn ignores_stale_and_future_proposals() {
        let mut solo = Solo::new(5);
        for h in [4, 6] {
            assert!(solo
                .handle(Input::Propose(Proposal {
                    height: h,
                    block_hash: B256::ZERO
                }))
                .is_empty());
        }
        assert_eq!(solo.next_height(), 5);
    }
}
