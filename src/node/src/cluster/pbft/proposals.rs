//! Blocks proposed by leaders, held until the head reaches their height (spec/pbft.md §5.2):
//! the first block per (height, view), a few per height, a few heights ahead, and a window of
//! views, so a Byzantine leader can make a replica hold and execute at most one block per
//! view it leads. The caller checks that the sender leads the view.

use bcos_consensus::pbft::PbftConfig;
use bcos_types::{Block, Height, SealedBlock, B256};
use std::collections::{BTreeMap, HashMap};

/// Proposed blocks kept per height at most (an honest leader sends one per view).
pub const BLOCKS_PER_HEIGHT_MAX: usize = 8;
/// Heights ahead of the head whose proposed blocks are kept for later.
pub const BLOCK_HEIGHTS_AHEAD_MAX: u64 = 2;
/// Proposals (one per height and view) remembered at most until the head moves past them;
/// the view window (`views_ahead_max` = 16 over at most 3 heights) stays well inside it.
pub const PROPOSALS_KEPT_MAX: usize = 64;

/// What became of a proposed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Kept,
    /// The same block for that view again (a retransmission or a re-proposal).
    Again,
    /// Another block for a view that already has one: an equivocating leader.
    Equivocation,
    /// Not for a height the node keeps (behind the head or too far ahead).
    OutOfRange,
    /// Too many proposals held already.
    Full,
    /// The bytes are not the block the message names.
    Mismatch(String),
}

/// Whether (height, view) is one the core may still act on: a height from `next` up to
/// `future_heights_max` ahead, a view at most `views_ahead_max` above `view`, and at the
/// current height not below the current view (PBFT-R1's window).
pub fn view_in_window(
    cfg: &PbftConfig,
    next: Height,
    view_now: u64,
    height: Height,
    view: u64,
) -> bool {
    height >= next
        && height <= next.saturating_add(cfg.future_heights_max)
        && view <= view_now.saturating_add(cfg.views_ahead_max)
        && (height > next || view >= view_now)
}

#[derive(Default)]
pub struct Proposals {
    /// Ordered by hash so that a replica executes several blocks of one height in the same
    /// order in every run (a seeded simulation replays exactly).
    by_height: BTreeMap<Height, BTreeMap<B256, SealedBlock>>,
    first_per_view: HashMap<(Height, u64), B256>,
}

impl Proposals {
    /// Keeps `bytes` as the block of (height, view) if it is the first for that view and
    /// decodes to the block the message names.
    pub fn accept(
        &mut self,
        head: Height,
        height: Height,
        view: u64,
        hash: B256,
        bytes: &[u8],
    ) -> Accepted {
        if height <= head || height > head.saturating_add(1 + BLOCK_HEIGHTS_AHEAD_MAX) {
            return Accepted::OutOfRange;
        }
        if let Some(first) = self.first_per_view.get(&(height, view)) {
            return if *first == hash {
                Accepted::Again
            } else {
                Accepted::Equivocation
            };
        }
        if self.first_per_view.len() >= PROPOSALS_KEPT_MAX {
            return Accepted::Full;
        }
        let block = match Block::decode_bytes(bytes) {
            Ok(b) => b.seal(),
            Err(e) => return Accepted::Mismatch(format!("undecodable block: {e}")),
        };
        if block.hash != hash || block.number() != height {
            return Accepted::Mismatch("block does not match its message".into());
        }
        self.first_per_view.insert((height, view), hash);
        let at = self.by_height.entry(height).or_default();
        if at.len() < BLOCKS_PER_HEIGHT_MAX {
            at.insert(hash, block);
        }
        Accepted::Kept
    }

    /// A block this node voted for before a restart (its own durable copy, so no view
    /// and no sender to check).
    pub fn restore(&mut self, block: SealedBlock) {
        let at = self.by_height.entry(block.number()).or_default();
        if at.len() < BLOCKS_PER_HEIGHT_MAX {
            at.insert(block.hash, block);
        }
    }

    /// The blocks held for `height`, handed over for execution.
    pub fn take(&mut self, height: Height) -> Option<BTreeMap<B256, SealedBlock>> {
        self.by_height.remove(&height)
    }

