//! The actors of the settlement model (spec/settlement.md §8), each running the real
//! `bcos-settlement` code:
//!
//! - two **user chains**: payments arrive in the merchant's proxy account, a `settle()`
//!   transaction runs [`ProducerState::settle`] (XS-R1, XS-R2) and moves the amount out of
//!   the proxy in the same transaction (XS-R3), and a block is committed with a real
//!   [`Header`] whose receipts root commits to the receipts (the settle receipt carries
//!   `record.to_log()`) and a mock commit certificate (bytes naming the chain and the header
//!   hash: what a quorum of that chain's validators would sign);
//! - **relayer 0** (honest): sends the proof ([`SettlementProof::build`]) of any committed
//!   record the merchant chain has not credited yet, into the network;
//! - the **network**: loses, duplicates (a delivered message stays in flight) and reorders
//!   (any message in flight may be delivered next);
//! - **relayer 1** (Byzantine, `settlement_forge.rs`): replays, reorders, skips and forges;
//!   its submissions reach the merchant chain directly (`settlement_model.rs` says why that
//!   loses no behaviour);
//! - the **merchant chain**: decodes the proof bytes and runs [`VerifierState::submit`] with
//!   [`MockCheck`]; a credit changes the verifier state and the merchant's balance together
//!   (XS-R10), a refusal changes nothing.

use super::settlement_forge::Forgery;
use bcos_settlement::{
    CertificateCheck, ChainId, ProducerState, Refusal, SettleRefusal, SettlementProof,
    SettlementRecord, VerifierConfig, VerifierState,
};
use bcos_types::block::receipts_root;
use bcos_types::{keccak256, Bytes, Header, Receipt, B256, U256};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The two user chains' ids (registered on the merchant chain, XS-R4).
pub const CHAINS: [ChainId; 2] = [20_201, 20_202];
/// The adversary's own chain: not registered; its validators are the adversary's, so it can
/// certify any header as this chain's.
pub const ROGUE_CHAIN: ChainId = 666;

/// The mock commit certificate of `chain` for `header`: what a quorum of `chain`'s
/// validators signs. Honest chains make one only for a header they committed; the adversary
/// can copy any it has seen and make any for [`ROGUE_CHAIN`], never one of a registered
/// chain for another header (signatures are unforgeable: the model's abstraction).
pub fn mock_cert(chain: ChainId, header: &Header) -> Bytes {
    let mut out = b"mock-cert:".to_vec();
    out.extend_from_slice(&chain.to_be_bytes());
    out.extend_from_slice(header.hash().as_slice());
    out.into()
}

/// The merchant chain's certificate check (XS-R5) with mock signatures: a registered chain's
/// certificate verifies iff it is [`mock_cert`] of that chain for that very header.
#[derive(Debug, Clone, Copy)]
pub struct MockCheck;

impl CertificateCheck for MockCheck {
    fn check(&self, chain: ChainId, header: &Header, certificate: &[u8]) -> Result<(), String> {
        if !CHAINS.contains(&chain) {
            return Err(format!("chain {chain} has no registered validators"));
        }
        if certificate == mock_cert(chain, header).as_ref() {
            Ok(())
        } else {
            Err("mock signature does not verify".into())
        }
    }
}

/// A transaction of a user-chain block as the model executes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tx {
    /// A user pays the merchant's proxy this much.
    Pay(u64),
    /// A `settle()` that made this record (a refused settle reverts; it is not modelled as a
    /// transaction, so it changes nothing).
    Settle(SettlementRecord),
}

/// The receipt of transaction `index` of a block.
pub fn receipt_of(tx: &Tx, index: usize) -> Receipt {
    Receipt {
        tx_type: 2,
        success: true,
        cumulative_gas_used: 21_000 * (index as u64 + 1),
        logs: match tx {
            Tx::Pay(_) => vec![],
            Tx::Settle(r) => vec![r.to_log()],
        },
    }
}

