//! Cross-chain settlement (spec/settlement.md, `src/settlement`): two user chains producing
//! settlement records with the real `ProducerState::settle`, two relayers (0 honest, 1
//! Byzantine) over a lossy, duplicating, reordering network, and the merchant chain crediting
//! them with the real `VerifierState::submit` and a mock certificate check
//! (actors: `settlement_actors.rs`, `settlement_forge.rs`; the model:
//! `settlement_model.rs`; properties: `settlement_props.rs`; runner: `settlement_run.rs`).
//!
//! `check settlement` explores the whole reachable space (2 payments per chain by default,
//! `--heights N` for N) and checks XS-S1..S4 and the producer rules XS-R1..R3 on every state;
//! `--bug no-seq-check | accept-unsigned | skip-inclusion-proof` switches on the verifier's
//! seeded bug; `--scenario liveness` checks XS-L1 in the fair form; `--byzantine silent@0`
//! silences the honest relayer (`honest@1`, `silent@1`: relayer 1 honest or silent).

use super::settlement_actors::{XsState, CHAINS};
use super::settlement_model::{Relayer, XsCfg, XsModel};
use super::settlement_props::{model, paid};
use super::settlement_run::run;
use super::{CheckRequest, ModelError, Report};
use crate::byzantine::Role;
use crate::runner::{depth_or, RunOptions};
use bcos_settlement::SeededBug;
use std::fmt::Write as _;

/// The verifier's seeded bugs, by CLI name.
pub const BUGS: &[(&str, SeededBug)] = &SeededBug::NAMED;

/// Payments per user chain by default.
pub const PAYMENTS_DEFAULT: u64 = 2;
/// Most payments per chain `--heights` may ask for.
pub const PAYMENTS_MAX: u64 = 3;

fn bug_by_name(name: &str) -> Result<SeededBug, ModelError> {
    SeededBug::from_name(name).ok_or_else(|| ModelError::UnknownBug {
        protocol: "settlement",
        bug: name.to_string(),
        known: SeededBug::names(),
    })
}

/// The run's configuration from the CLI request.
fn config(req: &CheckRequest, liveness: bool) -> Result<XsCfg, ModelError> {
    if req.nodes.is_some() || req.candidates.is_some() || req.bound.is_some() {
        return Err(ModelError::Invalid(
            "settlement has two user chains and two relayers; --nodes, --candidates and \
             --views do not apply (--heights N: payments per chain)"
                .into(),
        ));
    }
    let payments = req.max_height.unwrap_or(PAYMENTS_DEFAULT);
    if !(1..=PAYMENTS_MAX).contains(&payments) {
        return Err(ModelError::Invalid(format!(
            "--heights is the payments per chain here: 1..={PAYMENTS_MAX}"
        )));
    }
    let faults = req.faults.unwrap_or(crate::Faults {
        loss: true,
        duplication: true,
        reordering: true,
        restarts: crate::Restarts::None,
    });
    if faults.restarts.max() != Some(0) {
        return Err(ModelError::Invalid(
            "no crash fault here: relayers are stateless and the chains are BFT groups \
             (their crashes are PBFT's business, check pbft)"
                .into(),
        ));
    }
    if !faults.reordering && !faults.duplication {
        return Err(ModelError::Invalid(
            "the settlement network always reorders (relayers' submissions race): add reorder"
                .into(),
        ));
    }
    let mut relayers = [Relayer::Honest, Relayer::Byzantine];
    if let Some((r, role)) = req.byzantine {
        let slot = relayers
            .get_mut(r as usize)
            .ok_or_else(|| ModelError::Invalid(format!("relayer {r} does not exist (0 or 1)")))?;
        *slot = match role {
            Role::Honest => Relayer::Honest,
            Role::Silent => Relayer::Silent,
            other => {
                return Err(ModelError::Invalid(format!(
                    "a settlement relayer is honest, silent or (relayer 1 by default) \
                     Byzantine, not {other}"
                )))
            }
        };
    }
    Ok(XsCfg {
        payments,
        relayers,
        loss: faults.loss,
        duplication: faults.duplication,
        liveness,
        credits_max: 2 * payments as usize + 1,
    })
}