    pub fn get(&self, height: Height, hash: &B256) -> Option<&SealedBlock> {
        self.by_height.get(&height).and_then(|m| m.get(hash))
    }

    /// Forgets everything below `next` (the head moved).
    pub fn prune_below(&mut self, next: Height) {
        self.by_height = self.by_height.split_off(&next);
        self.first_per_view.retain(|(h, _), _| *h >= next);
    }

    pub fn len(&self) -> usize {
        self.first_per_view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first_per_view.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_types::Header;

    fn block(height: Height, salt: u8) -> SealedBlock {
        Block {
            header: Header {
                number: height,
                extra_data: vec![salt].into(),
                ..Default::default()
            },
            txs: Vec::new(),
        }
        .seal()
    }

    fn bytes(b: &SealedBlock) -> Vec<u8> {
        b.block.encode_bytes()
    }

    /// Issue 10 item 2: a Byzantine leader sending block after block used to grow the
    /// candidates without bound, each executed on the consensus thread.
    #[test]
    fn one_block_per_view_and_a_bounded_total() {
        let mut p = Proposals::default();
        let (a, b) = (block(5, 1), block(5, 2));
        assert_eq!(p.accept(4, 5, 0, a.hash, &bytes(&a)), Accepted::Kept);
        assert_eq!(p.accept(4, 5, 0, a.hash, &bytes(&a)), Accepted::Again);
        assert_eq!(
            p.accept(4, 5, 0, b.hash, &bytes(&b)),
            Accepted::Equivocation
        );
        for salt in 0..1_000u32 {
            let view = u64::from(salt) + 1;
            let blk = block(5, salt as u8);
            let _ = p.accept(4, 5, view, blk.hash, &bytes(&blk));
        }
        assert!(p.len() <= PROPOSALS_KEPT_MAX);
        assert!(p.take(5).expect("held").len() <= BLOCKS_PER_HEIGHT_MAX);
    }

    #[test]
    fn heights_out_of_range_and_mismatches_are_refused() {
        let mut p = Proposals::default();
        let old = block(4, 0);
        assert_eq!(
            p.accept(4, 4, 0, old.hash, &bytes(&old)),
            Accepted::OutOfRange
        );
        let far = block(8, 0);
        assert_eq!(
            p.accept(4, 8, 0, far.hash, &bytes(&far)),
            Accepted::OutOfRange
        );
        let ok = block(5, 0);
        assert!(matches!(
            p.accept(4, 5, 0, B256::repeat_byte(1), &bytes(&ok)),
            Accepted::Mismatch(_)
        ));
        assert!(matches!(
            p.accept(4, 5, 0, ok.hash, b"junk"),
            Accepted::Mismatch(_)
        ));
        assert_eq!(p.accept(4, 5, 0, ok.hash, &bytes(&ok)), Accepted::Kept);
        p.prune_below(6);
        assert!(p.is_empty() && p.get(5, &ok.hash).is_none());
    }

    #[test]
    fn the_view_window() {
        let cfg = PbftConfig::new(4, 0);
        let ahead = cfg.views_ahead_max;
        assert!(view_in_window(&cfg, 10, 3, 10, 3));
        assert!(
            !view_in_window(&cfg, 10, 3, 10, 2),
            "a passed view at the current height"
        );
        assert!(
            view_in_window(&cfg, 10, 3, 11, 0),
            "a later height starts at view 0"
        );
        assert!(view_in_window(&cfg, 10, 3, 10, 3 + ahead));
        assert!(!view_in_window(&cfg, 10, 3, 10, 4 + ahead));
        assert!(!view_in_window(&cfg, 10, 3, 9, 3));
        assert!(!view_in_window(
            &cfg,
            10,
            3,
            10 + cfg.future_heights_max + 1,
            0
        ));
        assert!(!view_in_window(&cfg, 10, u64::MAX, 10, u64::MAX - 1));
        assert!(view_in_window(&cfg, u64::MAX, u64::MAX, u64::MAX, u64::MAX));
    }
}
