//! Proposals, execution and decisions (PBFT-R3, R7, R8 from the driver's side).

use super::{PbftDriver, PendingDecision};
use crate::block_exec::{self, Candidate};
use crate::cluster::votes::encode_block_certificate;
use bcos_consensus::pbft::CommitCert;
use bcos_consensus::{Decision, ExecutedRoots, Input, Proposal, Protocol};
use bcos_types::{RecoveredTx, SealedBlock};

impl PbftDriver {
    /// The leader of an entered view builds and proposes a block when the pool has work;
    /// any other node only tells its core that work is pending (R9: it then expects a
    /// proposal and times out without one).
    pub(super) fn maybe_seal(&mut self) -> anyhow::Result<()> {
        let height = self.core.next_height();
        let next = self.base.head.number() + 1;
        if height != next || !self.settled() || !self.pending.is_empty() {
            return Ok(());
        }
        // GOV-R5: passed governance actions apply at the next block; an idle chain makes
        // an empty one for them (a validator-set change among them, PBFT-R20).
        let state: &dyn bcos_storage::StateReader = &*self.base.ctx.store;
        let actions_pending = bcos_execution::governance::actions_pending(state)?;
        if self.core.may_propose() {
            let batch = self.base.ctx.pool.take_ready_within(self.base.ctx.limits());
            if batch.is_empty() && !actions_pending {
                return Ok(());
            }
            let c = block_exec::build(&self.base.ctx, &self.base.head, batch)?;
            if c.included.is_empty() && !actions_pending {
                self.base.ctx.pool.on_block(&[], &c.rejected);
                return Ok(());
            }
            let roots = roots_of(&c.block);
            let proposal = Proposal {
                height,
                block_hash: c.block.hash,
            };
            tracing::debug!(height, txs = c.included.len(), "proposing");
            self.candidates.insert(c.block.hash, c);
            self.feed(Input::Propose(proposal))?;
            return self.feed(Input::Executed(roots));
        }
        // Only transactions the leader can propose are work: with gapped ones alone a
        // replica would expect a proposal that never comes and change views forever.
        let key = (height, self.core.view());
        if self.work_signaled != Some(key) && (self.base.ctx.pool.has_ready() || actions_pending) {
            self.work_signaled = Some(key);
            self.feed(Input::Propose(Proposal {
                height,
                block_hash: bcos_types::B256::ZERO,
            }))?;
        }
        Ok(())
    }

    /// Checks and executes every proposed block for `head + 1` not yet seen, and feeds the
    /// roots of each valid one to the core (R7 waits for them).
    pub(super) fn execute_proposed(&mut self) -> anyhow::Result<()> {
        let next = self.base.head.number() + 1;
        let Some(blocks) = self.proposals.take(next) else {
            return Ok(());
        };
        for (hash, block) in blocks {
            if self.candidates.contains_key(&hash) || self.invalid.contains(&hash) {
                continue;
            }
            let txs = match self.recover(&block) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(%hash, "proposed block refused: {e}");
                    self.invalid.insert(hash);
                    continue;
                }
            };
            match block_exec::verify_and_execute(&self.base.ctx, &self.base.head, block, txs) {
                Ok(c) => {
                    let roots = roots_of(&c.block);
                    self.candidates.insert(hash, c);
                    self.feed(Input::Executed(roots))?;
                }
                Err(e) => {
                    tracing::warn!(%hash, "proposed block refused: {e}");
                    self.invalid.insert(hash);
                }
            }
        }
        Ok(())
    }

    pub(super) fn recover(&self, block: &SealedBlock) -> anyhow::Result<Vec<RecoveredTx>> {
        self.base.recover(block)
    }

    /// R8: the core decided. Only noted here (outputs are applied in order and must not
    /// re-enter the core); `retry_pending` stores it after the output list is done.
    pub(super) fn on_decision(&mut self, d: Decision) -> anyhow::Result<()> {
        if d.height <= self.base.head.number() {
            return Ok(()); // synced meanwhile
        }
        let cert = CommitCert::decode(&d.certificate)
            .map_err(|e| anyhow::anyhow!("core produced an undecodable certificate: {e}"))?;
        self.pending.insert(d.height, PendingDecision { cert });
        Ok(())
    }

    /// Stores the lowest pending decision if its block and a quorum of valid commit
    /// signatures are at hand; otherwise waits (more commit votes, or block sync, will
    /// provide them).
    pub(super) fn retry_pending(&mut self) -> anyhow::Result<()> {
        let head = self.base.head.number();
        self.pending = self.pending.split_off(&(head + 1));
        let Some(p) = self.pending.get(&(head + 1)) else {
            if !self.pending.is_empty() {
                self.request_sync_now(); // an earlier block must come by sync first
            }
            return Ok(());
        };
        let cert = p.cert.clone();
        if !self.candidates.contains_key(&cert.body.block_hash) {
            self.execute_proposed()?;
        }
        let Some(c) = self.candidates.get(&cert.body.block_hash) else {
            self.request_sync_now();
            return Ok(());
        };
        let h = c.block.header();
        if h.state_root != cert.body.state_root || h.receipts_root != cert.body.receipts_root {
            anyhow::bail!(
                "a quorum decided block {} at {} with roots this node's execution does not give",
                cert.body.block_hash,
                cert.height
            );
        }
        let digest = self.book.commit_digest(cert.height, cert.view, cert.body);
        let (built, culprits) = self.book.certificate(digest);
        for c in culprits {
            tracing::warn!(
                culprit = c.signer_index,
                height = cert.height,
                "invalid commit signature"
            );
        }
        let Some(bls) = built else {
            return Ok(());
        };
        let Some(c) = self.candidates.remove(&cert.body.block_hash) else {
            return Ok(());
        };
        self.pending.remove(&cert.height);
        self.store_block(c, encode_block_certificate(cert.view, &bls))
    }

    /// Commits a checked block and moves the driver to the next height.
    pub(super) fn store_block(&mut self, c: Candidate, certificate: Vec<u8>) -> anyhow::Result<()> {
        self.base.store_block(c, certificate)?;
        let next = self.base.head.number() + 1;
        self.candidates.clear();
        self.invalid.clear();
        self.proposals.prune_below(next);
        self.view_changes.prune_below(next);
        self.book.prune_below(self.base.head.number());
        self.work_signaled = None;
        self.enter_next_height()?;
        self.execute_proposed()?;
        self.retry_pending()
    }
}

fn roots_of(block: &SealedBlock) -> ExecutedRoots {
    let h = block.header();
    ExecutedRoots {
        height: h.number,
        block_hash: block.hash,
        state_root: h.state_root,
        receipts_root: h.receipts_root,
    }
}
