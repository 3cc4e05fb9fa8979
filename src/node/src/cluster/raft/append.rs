//! What a follower acknowledges (spec/raft.md §5.1, issue 10 item 8): an entry is handed to
//! the core, and so acknowledged, only once this node has checked and executed its block on
//! its own head (the executed candidate is kept for the commit). An entry whose block is
//! invalid is never acknowledged, so a majority of correct followers keeps it from
//! committing. Entries above `head + 1` cannot be executed yet: they are held and handed over
//! when the head reaches them, as the same leader's append split in two (which the leader
//! could have sent as two messages).

use super::RaftDriver;
use crate::block_exec;
use bcos_consensus::raft::{Append, Entry, RaftMsg, Role};
use bcos_consensus::Input;

impl RaftDriver {
    pub(super) fn admit_append(&mut self, from: u32, a: Append) -> anyhow::Result<()> {
        self.admit_once(from, a)?;
        while let Some((leader, held)) = self.release_held() {
            self.admit_once(leader, held)?;
        }
        Ok(())
    }

    fn admit_once(&mut self, from: u32, a: Append) -> anyhow::Result<()> {
        let head = self.base.head.number();
        let (now, later) = split_ready(&a.entries, head, |e| self.entry_block_ok(e));
        let prev_of_later = now.last().map_or(a.prev, Entry::pos);
        // What the core appends (and acknowledges) has its body on disk first.
        self.persist_bodies()?;
        self.feed(Input::Message {
            from,
            msg: RaftMsg::Append(Append {
                entries: now,
                ..a.clone()
            }),
        })?;
        if !later.is_empty() {
            // Waits for the head; one whose first block turns out invalid or missing is
            // dropped at release (the leader sends it again).
            self.held = Some((
                from,
                Append {
                    term: a.term,
                    prev: prev_of_later,
                    entries: later,
                    commit: a.commit,
                },
            ));
        }
        Ok(())
    }

    /// The held remainder, once its first entry is the next to execute and it still comes
    /// from the leader of the current term.
    fn release_held(&mut self) -> Option<(u32, Append)> {
        let (from, a) = self.held.as_ref()?;
        let current = a.term == self.core.term()
            && self.core.role() == Role::Follower
            && self.core.leader() == Some(*from);
        let head = self.base.head.number();
        let first = a.entries.first().map(|e| e.index);
        match first {
            Some(first) if current && first == head + 1 => {}
            Some(first) if current && first > head + 1 => return None, // keeps waiting
            _ => {
                self.held = None;
                return None;
            }
        }
        let taken = self.held.take()?;
        let e = *taken.1.entries.first()?;
        self.entry_block_ok(&e).then_some(taken)
    }

    /// Checks and executes the block of the entry at `head + 1` once; true when it is valid
    /// (its candidate is then kept for the commit).
    fn entry_block_ok(&mut self, e: &Entry) -> bool {
        if self.candidates.contains_key(&e.block_hash) {
            return true;
        }
        if self.invalid.contains(&e.block_hash) {
            return false;
        }
        let Some(block) = self.blocks.get(&e.block_hash).cloned() else {
            return false;
        };
        let checked = self.recover(&block).and_then(|txs| {
            block_exec::verify_and_execute(&self.base.ctx, &self.base.head, block, txs)
                .map_err(anyhow::Error::from)
        });
        match checked {
            Ok(c) => {
                self.candidates.insert(e.block_hash, c);
                true
            }
            Err(err) => {
                tracing::warn!(
                    height = e.index,
                    hash = %e.block_hash,
                    "not acknowledging an entry whose block is invalid: {err:#}"
                );
                self.invalid.insert(e.block_hash);
                false
            }
        }
    }
}

/// Splits an append's entries into those to hand to the core now and those to hold: entries
/// at or below the head pass (already stored), the one at `head + 1` passes if its block
/// checks out, and everything from the first that does not pass waits.
pub fn split_ready(
    entries: &[Entry],
    head: u64,
    mut block_ok: impl FnMut(&Entry) -> bool,
) -> (Vec<Entry>, Vec<Entry>) {
    let cut = entries
        .iter()
        .position(|e| !(e.index <= head || (e.index == head + 1 && block_ok(e))))
        .unwrap_or(entries.len());
    (entries[..cut].to_vec(), entries[cut..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcos_types::B256;

    fn entries(from: u64, to: u64) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry {
                term: 1,
                index,
                block_hash: B256::repeat_byte(index as u8),
                change: None,
            })
            .collect()
    }

    fn indices(es: &[Entry]) -> Vec<u64> {
        es.iter().map(|e| e.index).collect()
    }

    /// Issue 10 item 8: a follower used to acknowledge every entry it appended, executed or
    /// not. Now only the entry at head + 1 whose block executed passes; later ones wait.
    #[test]
    fn only_executed_entries_are_handed_to_the_core() {
        let es = entries(9, 12);
        let (now, later) = split_ready(&es, 10, |_| true);
        assert_eq!(
            (indices(&now), indices(&later)),
            (vec![9, 10, 11], vec![12])
        );
        let (now, later) = split_ready(&es, 10, |_| false);
        assert_eq!(
            (indices(&now), indices(&later)),
            (vec![9, 10], vec![11, 12])
        );
        let (now, later) = split_ready(&entries(13, 14), 10, |_| true);
        assert_eq!((indices(&now), indices(&later)), (vec![], vec![13, 14]));
        let (now, later) = split_ready(&[], 10, |_| true);
        assert!(now.is_empty() && later.is_empty());
    }

    #[test]
    fn the_block_check_runs_only_for_the_next_entry() {
        let mut asked = Vec::new();
        split_ready(&entries(5, 9), 6, |e| {
            asked.push(e.index);
            true
        });
        assert_eq!(asked, vec![7]);
    }
}
