//! The Byzantine relayer (spec/settlement.md §1, §8): it replays, reorders and skips honest
//! proofs and forges others from what it can see (committed blocks, their certificates, the
//! merchant chain's progress) and what it controls (its own chain [`ROGUE_CHAIN`], whose
//! validators certify anything). It cannot make a registered chain's certificate for a header
//! that chain did not commit (mock signatures are unforgeable, the model's abstraction).

use super::settlement_actors::{mock_cert, receipt_of, Chain, Tx, XsState, CHAINS, ROGUE_CHAIN};
use super::settlement_run::Refused;
use bcos_settlement::proof::ProofError;
use bcos_settlement::{Refusal, SettlementProof, SettlementRecord};
use bcos_types::{Bytes, U256};

/// What a made-up record claims (more than all payments of a run together).
pub const FORGED_AMOUNT: u64 = 100;

/// What the Byzantine relayer submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forgery {
    /// The honest proof of any committed record, at any time: replays, reorderings, gaps.
    Replay { chain: u8, seq: u64 },
    /// That proof with the receipt's record changed: amount and cumulative one more
    /// (consistent, so only XS-R6 stops it).
    Amount { chain: u8, seq: u64 },
    /// The same with only the amount changed (XS-R6, and XS-R9 behind it).
    Inconsistent { chain: u8, seq: u64 },
    /// The honest header and receipt with a certificate of the adversary's own chain (XS-R5).
    ForeignCert { chain: u8, seq: u64 },
    /// The honest proof claimed for the other user chain (XS-R7: the record names its own).
    OtherChain { chain: u8, seq: u64 },
    /// A made-up next block holding a made-up next record of [`FORGED_AMOUNT`], certified by
    /// a copy of the chain's latest real certificate (`copied`) or by the adversary's chain.
    MadeUp { chain: u8, copied: bool },
    /// A made-up record of [`ROGUE_CHAIN`], validly certified by its own validators (XS-R4).
    Unregistered,
}

/// Replaces the record in a proof's receipt (the header and the path stay).
fn with_record(mut p: SettlementProof, r: SettlementRecord) -> SettlementProof {
    p.receipt.logs[0] = r.to_log();
    p
}

/// A made-up block holding `record` on top of chain `c` (or of nothing), and its proof.
fn made_up(
    s: &XsState,
    c: Option<usize>,
    record: SettlementRecord,
    cert: CertOf,
) -> Option<SettlementProof> {
    let receipts = vec![receipt_of(&Tx::Settle(record), 0)];
    let header = match c {
        Some(c) => s.chains[c].next_header(CHAINS[c], &receipts),
        None => Chain::default().next_header(record.chain_id, &receipts),
    };
    let certificate = match cert {
        CertOf::Rogue => mock_cert(ROGUE_CHAIN, &header),
        CertOf::Copied(b) => b,
    };
    SettlementProof::build(record.chain_id, header, certificate, &receipts, 0, 0)
}

enum CertOf {
    Rogue,
    Copied(Bytes),
}

/// The proof the Byzantine relayer builds for `f` in `s` (`None`: `f` needs a record or a
/// certificate that does not exist yet).
pub fn forge(s: &XsState, f: Forgery) -> Option<SettlementProof> {
    let honest = |c: u8, seq: u64| s.chains[usize::from(c)].proof(seq).cloned();
    let record = |p: &SettlementProof| p.claimed_record().ok();
    Some(match f {
        Forgery::Replay { chain, seq } => honest(chain, seq)?,
        Forgery::Amount { chain, seq } => {
            let p = honest(chain, seq)?;
            let r = record(&p)?;
            let one = U256::from(1u64);
            with_record(
                p,
                SettlementRecord {
                    amount: r.amount + one,
                    cumulative: r.cumulative + one,
                    ..r
                },
            )
        }
        Forgery::Inconsistent { chain, seq } => {
            let p = honest(chain, seq)?;
            let r = record(&p)?;
            with_record(
                p,
                SettlementRecord {
                    amount: r.amount + U256::from(1u64),
                    ..r
                },
            )
        }
        Forgery::ForeignCert { chain, seq } => {
            let mut p = honest(chain, seq)?;
            p.certificate = mock_cert(ROGUE_CHAIN, &p.header);
            p
        }
        Forgery::OtherChain { chain, seq } => {
            let mut p = honest(chain, seq)?;
            p.chain_id = CHAINS[1 - usize::from(chain)];
            p
        }
        Forgery::MadeUp { chain, copied } => {
            let c = usize::from(chain);
            let progress = s.merchant.verifier.progress(CHAINS[c]);
            let amount = U256::from(FORGED_AMOUNT);
            let record = SettlementRecord {
                chain_id: CHAINS[c],
                seq: progress.credited_seq + 1,
                amount,
                cumulative: progress.credited + amount,
                block: s.chains[c].height() + 1,
            };
            let cert = if copied {
                CertOf::Copied(s.chains[c].blocks.last()?.certificate.clone())
            } else {
                CertOf::Rogue
            };
            made_up(s, Some(c), record, cert)?
        }
        Forgery::Unregistered => {
            let amount = U256::from(FORGED_AMOUNT);
            let record = SettlementRecord {
                chain_id: ROGUE_CHAIN,
                seq: 1,
                amount,
                cumulative: amount,
                block: 1,
            };
            made_up(s, None, record, CertOf::Rogue)?
        }
    })
}

/// Every forgery the Byzantine relayer may try in `s`.
pub fn forgeries(s: &XsState, out: &mut Vec<Forgery>) {
    type Of = fn(u8, u64) -> Forgery;
    let of_record: [Of; 5] = [
        |chain, seq| Forgery::Replay { chain, seq },
        |chain, seq| Forgery::Amount { chain, seq },
        |chain, seq| Forgery::Inconsistent { chain, seq },
        |chain, seq| Forgery::ForeignCert { chain, seq },
        |chain, seq| Forgery::OtherChain { chain, seq },
    ];
    for (c, chain) in s.chains.iter().enumerate() {
        let c = c as u8;
        for seq in 1..=chain.committed_seq() {
            out.extend(of_record.iter().map(|f| f(c, seq)));
        }
        out.push(Forgery::MadeUp {
            chain: c,
            copied: false,
        });
        if !chain.blocks.is_empty() {
            out.push(Forgery::MadeUp {
                chain: c,
                copied: true,
            });
        }
    }
    out.push(Forgery::Unregistered);
}

/// What the verifier's refusal says, by rule (for the coverage counters).
pub fn refusal_rule(r: &Refusal) -> Refused {
    match r {
        Refusal::UnknownChain(_) => Refused::UnknownChain,
        Refusal::Certificate { .. } => Refused::Certificate,
        Refusal::Proof(ProofError::NotInReceipts | ProofError::ReceiptFailed) => {
            Refused::NotIncluded
        }
        Refusal::Proof(ProofError::NoRecord(_))
        | Refusal::WrongChain { .. }
        | Refusal::WrongBlock { .. } => Refused::WrongChainOrBlock,
        Refusal::Replay { .. } => Refused::Replay,
        Refusal::Gap { .. } => Refused::Gap,
        Refusal::Inconsistent { .. } => Refused::Inconsistent,
        Refusal::Proof(ProofError::TooLarge { .. } | ProofError::Malformed(_)) => {
            Refused::Malformed
        }
    }
}
