//! Where governance keeps what (spec/governance.md §2): every entry at a slot of
//! `0x…1008`'s storage named by keccak256("gov." ‖ tag ‖ each part with its length), as the
//! CNS names its slots. Reads go through [`Slots`], so the pool reads the committed state and
//! the executor the block's overlay with the same code; writes only ever happen on the
//! overlay ([`SystemState`]).

use crate::error::DbError;
use crate::system::SystemState;
use alloy_primitives::{keccak256, Address, U256};
use bcos_storage::StateReader;
use bcos_types::governance::{GOVERNANCE_ADDRESS, GOV_ACTION_BYTES_MAX};

/// The longest byte string kept: an action with its queue entry's 8-byte proposal id (the
/// bound keeps a corrupt length word from reading or clearing without end).
const STORED_BYTES_MAX: usize = GOV_ACTION_BYTES_MAX + 32;

pub(crate) fn slot(tag: &str, parts: &[&[u8]]) -> U256 {
    crate::system_abi::named_slot(b"gov.", tag, parts)
}

/// The two slots every transaction's checks read sit at fixed, unhashed places (a tag in the
/// top byte, the address in the low 20), so that checking costs no keccak: a hashed slot
/// lands in that space with probability 2^-88.
const TAG_FLAGS: u8 = 0x01;
const TAG_POLICY: u8 = 0x02;

fn tagged(tag: u8, address: Address) -> U256 {
    let mut word = [0u8; 32];
    word[0] = tag;
    word[12..].copy_from_slice(address.as_slice());
    U256::from_be_bytes(word)
}

pub(crate) fn flags_slot(account: Address) -> U256 {
    tagged(TAG_FLAGS, account)
}

pub(crate) fn policy_slot() -> U256 {
    tagged(TAG_POLICY, Address::ZERO)
}

/// Read access to governance's storage.
pub trait Slots {
    fn word(&mut self, at: U256) -> Result<U256, DbError>;
}

/// The committed state, as the pool reads it at admission.
pub struct Committed<'a>(pub &'a dyn StateReader);

impl Slots for Committed<'_> {
    fn word(&mut self, at: U256) -> Result<U256, DbError> {
        Ok(self.0.storage(&GOVERNANCE_ADDRESS, &at)?)
    }
}

impl Slots for SystemState<'_, '_> {
    fn word(&mut self, at: U256) -> Result<U256, DbError> {
        self.sload(GOVERNANCE_ADDRESS, at)
    }
}

/// The block's overlay, read without staging anything (the executor's checks).
impl Slots for revm::database::CacheDB<crate::db::StateDb<'_>> {
    fn word(&mut self, at: U256) -> Result<U256, DbError> {
        revm::Database::storage(self, GOVERNANCE_ADDRESS, at)
    }
}

/// Per-account flags, one word per account (REG-R1): the checks of a transaction read its
/// sender's and its recipient's.
pub(crate) mod flag {
    pub const FROZEN: u64 = 1;
    pub const BLACKLISTED: u64 = 1 << 1;
    pub const MAY_DEPLOY: u64 = 1 << 2;
    pub const MAY_SEND: u64 = 1 << 3;
    /// The account has a velocity rule of its own.
    pub const VELOCITY: u64 = 1 << 4;
    /// The account has methods restricted to listed callers.
    pub const TARGET_ACL: u64 = 1 << 5;
    /// The account may only deal with listed counterparties; the action sits in bits 8..16.
    pub const COUNTERPARTY: u64 = 1 << 6;
}

/// The chain-wide policy word: whether any rule was ever set, which lists are on and the
/// actions of the global rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Some action other than a setting, the committee or the regulator was applied: until
    /// then no transaction has anything to check (REG-R1's fast path).
    pub active: bool,
    pub deploy_list: bool,
    pub send_list: bool,
    pub amount_action: u8,
    pub default_velocity_action: u8,
}

impl Policy {
    fn from_word(w: u64) -> Self {
        Policy {
            deploy_list: w & 1 != 0,
            send_list: w & 2 != 0,
            active: w & 4 != 0,
            amount_action: ((w >> 8) & 0xff) as u8,
            default_velocity_action: ((w >> 16) & 0xff) as u8,
        }
    }

