//! The settlement model as a stateright [`Model`] (the actors: `settlement_actors.rs`,
//! `settlement_forge.rs`; the runner: `settlement_run.rs`).
//!
//! A transition is one step of one actor. Steps that change nothing are not offered: a
//! refused `settle()` (XS-R1) or a refused submission (XS-R4..R9) leaves the state as it was,
//! so it is counted (coverage: which rule refused how many) and dropped. Without such
//! self-loops a state is terminal exactly when nothing can change any more, which the
//! liveness form needs (stateright judges `eventually` at terminal states).
//!
//! **Reduction: the Byzantine relayer's submissions arrive at once.** Everything it can build
//! it can still build later (committed blocks, their certificates and the merchant chain's
//! progress only grow, and each forgery is a function of them), so a forged message held in
//! flight and delivered later is the same as one built and submitted later; holding them in
//! the network would only multiply states. Only the honest relayer's messages are in flight,
//! where loss matters for liveness.

use super::settlement_actors::{produce, submit, Msg, NoOp, Step, XsState, CHAINS};
use super::settlement_forge::{forge, forgeries, refusal_rule};
use super::settlement_run::{Refused, XsCoverage};
use bcos_settlement::{SettleRefusal, SettlementRecord, VerifierConfig};
use stateright::{Model, Property};
use std::collections::HashSet;
use std::sync::Arc;

/// What a relayer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayer {
    /// Sends the proof of every committed, uncredited record, again after a loss.
    Honest,
    Silent,
    /// Replays, reorders, skips and forges ([`super::settlement_forge::Forgery`]).
    Byzantine,
}

/// A model's configuration.
#[derive(Debug, Clone)]
pub struct XsCfg {
    /// Payments per user chain (payment k pays k).
    pub payments: u64,
    pub relayers: [Relayer; 2],
    pub loss: bool,
    /// A delivered message stays in flight (may be delivered again).
    pub duplication: bool,
    /// Liveness form: a `GST` step ends the losses.
    pub liveness: bool,
    /// States with more credits are not expanded (only a seeded bug reaches it).
    pub credits_max: usize,
}

/// A condition on a state (properties, probes).
pub type XsCond = fn(&XsModel, &XsState) -> bool;

/// The model.
#[derive(Clone)]
pub struct XsModel {
    pub cfg: XsCfg,
    pub verifier: VerifierConfig,
    pub properties: Vec<Property<XsModel>>,
    pub probes: Vec<(&'static str, XsCond)>,
    pub coverage: Arc<XsCoverage>,
}

/// A transition: the step and the state it leads to (computed once, in `actions`).
#[derive(Clone)]
pub struct Move {
    pub step: Step,
    /// The record the step credited, if any (shown in counterexamples).
    pub credited: Option<SettlementRecord>,
    pub result: Arc<XsState>,
}

impl PartialEq for Move {
    fn eq(&self, other: &Self) -> bool {
        self.step == other.step
    }
}

impl std::fmt::Debug for Move {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.step)
    }
}

impl XsModel {
    /// Every step some actor may try in `s` (many change nothing; `apply` says).
    fn steps(&self, s: &XsState, out: &mut Vec<Step>) {
        for c in 0..CHAINS.len() as u8 {
            out.extend([Step::Pay(c), Step::Settle(c), Step::Seal(c)]);
        }
        for (r, role) in self.cfg.relayers.iter().enumerate() {
            let relayer = r as u8;
            match role {
                Relayer::Honest => {
                    for (c, chain) in s.chains.iter().enumerate() {
                        for seq in s.credited_seq(c) + 1..=chain.committed_seq() {
                            let msg = Msg {
                                chain: c as u8,
                                seq,
                            };
                            out.push(Step::Send { relayer, msg });
                        }
                    }
                }
                Relayer::Byzantine if !s.quit => {
                    if self.cfg.liveness {
                        out.push(Step::Quit { relayer });
                    }
                    let mut fs = Vec::new();
                    forgeries(s, &mut fs);
                    out.extend(
                        fs.into_iter()
                            .map(|forgery| Step::Forge { relayer, forgery }),
                    );
                }
                Relayer::Byzantine | Relayer::Silent => {}
            }
        }
        let faults = !(self.cfg.liveness && s.gst);
        for m in &s.net {
            out.push(Step::Deliver(*m));
            if self.cfg.loss && faults {
                out.push(Step::Lose(*m));
            }
        }
        if self.cfg.liveness && !s.gst {
            out.push(Step::Gst);
        }
    }