/// A committed block: its transactions, and what follows from them and the chain before it
/// (header, receipts, certificate, the proofs of its records). Equality and hashing look at
/// the transactions only.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub txs: Vec<Tx>,
    pub header: Header,
    pub hash: B256,
    pub certificate: Bytes,
    /// The proof of each record of the block, as relayers build it.
    pub proofs: Vec<SettlementProof>,
}

impl PartialEq for Sealed {
    fn eq(&self, other: &Self) -> bool {
        self.txs == other.txs
    }
}
impl Eq for Sealed {}
impl Hash for Sealed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.txs.hash(state);
    }
}

/// One user chain (a PBFT group: a committed block carries its commit certificate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Chain {
    /// Payments made so far (payment k, from 1, pays k).
    pub paid: u64,
    /// The merchant's proxy account.
    pub proxy: U256,
    /// The settlement contract's state (XS-R2).
    pub producer: ProducerState,
    /// The block being built, executed but not committed: relayers cannot see it.
    pub pending: Vec<Tx>,
    /// Committed blocks 1, 2, ...
    pub blocks: Arc<Vec<Sealed>>,
}

impl Chain {
    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn parent_hash(&self, id: ChainId) -> B256 {
        self.blocks.last().map_or_else(
            || keccak256([b"genesis".as_slice(), &id.to_be_bytes()].concat()),
            |b| b.hash,
        )
    }

    /// The header a block of `receipts` on top of this chain has.
    pub fn next_header(&self, id: ChainId, receipts: &[Receipt]) -> Header {
        let number = self.height() + 1;
        Header {
            parent_hash: self.parent_hash(id),
            number,
            timestamp: 1_700_000_000 + number,
            gas_limit: 30_000_000,
            gas_used: receipts.last().map_or(0, |r| r.cumulative_gas_used),
            receipts_root: receipts_root(receipts),
            ..Header::default()
        }
    }

    /// Records in committed blocks, in order.
    pub fn committed_records(&self) -> impl Iterator<Item = &SettlementRecord> {
        self.blocks
            .iter()
            .flat_map(|b| b.txs.iter())
            .filter_map(|t| match t {
                Tx::Settle(r) => Some(r),
                Tx::Pay(_) => None,
            })
    }

    /// Sequence number of the last committed record (0: none).
    pub fn committed_seq(&self) -> u64 {
        self.committed_records().last().map_or(0, |r| r.seq)
    }

    /// The honest proof of committed record `seq`.
    pub fn proof(&self, seq: u64) -> Option<&SettlementProof> {
        self.blocks
            .iter()
            .flat_map(|b| b.proofs.iter())
            .find(|p| p.claimed_record().is_ok_and(|r| r.seq == seq))
    }
}

/// A proof the honest relayer sent, by what it proves (the bytes are a function of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msg {
    /// Index into [`CHAINS`].
    pub chain: u8,
    pub seq: u64,
}

/// The merchant chain: the settlement contract's verifier state, the merchant's balance and
/// the credits it made (per chain the proof named, in order: what the properties read).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Merchant {
    pub verifier: VerifierState,
    pub balance: U256,
    pub credits: BTreeMap<ChainId, Vec<SettlementRecord>>,
}

/// A state of the whole system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XsState {
    pub chains: [Chain; 2],
    /// Honest proofs in flight (a set: a delivery leaves a copy, so duplicates are free).
    pub net: BTreeSet<Msg>,
    pub merchant: Merchant,
    /// Liveness form: the network has stopped losing messages.
    pub gst: bool,
    /// Liveness form: the Byzantine relayer has stopped for good (it need not help).
    pub quit: bool,
}

impl XsState {
    pub fn new(gst: bool) -> Self {
        XsState {
            chains: [Chain::default(), Chain::default()],
            net: BTreeSet::new(),
            merchant: Merchant::default(),
            gst,
            quit: false,
        }
    }

    /// Records of chain `c` credited so far.
    pub fn credited_seq(&self, c: usize) -> u64 {
        self.merchant.verifier.progress(CHAINS[c]).credited_seq
    }

    /// Credits made as chain `c`'s.
    pub fn credits_of(&self, c: usize) -> &[SettlementRecord] {
        self.merchant
            .credits
            .get(&CHAINS[c])
            .map_or(&[], Vec::as_slice)
    }