    fn to_word(self) -> u64 {
        u64::from(self.deploy_list)
            | u64::from(self.send_list) << 1
            | u64::from(self.active) << 2
            | u64::from(self.amount_action) << 8
            | u64::from(self.default_velocity_action) << 16
    }
}

/// A velocity rule: at most `count_max` transactions and `amount_max` wei per window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Velocity {
    pub window_blocks: u64,
    pub count_max: u64,
    pub amount_max: U256,
    pub action: u8,
}

/// What an account sent in its current velocity window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Spent {
    pub window: u64,
    pub count: u64,
    pub amount: U256,
}

fn low_u64(w: U256) -> u64 {
    // Words read as u64 were written from u64 values by this contract.
    u64::try_from(w & U256::from(u64::MAX)).unwrap_or(u64::MAX)
}

fn pack2(a: u64, b: u64) -> U256 {
    U256::from(a) << 64 | U256::from(b)
}

fn unpack2(w: U256) -> (u64, u64) {
    (low_u64(w >> 64), low_u64(w))
}

/// Reads of governance's storage; the same on the committed state and on the overlay.
pub(crate) trait Read: Slots {
    fn count(&mut self, at: U256) -> Result<u64, DbError> {
        Ok(low_u64(self.word(at)?))
    }

    fn address(&mut self, at: U256) -> Result<Address, DbError> {
        Ok(Address::from_word(self.word(at)?.into()))
    }

    fn flags(&mut self, account: Address) -> Result<u64, DbError> {
        self.count(flags_slot(account))
    }

    fn policy(&mut self) -> Result<Policy, DbError> {
        Ok(Policy::from_word(self.count(policy_slot())?))
    }

    fn amount_max(&mut self) -> Result<U256, DbError> {
        self.word(slot("amount.max", &[]))
    }

    /// The rule of `account` (the zero address: the default rule).
    fn velocity(&mut self, account: Address) -> Result<Velocity, DbError> {
        let (window_blocks, count_max) =
            unpack2(self.word(slot("velocity", &[account.as_slice()]))?);
        let amount_max = self.word(slot("velocity.amount", &[account.as_slice()]))?;
        let action = self.count(slot("velocity.action", &[account.as_slice()]))?;
        Ok(Velocity {
            window_blocks,
            count_max,
            amount_max,
            action: u8::try_from(action).unwrap_or(u8::MAX),
        })
    }

    fn spent(&mut self, account: Address) -> Result<Spent, DbError> {
        let (window, count) = unpack2(self.word(slot("spent", &[account.as_slice()]))?);
        let amount = self.word(slot("spent.amount", &[account.as_slice()]))?;
        Ok(Spent {
            window,
            count,
            amount,
        })
    }

    fn counterparty_action(&mut self, account: Address) -> Result<u8, DbError> {
        let a = self.count(slot("cp.action", &[account.as_slice()]))?;
        Ok(u8::try_from(a).unwrap_or(u8::MAX))
    }

    fn counterparty_allowed(&mut self, account: Address, other: Address) -> Result<bool, DbError> {
        Ok(!self
            .word(slot("cp", &[account.as_slice(), other.as_slice()]))?
            .is_zero())
    }

    fn method_restricted(&mut self, target: Address, selector: [u8; 4]) -> Result<bool, DbError> {
        Ok(!self
            .word(slot("acl.restricted", &[target.as_slice(), &selector]))?
            .is_zero())
    }

    fn call_allowed(
        &mut self,
        target: Address,
        selector: [u8; 4],
        account: Address,
    ) -> Result<bool, DbError> {
        Ok(!self
            .word(slot(
                "acl.allow",
                &[target.as_slice(), &selector, account.as_slice()],
            ))?
            .is_zero())
    }

    fn restricted_methods(&mut self, target: Address) -> Result<u64, DbError> {
        self.count(slot("acl.count", &[target.as_slice()]))
    }

    fn regulator(&mut self) -> Result<Address, DbError> {
        self.address(slot("regulator", &[]))
    }

    fn setting(&mut self, key: &str) -> Result<U256, DbError> {
        self.word(slot("setting", &[key.as_bytes()]))
    }