    /// Takes one step: the next state and the record credited, or why nothing changed.
    pub fn apply(
        &self,
        s: &XsState,
        step: Step,
    ) -> Result<(XsState, Option<SettlementRecord>), NoOp> {
        match step {
            Step::Pay(c) | Step::Settle(c) | Step::Seal(c) => {
                produce(s, usize::from(c), step, self.cfg.payments)
            }
            Step::Send { msg, .. } => {
                if s.net.contains(&msg) {
                    return Err(NoOp::Nothing);
                }
                let mut next = s.clone();
                next.net.insert(msg);
                Ok((next, None))
            }
            Step::Lose(msg) => {
                let mut next = s.clone();
                next.net.remove(&msg);
                Ok((next, None))
            }
            Step::Gst => {
                let mut next = s.clone();
                next.gst = true;
                Ok((next, None))
            }
            Step::Quit { .. } => {
                let mut next = s.clone();
                next.quit = true;
                Ok((next, None))
            }
            Step::Deliver(msg) => {
                let proof = s.chains[usize::from(msg.chain)]
                    .proof(msg.seq)
                    .ok_or(NoOp::Nothing)?;
                match submit(s, &self.verifier, proof) {
                    Ok((merchant, record)) => {
                        let mut next = s.clone();
                        next.merchant = merchant;
                        if !self.cfg.duplication {
                            next.net.remove(&msg);
                        }
                        Ok((next, Some(record)))
                    }
                    Err(r) if self.cfg.duplication => Err(NoOp::Submit(r)),
                    Err(r) => {
                        // Consumed, refused: the message is gone, nothing else changes.
                        self.coverage.refused(refusal_rule(&r));
                        let mut next = s.clone();
                        next.net.remove(&msg);
                        Ok((next, None))
                    }
                }
            }
            Step::Forge { forgery, .. } => {
                let proof = forge(s, forgery).ok_or(NoOp::Nothing)?;
                let (merchant, record) = submit(s, &self.verifier, &proof).map_err(NoOp::Submit)?;
                let mut next = s.clone();
                next.merchant = merchant;
                Ok((next, Some(record)))
            }
        }
    }

    fn count(&self, why: &NoOp) {
        match why {
            NoOp::Settle(SettleRefusal::NothingToSettle) => {
                self.coverage.refused(Refused::NothingToSettle)
            }
            NoOp::Settle(SettleRefusal::AlreadySettledInBlock { .. }) => {
                self.coverage.refused(Refused::BlockHasRecord)
            }
            NoOp::Submit(r) => self.coverage.refused(refusal_rule(r)),
            NoOp::Settle(_) | NoOp::Nothing => {}
        }
    }

    /// A step in words, as a counterexample shows it.
    pub fn format_step(&self, step: &Step, credited: Option<&SettlementRecord>) -> String {
        let chain = |c: u8| CHAINS[usize::from(c)];
        let what = match *step {
            Step::Pay(c) => format!("chain {}: a payment into the merchant's proxy", chain(c)),
            Step::Settle(c) => format!("chain {}: settle() makes the next record", chain(c)),
            Step::Seal(c) => format!("chain {}: block committed with its certificate", chain(c)),
            Step::Send { relayer, msg } => format!(
                "relayer {relayer} → network: proof of chain {} record {}",
                chain(msg.chain),
                msg.seq
            ),
            Step::Deliver(msg) => format!(
                "network → merchant chain: proof of chain {} record {} (a copy stays in flight)",
                chain(msg.chain),
                msg.seq
            ),
            Step::Lose(msg) => format!(
                "LOST: proof of chain {} record {}",
                chain(msg.chain),
                msg.seq
            ),
            Step::Forge { relayer, forgery } => {
                format!("relayer {relayer} (Byzantine) → merchant chain: {forgery:?}")
            }
            Step::Gst => "GST: the network stops losing messages".to_string(),
            Step::Quit { relayer } => format!("relayer {relayer} (Byzantine) stops for good"),
        };
        match credited {
            Some(r) => format!(
                "{what} → CREDITED chain {} record {} amount {} cumulative {} (block {})",
                r.chain_id, r.seq, r.amount, r.cumulative, r.block
            ),
            None => what,
        }
    }
}

impl Model for XsModel {
    type State = XsState;
    type Action = Move;

    fn init_states(&self) -> Vec<XsState> {
        vec![XsState::new(!(self.cfg.liveness && self.cfg.loss))]
    }

    fn actions(&self, state: &XsState, actions: &mut Vec<Move>) {
        let mut steps = Vec::new();
        self.steps(state, &mut steps);
        let mut seen = HashSet::new();
        for step in steps {
            match self.apply(state, step) {
                Ok((next, credited)) => {
                    if seen.insert(fingerprint(&next)) {
                        actions.push(Move {
                            step,
                            credited,
                            result: Arc::new(next),
                        });
                    }
                }
                Err(why) => self.count(&why),
            }
        }
    }

    fn next_state(&self, _: &XsState, action: Move) -> Option<XsState> {
        Some((*action.result).clone())
    }

    fn format_action(&self, action: &Move) -> String {
        self.format_step(&action.step, action.credited.as_ref())
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, s: &XsState) -> bool {
        s.credits() <= self.cfg.credits_max
    }
}

fn fingerprint(s: &XsState) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
