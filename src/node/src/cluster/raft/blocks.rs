//! Proposals, committed entries and membership requests (RAFT-R6, R11, R15 from the
//! driver's side).

use super::RaftDriver;
use crate::block_exec::{self, Candidate};
use crate::cluster::config::SeededBug;
use crate::cluster::membership;
use bcos_consensus::raft::{MemberChange, RaftError};
use bcos_consensus::{Input, Proposal};
use bcos_types::{RecoveredTx, SealedBlock};

impl RaftDriver {
    /// The leader proposes the next block once its previous proposal committed: pooled
    /// transactions, and/or a membership change the system contract asked for (which may
    /// need a first entry of the leader's term committed, so it may propose an empty block
    /// for it; an idle chain with no pending change proposes nothing).
    pub(super) fn maybe_seal(&mut self) -> anyhow::Result<()> {
        // Seeded bug CommitOldTerm: a leader that counts replicas of old-term entries
        // believes it can commit them as they are, so it does not re-issue them.
        if self.core.tail_of_earlier_term() && !self.base.bug(SeededBug::RaftCommitOldTerm) {
            // RAFT-R17: this leader cannot build on an uncommitted block, and may not commit
            // an earlier term's entry without one of its own above it; it re-issues the tail
            // in its own term instead (found by bcos-sim, raft seed 1).
            let out = self.core.adopt_tail();
            return self.apply(out);
        }
        if !self.is_leader() || self.core.state().log.last().index != self.base.head.number() {
            return Ok(());
        }
        self.prune_wanted();
        let mut needs_block = false;
        if let Some(&change) = self.wanted.iter().next() {
            match self.core.change_membership(change) {
                Ok(()) => {
                    tracing::info!(?change, "membership change rides on the next block");
                    needs_block = true;
                }
                Err(RaftError::TermNotCommitted(_)) => needs_block = true,
                Err(RaftError::NoOpChange) | Err(RaftError::MemberOutOfRange { .. }) => {
                    self.wanted.remove(&change);
                }
                Err(_) => {}
            }
        }
        // GOV-R5: passed governance actions apply at the next block; an idle chain makes
        // an empty one for them (the voter wishes of GOV-R9 among them).
        let state: &dyn bcos_storage::StateReader = &*self.base.ctx.store;
        needs_block |= bcos_execution::governance::actions_pending(state)?;
        let batch = self.base.ctx.pool.take_ready_within(self.base.ctx.limits());
        if batch.is_empty() && !needs_block {
            return Ok(());
        }
        let c = block_exec::build(&self.base.ctx, &self.base.head, batch)?;
        if c.included.is_empty() && !needs_block {
            self.base.ctx.pool.on_block(&[], &c.rejected);
            return Ok(());
        }
        let proposal = Proposal {
            height: c.block.number(),
            block_hash: c.block.hash,
        };
        tracing::debug!(
            height = proposal.height,
            txs = c.included.len(),
            "proposing"
        );
        self.blocks.insert(c.block.hash, c.block.clone());
        self.candidates.insert(c.block.hash, c);
        // The body is durable before the entry that names it.
        self.persist_bodies()?;
        self.feed(Input::Propose(proposal))
    }

    /// The membership changes governance wants and the configuration lacks, read from the
    /// committed state (GOV-R9).
    pub(super) fn refresh_wanted(&mut self) -> anyhow::Result<()> {
        let n = self.base.cfg.members.len() as u32;
        let state: &dyn bcos_storage::StateReader = &*self.base.ctx.store;
        let wanted = membership::wanted(state, n, &self.core.members())?;
        if wanted != self.wanted {
            tracing::info!(?wanted, "membership changes governance wants");
            self.wanted = wanted;
        }
        Ok(())
    }

    /// GOV-R7: the least election timeout governance set, else `[cluster]
    /// election_timeout_ms` (a value at or below the heartbeat period is refused, logged).
    pub(super) fn apply_governed_timeout(&mut self) {
        let ms = self
            .base
            .governed_timeout_ms(self.base.cfg.election_timeout_ms);
        if ms != self.core.config().election_timeout_ticks && self.timeout_refused != Some(ms) {
            if self.core.set_election_timeout_ticks(ms) {
                tracing::info!(election_timeout_ms = ms, "election timeout (GOV-R7)");
            } else {
                self.timeout_refused = Some(ms);
                tracing::warn!(
                    election_timeout_ms = ms,
                    heartbeat_ms = self.base.cfg.heartbeat_ms,
                    "governed election timeout not above the heartbeat; kept the old one"
                );
            }
        }
    }

    /// Drops requests the membership already reflects.
    pub(super) fn prune_wanted(&mut self) {
        let members = self.core.members();
        self.wanted.retain(|c| match c {
            MemberChange::Add(x) => !members.contains(x),
            MemberChange::Remove(x) => members.contains(x),
        });
    }

    /// Stores committed entries in height order while their blocks are at hand.
    pub(super) fn store_pending(&mut self) -> anyhow::Result<()> {
        loop {
            let next = self.base.head.number() + 1;
            self.pending = self.pending.split_off(&next);
            let Some(d) = self.pending.get(&next).cloned() else {
                if !self.pending.is_empty() {
                    self.request_sync_now();
                }
                return Ok(());
            };
            if self.halted_at.is_some() {
                return Ok(());
            }
            let c = if let Some(c) = self.candidates.remove(&d.block_hash) {
                c
            } else if let Some(b) = self.blocks.get(&d.block_hash).cloned() {
                let checked = self.recover(&b).and_then(|txs| {
                    block_exec::verify_and_execute(&self.base.ctx, &self.base.head, b, txs)
                        .map_err(anyhow::Error::from)
                });
                match checked {
                    Ok(c) => c,
                    Err(e) => {
                        // Raft trusts its leader; a committed block that does not execute
                        // here would fork this node's state. It stops applying blocks and
                        // says so, but keeps running (spec/raft.md §5.1).
                        tracing::error!(
                            height = next,
                            hash = %d.block_hash,
                            "committed block does not execute on this node; applying stopped: {e:#}"
                        );
                        self.halted_at = Some(next);
                        return Ok(());
                    }
                }
            } else {
                self.request_sync_now();
                return Ok(());
            };
            self.pending.remove(&next);
            self.store_block(c, d.certificate)?;
        }
    }

    pub(super) fn recover(&self, block: &SealedBlock) -> anyhow::Result<Vec<RecoveredTx>> {
        self.base.recover(block)
    }

    /// Commits a block, then compares the configuration with governance's voter wishes
    /// (GOV-R9).
    pub(super) fn store_block(&mut self, c: Candidate, certificate: Vec<u8>) -> anyhow::Result<()> {
        self.base.store_block(c, certificate)?;
        self.refresh_wanted()?;
        self.apply_governed_timeout();
        let head = self.base.head.number();
        self.blocks.retain(|_, b| b.number() > head);
        self.candidates.retain(|_, c| c.block.number() > head);
        self.invalid.clear();
        Ok(())
    }
}