    fn threshold(&mut self) -> Result<u64, DbError> {
        self.count(slot("threshold", &[]))
    }

    fn member_count(&mut self) -> Result<u64, DbError> {
        self.count(slot("members", &[]))
    }

    fn member_at(&mut self, index: u64) -> Result<Address, DbError> {
        self.address(slot("member", &[&index.to_be_bytes()]))
    }

    /// A member's weight; zero for anyone else.
    fn weight(&mut self, account: Address) -> Result<u64, DbError> {
        self.count(slot("weight", &[account.as_slice()]))
    }

    fn bytes(&mut self, base: U256) -> Result<Vec<u8>, DbError> {
        // Only this contract writes these, within the limit.
        crate::system_abi::read_bytes(|at| self.word(at), base, STORED_BYTES_MAX)
    }

    fn proposal_count(&mut self) -> Result<u64, DbError> {
        self.count(slot("proposals", &[]))
    }

    fn proposal(&mut self, id: u64) -> Result<Option<Proposal>, DbError> {
        let k = id.to_be_bytes();
        let proposer = self.address(slot("p.proposer", &[&k]))?;
        if proposer.is_zero() {
            return Ok(None);
        }
        let (created, expires) = unpack2(self.word(slot("p.blocks", &[&k]))?);
        let (weight_for, weight_against) = unpack2(self.word(slot("p.weights", &[&k]))?);
        let status = u8::try_from(self.count(slot("p.status", &[&k]))?).unwrap_or(u8::MAX);
        let action = self.bytes(slot("p.action", &[&k]))?;
        Ok(Some(Proposal {
            proposer,
            action,
            created,
            expires,
            weight_for,
            weight_against,
            status,
        }))
    }

    /// 0: not voted, 1: for, 2: against.
    fn vote_of(&mut self, id: u64, member: Address) -> Result<u64, DbError> {
        self.count(slot("p.vote", &[&id.to_be_bytes(), member.as_slice()]))
    }

    /// A set of byte strings (CAs, revoked node ids and serials): its size.
    fn set_len(&mut self, tag: &str) -> Result<u64, DbError> {
        self.count(slot(tag, &[]))
    }

    fn set_at(&mut self, tag: &str, index: u64) -> Result<Vec<u8>, DbError> {
        self.bytes(slot(tag, &[&index.to_be_bytes()]))
    }

    /// The member's place in the set plus one; zero if it is not in it.
    fn set_place(&mut self, tag: &str, value: &[u8]) -> Result<u64, DbError> {
        self.count(slot(tag, &[b"index", keccak256(value).as_slice()]))
    }

    fn set_members(&mut self, tag: &str) -> Result<Vec<Vec<u8>>, DbError> {
        (0..self.set_len(tag)?)
            .map(|i| self.set_at(tag, i))
            .collect()
    }

    /// GOV-R9: whether governance wants `node` to be a voter; None if it never said.
    fn sealer_wish(&mut self, node: u32) -> Result<Option<bool>, DbError> {
        Ok(match self.count(slot("sealer", &[&node.to_be_bytes()]))? {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        })
    }

    /// GOV-R10: user chain `chain`'s validator sets, (from height, members), oldest first.
    fn chain_sets(&mut self, chain: u64) -> Result<Vec<(u64, Vec<u32>)>, DbError> {
        let raw = self.bytes(slot("chain.sets", &[&chain.to_be_bytes()]))?;
        Ok(decode_chain_sets(&raw))
    }

    fn queue_len(&mut self) -> Result<u64, DbError> {
        self.count(slot("queue", &[]))
    }

    fn queued(&mut self, index: u64) -> Result<Vec<u8>, DbError> {
        self.bytes(slot("queue.at", &[&index.to_be_bytes()]))
    }
}

impl<T: Slots + ?Sized> Read for T {}

/// A proposal as stored (GOV-R2..R4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    pub proposer: Address,
    pub action: Vec<u8>,
    pub created: u64,
    pub expires: u64,
    pub weight_for: u64,
    pub weight_against: u64,
    pub status: u8,
}