/// The label of a run: its configuration in words.
pub fn label(cfg: &XsCfg, bug: Option<SeededBug>, opts: &RunOptions, what: &str) -> String {
    let role = |r: Relayer| match r {
        Relayer::Honest => "honest",
        Relayer::Silent => "silent",
        Relayer::Byzantine => "Byzantine",
    };
    let mut faults = vec![];
    if cfg.loss {
        faults.push("loss");
    }
    if cfg.duplication {
        faults.push("dup");
    }
    faults.push("reorder");
    format!(
        "settlement {what}: 2 user chains, {} payments each, relayer 0 {}, relayer 1 {}, network {}{}, {:?}{}",
        cfg.payments,
        role(cfg.relayers[0]),
        role(cfg.relayers[1]),
        faults.join(","),
        bug.map_or(String::new(), |b| format!(", seeded bug {b:?}")),
        opts.search,
        opts.depth_max.map_or(String::new(), |d| format!(", depth {d}"))
    )
}

pub fn check(req: &CheckRequest) -> Result<Report, ModelError> {
    let bug = req.bug.as_deref().map(bug_by_name).transpose()?;
    let liveness = match req.scenario.as_deref().unwrap_or("free") {
        "free" => false,
        "liveness" => true,
        other => {
            return Err(ModelError::Invalid(format!(
                "unknown settlement scenario {other:?} (expected free or liveness)"
            )))
        }
    };
    let cfg = config(req, liveness)?;
    let mut opts = req.run.clone();
    opts.depth_max = depth_or(opts.depth_max, None);
    let label = label(
        &cfg,
        bug,
        &opts,
        if liveness {
            "liveness (fair form)"
        } else {
            "free"
        },
    );
    eprintln!("{label} ...");
    let out = run(model(cfg, bug), &opts, describe);
    Ok(Report::single(label, out))
}

fn record_text(r: &bcos_settlement::SettlementRecord) -> String {
    format!(
        "#{} amount {} cum {} block {}",
        r.seq, r.amount, r.cumulative, r.block
    )
}

/// Renders a state for a counterexample: each chain, the network, the merchant chain.
pub fn describe(_: &XsModel, s: &XsState) -> String {
    let mut out = String::new();
    for (c, chain) in s.chains.iter().enumerate() {
        let records: Vec<String> = chain.committed_records().map(record_text).collect();
        let _ = writeln!(
            out,
            "    chain {}: paid {} (total {}), proxy {}, settled {} in {} record(s), {} block(s) committed, {} tx(s) pending; committed records [{}]",
            CHAINS[c],
            chain.paid,
            paid(chain.paid),
            chain.proxy,
            chain.producer.cumulative,
            chain.producer.last_seq,
            chain.height(),
            chain.pending.len(),
            records.join("; ")
        );
    }
    let net: Vec<String> = s
        .net
        .iter()
        .map(|m| format!("chain {} #{}", CHAINS[usize::from(m.chain)], m.seq))
        .collect();
    let _ = writeln!(out, "    in flight: [{}]", net.join(", "));
    let _ = writeln!(out, "    merchant balance {}", s.merchant.balance);
    let mut ids: Vec<u64> = CHAINS.to_vec();
    ids.extend(s.merchant.credits.keys().filter(|id| !CHAINS.contains(id)));
    for id in ids {
        let p = s.merchant.verifier.progress(id);
        let credits = s.merchant.credits.get(&id).map_or(&[][..], Vec::as_slice);
        let list: Vec<String> = credits.iter().map(record_text).collect();
        let _ = writeln!(
            out,
            "    merchant chain, from {id}: credited_seq {}, credited {}; credits [{}]",
            p.credited_seq,
            p.credited,
            list.join("; ")
        );
    }
    out
}