    /// Credits made in all.
    pub fn credits(&self) -> usize {
        self.merchant.credits.values().map(Vec::len).sum()
    }
}

/// One step of the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The next payment arrives in chain `c`'s proxy (in its pending block).
    Pay(u8),
    /// A `settle()` transaction executes in chain `c`'s pending block.
    Settle(u8),
    /// Chain `c` commits its pending block (PBFT: with a commit certificate).
    Seal(u8),
    /// Relayer `relayer` sends the proof of chain `chain`'s record `seq` into the network.
    Send { relayer: u8, msg: Msg },
    /// The network delivers a copy of the message to the merchant chain.
    Deliver(Msg),
    /// The network loses the message.
    Lose(Msg),
    /// The Byzantine relayer submits to the merchant chain.
    Forge { relayer: u8, forgery: Forgery },
    /// Liveness form: the network stops losing messages from here on.
    Gst,
    /// Liveness form: the Byzantine relayer stops for good. Its steps are not obligations:
    /// without this step every terminal state would be one where it did all it could, and
    /// an honest relayer would never be needed.
    Quit { relayer: u8 },
}

/// Why a step changed nothing: a producer refusal (XS-R1) or a verifier refusal (XS-R4..R9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoOp {
    Settle(SettleRefusal),
    Submit(Refusal),
    /// Nothing to do (e.g. a forgery needing a record that does not exist).
    Nothing,
}

/// What a step led to.
pub type Applied = Result<(XsState, Option<SettlementRecord>), NoOp>;

/// The merchant chain's side of a step: decodes the proof bytes, runs the real verifier and
/// applies a credit to the verifier state and the merchant's balance together (XS-R10).
pub fn submit(
    s: &XsState,
    config: &VerifierConfig,
    proof: &SettlementProof,
) -> Result<(Merchant, SettlementRecord), Refusal> {
    let proof = SettlementProof::decode(&proof.encode())?;
    let (credit, verifier) = s.merchant.verifier.submit(config, &proof, &MockCheck)?;
    let mut m = s.merchant.clone();
    m.verifier = verifier;
    m.balance += credit.record.amount;
    m.credits
        .entry(proof.chain_id)
        .or_default()
        .push(credit.record);
    Ok((m, credit.record))
}

/// Chain `c`'s steps that change something: pay, settle, seal.
pub fn produce(s: &XsState, c: usize, step: Step, payments: u64) -> Applied {
    let id = CHAINS[c];
    let chain = &s.chains[c];
    let mut next = s.clone();
    let out = &mut next.chains[c];
    match step {
        Step::Pay(_) if chain.paid < payments => {
            out.paid += 1;
            out.proxy += U256::from(out.paid);
            out.pending.push(Tx::Pay(out.paid));
        }
        Step::Settle(_) => {
            // XS-R1, XS-R2: the real producer, in the pending block.
            let (record, producer) = chain
                .producer
                .settle(id, chain.proxy, chain.height() + 1)
                .map_err(NoOp::Settle)?;
            // XS-R3: the same transaction moves the recorded amount out of the proxy.
            out.proxy -= record.amount;
            out.producer = producer;
            out.pending.push(Tx::Settle(record));
        }
        Step::Seal(_) if !chain.pending.is_empty() => {
            let txs = std::mem::take(&mut out.pending);
            let receipts: Vec<Receipt> = txs
                .iter()
                .enumerate()
                .map(|(i, t)| receipt_of(t, i))
                .collect();
            let header = chain.next_header(id, &receipts);
            let certificate = mock_cert(id, &header);
            let proofs = txs
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t, Tx::Settle(_)))
                .filter_map(|(i, _)| {
                    SettlementProof::build(id, header.clone(), certificate.clone(), &receipts, i, 0)
                })
                .collect();
            let mut blocks = (*chain.blocks).clone();
            blocks.push(Sealed {
                hash: header.hash(),
                txs,
                header,
                certificate,
                proofs,
            });
            out.blocks = Arc::new(blocks);
        }
        _ => return Err(NoOp::Nothing),
    }
    Ok((next, None))
}