pub(crate) mod status {
    pub const OPEN: u8 = 0;
    pub const PASSED: u8 = 1;
    pub const APPLIED: u8 = 2;
    pub const REJECTED: u8 = 3;
    pub const REVOKED: u8 = 4;
}

/// Writes, on the block's overlay only.
pub(crate) struct Write<'s, 'a, 'db> {
    pub state: &'s mut SystemState<'a, 'db>,
}

impl Slots for Write<'_, '_, '_> {
    fn word(&mut self, at: U256) -> Result<U256, DbError> {
        self.state.sload(GOVERNANCE_ADDRESS, at)
    }
}

impl<'s, 'a, 'db> Write<'s, 'a, 'db> {
    pub(crate) fn new(state: &'s mut SystemState<'a, 'db>) -> Self {
        Write { state }
    }

    fn set(&mut self, at: U256, value: U256) -> Result<(), DbError> {
        self.state.sstore(GOVERNANCE_ADDRESS, at, value)
    }

    fn set_u64(&mut self, at: U256, value: u64) -> Result<(), DbError> {
        self.set(at, U256::from(value))
    }

    fn set_address(&mut self, at: U256, a: Address) -> Result<(), DbError> {
        self.set(at, U256::from_be_slice(a.as_slice()))
    }

    fn set_bytes(&mut self, base: U256, bytes: &[u8]) -> Result<(), DbError> {
        crate::system_abi::write_bytes(|at, v| self.set(at, v), base, bytes)
    }

    pub(crate) fn set_chain_sets(
        &mut self,
        chain: u64,
        sets: &[(u64, Vec<u32>)],
    ) -> Result<(), DbError> {
        let mut raw = Vec::new();
        for (from, members) in sets {
            raw.extend_from_slice(&from.to_be_bytes());
            raw.extend_from_slice(&(members.len() as u32).to_be_bytes());
            for m in members {
                raw.extend_from_slice(&m.to_be_bytes());
            }
        }
        self.set_bytes(slot("chain.sets", &[&chain.to_be_bytes()]), &raw)
    }

    pub(crate) fn set_flag(&mut self, account: Address, bit: u64, on: bool) -> Result<(), DbError> {
        let flags = self.flags(account)?;
        let next = if on { flags | bit } else { flags & !bit };
        self.set_u64(flags_slot(account), next)
    }

    pub(crate) fn set_policy(&mut self, p: Policy) -> Result<(), DbError> {
        self.set_u64(policy_slot(), p.to_word())
    }

    pub(crate) fn set_amount_max(&mut self, max: U256) -> Result<(), DbError> {
        self.set(slot("amount.max", &[]), max)
    }

    pub(crate) fn set_velocity(&mut self, account: Address, v: Velocity) -> Result<(), DbError> {
        let a = account.as_slice();
        self.set(slot("velocity", &[a]), pack2(v.window_blocks, v.count_max))?;
        self.set(slot("velocity.amount", &[a]), v.amount_max)?;
        self.set_u64(slot("velocity.action", &[a]), u64::from(v.action))
    }

    pub(crate) fn set_spent(&mut self, account: Address, s: Spent) -> Result<(), DbError> {
        let a = account.as_slice();
        self.set(slot("spent", &[a]), pack2(s.window, s.count))?;
        self.set(slot("spent.amount", &[a]), s.amount)
    }

    pub(crate) fn set_counterparty_action(
        &mut self,
        account: Address,
        action: u8,
    ) -> Result<(), DbError> {
        self.set_u64(slot("cp.action", &[account.as_slice()]), u64::from(action))?;
        self.set_flag(account, flag::COUNTERPARTY, action != 0)
    }

    pub(crate) fn set_counterparty(
        &mut self,
        account: Address,
        other: Address,
        allowed: bool,
    ) -> Result<(), DbError> {
        self.set_u64(
            slot("cp", &[account.as_slice(), other.as_slice()]),
            u64::from(allowed),
        )
    }

    pub(crate) fn set_method_restricted(
        &mut self,
        target: Address,
        selector: [u8; 4],
        restricted: bool,
    ) -> Result<(), DbError> {
        if self.method_restricted(target, selector)? == restricted {
            return Ok(());
        }
        self.set_u64(
            slot("acl.restricted", &[target.as_slice(), &selector]),
            u64::from(restricted),
        )?;
        let count = self.restricted_methods(target)?;
        let count = if restricted {
            count.saturating_add(1)
        } else {
            count.saturating_sub(1)
        };
        self.set_u64(slot("acl.count", &[target.as_slice()]), count)?;
        self.set_flag(target, flag::TARGET_ACL, count > 0)
    }

    pub(crate) fn set_call_allowed(
        &mut self,
        target: Address,
        selector: [u8; 4],
        account: Address,
        allowed: bool,
    ) -> Result<(), DbError> {
        self.set_u64(
            slot(
                "acl.allow",
                &[target.as_slice(), &selector, account.as_slice()],
            ),
            u64::from(allowed),
        )
    }

    pub(crate) fn set_regulator(&mut self, a: Address) -> Result<(), DbError> {
        self.set_address(slot("regulator", &[]), a)
    }

    pub(crate) fn set_setting(&mut self, key: &str, value: U256) -> Result<(), DbError> {
        self.set(slot("setting", &[key.as_bytes()]), value)
    }

    /// Replaces the committee (GOV-R1): members, their weights and the threshold.
    pub(crate) fn set_committee(
        &mut self,
        members: &[(Address, u64)],
        threshold: u64,
    ) -> Result<(), DbError> {
        for i in 0..self.member_count()? {
            let old = self.member_at(i)?;
            self.set_u64(slot("weight", &[old.as_slice()]), 0)?;
            self.set_address(slot("member", &[&i.to_be_bytes()]), Address::ZERO)?;
        }
        for (i, (member, weight)) in (0u64..).zip(members) {
            self.set_address(slot("member", &[&i.to_be_bytes()]), *member)?;
            self.set_u64(slot("weight", &[member.as_slice()]), *weight)?;
        }
        self.set_u64(slot("members", &[]), members.len() as u64)?;
        self.set_u64(slot("threshold", &[]), threshold)
    }

    pub(crate) fn add_proposal(
        &mut self,
        proposer: Address,
        action: &[u8],
        created: u64,
        expires: u64,
    ) -> Result<u64, DbError> {
        let id = self.proposal_count()?;
        let k = id.to_be_bytes();
        self.set_address(slot("p.proposer", &[&k]), proposer)?;
        self.set(slot("p.blocks", &[&k]), pack2(created, expires))?;
        self.set_bytes(slot("p.action", &[&k]), action)?;
        self.set_u64(slot("proposals", &[]), id.saturating_add(1))?;
        Ok(id)
    }

    pub(crate) fn set_proposal_weights(
        &mut self,
        id: u64,
        weight_for: u64,
        weight_against: u64,
    ) -> Result<(), DbError> {
        self.set(
            slot("p.weights", &[&id.to_be_bytes()]),
            pack2(weight_for, weight_against),
        )
    }

    pub(crate) fn set_proposal_status(&mut self, id: u64, status: u8) -> Result<(), DbError> {
        self.set_u64(slot("p.status", &[&id.to_be_bytes()]), u64::from(status))
    }

    pub(crate) fn set_vote(&mut self, id: u64, member: Address, vote: u64) -> Result<(), DbError> {
        self.set_u64(
            slot("p.vote", &[&id.to_be_bytes(), member.as_slice()]),
            vote,
        )
    }

    /// Adds `value` to the set `tag`; false if it was there already.
    pub(crate) fn set_insert(&mut self, tag: &str, value: &[u8]) -> Result<bool, DbError> {
        if self.set_place(tag, value)? != 0 {
            return Ok(false);
        }
        let len = self.set_len(tag)?;
        self.set_bytes(slot(tag, &[&len.to_be_bytes()]), value)?;
        self.set_u64(
            slot(tag, &[b"index", keccak256(value).as_slice()]),
            len.saturating_add(1),
        )?;
        self.set_u64(slot(tag, &[]), len.saturating_add(1))?;
        Ok(true)
    }

    /// Removes `value` from the set `tag` (the last member takes its place); false if it
    /// was not there.
    pub(crate) fn set_remove(&mut self, tag: &str, value: &[u8]) -> Result<bool, DbError> {
        let place = self.set_place(tag, value)?;
        let Some(index) = place.checked_sub(1) else {
            return Ok(false);
        };
        let last = self.set_len(tag)?.saturating_sub(1);
        if index != last {
            let moved = self.set_at(tag, last)?;
            self.set_bytes(slot(tag, &[&index.to_be_bytes()]), &moved)?;
            self.set_u64(slot(tag, &[b"index", keccak256(&moved).as_slice()]), place)?;
        }
        self.clear_bytes(slot(tag, &[&last.to_be_bytes()]))?;
        self.set_u64(slot(tag, &[b"index", keccak256(value).as_slice()]), 0)?;
        self.set_u64(slot(tag, &[]), last)?;
        Ok(true)
    }

    fn clear_bytes(&mut self, base: U256) -> Result<(), DbError> {
        let len = usize::try_from(self.word(base)?).unwrap_or(0);
        self.set(base, U256::ZERO)?;
        let mut at = base;
        for _ in 0..len.min(STORED_BYTES_MAX).div_ceil(32) {
            at = at.wrapping_add(U256::from(1u8));
            self.set(at, U256::ZERO)?;
        }
        Ok(())
    }

    pub(crate) fn set_sealer_wish(&mut self, node: u32, voter: bool) -> Result<(), DbError> {
        self.set_u64(
            slot("sealer", &[&node.to_be_bytes()]),
            if voter { 1 } else { 2 },
        )
    }

    /// Queues an action (GOV-R5); the caller checked the queue's bound.
    pub(crate) fn enqueue(&mut self, action: &[u8]) -> Result<(), DbError> {
        let len = self.queue_len()?;
        self.set_bytes(slot("queue.at", &[&len.to_be_bytes()]), action)?;
        self.set_u64(slot("queue", &[]), len.saturating_add(1))
    }

    /// Empties the queue, clearing its entries' length words so no stale entry reads back.
    pub(crate) fn clear_queue(&mut self) -> Result<(), DbError> {
        for i in 0..self.queue_len()? {
            self.clear_bytes(slot("queue.at", &[&i.to_be_bytes()]))?;
        }
        self.set_u64(slot("queue", &[]), 0)
    }
}

/// The committee a genesis state holds (GOV-R1), as slot writes: what `genesis_diff` adds
/// to `0x…1008`'s storage.
pub fn genesis_slots(
    members: &[(Address, u64)],
    threshold: u64,
    lifetime_blocks: u64,
    regulator: Option<Address>,
) -> Vec<(U256, U256)> {
    let mut out = Vec::new();
    for (i, (member, weight)) in (0u64..).zip(members) {
        out.push((
            slot("member", &[&i.to_be_bytes()]),
            U256::from_be_slice(member.as_slice()),
        ));
        out.push((slot("weight", &[member.as_slice()]), U256::from(*weight)));
    }
    out.push((slot("members", &[]), U256::from(members.len())));
    out.push((slot("threshold", &[]), U256::from(threshold)));
    out.push((
        slot(
            "setting",
            &[bcos_types::governance::SETTING_PROPOSAL_LIFETIME_BLOCKS.as_bytes()],
        ),
        U256::from(lifetime_blocks),
    ));
    if let Some(r) = regulator {
        out.push((slot("regulator", &[]), U256::from_be_slice(r.as_slice())));
    }
    out.retain(|(_, v)| !v.is_zero());
    out
}

/// `(from u64, count u32, count × member u32)` per entry, big-endian; a truncated tail is
/// dropped (only this contract writes it, within the bounds of GOV-R10).
fn decode_chain_sets(mut raw: &[u8]) -> Vec<(u64, Vec<u32>)> {
    let mut out = Vec::new();
    while raw.len() >= 12 {
        let from = u64::from_be_bytes(raw[..8].try_into().unwrap_or([0; 8]));
        let n = u32::from_be_bytes(raw[8..12].try_into().unwrap_or([0; 4])) as usize;
        raw = &raw[12..];
        let Some(body) = raw.get(..n.saturating_mul(4)) else {
            break;
        };
        let members = body
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap_or([0; 4])))
            .collect();
        out.push((from, members));
        raw = &raw[n * 4..];
    }
    out
}
