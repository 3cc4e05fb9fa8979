//! Governance and RegTech (spec/governance.md): the committee contract at `0x…1008` with an
//! ordinary Solidity ABI (`bcos_types::governance::IGovernance`), in every group.
//!
//! - `store.rs`: where each entry lives in the contract's storage;
//! - `actions.rs`: what a proposal may do, checked when proposed, applied at a block boundary;
//! - `policy.rs`: the checks every transaction passes, at admission and at execution.
//!
//! Every refusal of a call reverts with a reason that starts with `gov:`.

mod actions;
pub(crate) mod inner;
pub mod policy;
mod store;

pub use actions::{
    check_committee, decode as decode_action, genesis_threshold, BLOCK_GAS_LIMIT_MIN,
};
pub use policy::{admission, Alert, TxFacts, Verdict};
pub use store::{genesis_slots, Committed, Slots};

use crate::system::{SystemContract, SystemEnv, SystemError, SystemOutput, SystemState};
use crate::system_abi::{calls_one_of, event_log, returns, revert, write_gas};
use alloy_primitives::{Address, Log, U256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use bcos_types::governance::{
    IGovernance, GOVERNANCE_ADDRESS, GOV_ACTION_BYTES_MAX, GOV_LIFETIME_BLOCKS_DEFAULT,
    GOV_QUEUE_MAX, SETTINGS, SETTING_PROPOSAL_LIFETIME_BLOCKS,
};
use store::{flag, status, Read, Write};

/// Gas of a writing call beyond the plain call, and of a view, as the CNS prices them
/// (CNS-R9): a base and a storage write's price for each 32-byte word of the arguments.
pub const GOV_WRITE_GAS_BASE: u64 = 25_000;
pub const GOV_WRITE_GAS_PER_WORD: u64 = 20_000;
pub const GOV_VIEW_GAS: u64 = 10_000;

/// Queue entries name the proposal they apply; the regulator's have none.
const NO_PROPOSAL: u64 = u64::MAX;

/// The governance system contract.
#[derive(Debug, Default, Clone, Copy)]
pub struct Governance;

fn event(e: &impl SolEvent) -> Log {
    event_log(GOVERNANCE_ADDRESS, e)
}

/// The `Alert` event of a flagged transaction (REG-R3).
pub fn alert_log(alert: &Alert) -> Log {
    event(&IGovernance::Alert {
        account: alert.account,
        rule: alert.rule.name().to_string(),
        counterparty: alert.counterparty,
        value: alert.value,
    })
}

fn is_write(input: &[u8]) -> bool {
    calls_one_of(
        input,
        &[
            IGovernance::proposeCall::SELECTOR,
            IGovernance::voteCall::SELECTOR,
            IGovernance::revokeCall::SELECTOR,
            IGovernance::blacklistCall::SELECTOR,
        ],
    )
}

fn id_of(id: U256) -> Result<u64, SystemError> {
    u64::try_from(id).map_err(|_| revert(format!("gov: no proposal {id}")))
}

impl SystemContract for Governance {
    fn address(&self) -> Address {
        GOVERNANCE_ADDRESS
    }

    fn gas(&self, input: &[u8]) -> u64 {
        if !is_write(input) {
            return GOV_VIEW_GAS;
        }
        write_gas(input, GOV_WRITE_GAS_BASE, GOV_WRITE_GAS_PER_WORD)
    }

    fn call(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
        input: &[u8],
    ) -> Result<SystemOutput, SystemError> {
        let call = IGovernance::IGovernanceCalls::abi_decode(input)
            .map_err(|e| revert(format!("gov: not a call of the governance interface: {e}")))?;
        use IGovernance::IGovernanceCalls as C;
        let mut w = Write::new(state);
        match call {
            C::propose(c) => propose(&mut w, env, &c.action),
            C::vote(c) => vote(&mut w, env, id_of(c.id)?, c.approve),
            C::revoke(c) => revoke(&mut w, env, id_of(c.id)?),
            C::blacklist(c) => blacklist(&mut w, env, c.account),
            C::proposalCount(_) => {
                let n = w.proposal_count()?;
                Ok(returns::<IGovernance::proposalCountCall>(&U256::from(n)))
            }
            C::proposal(c) => {
                let id = id_of(c.id)?;
                let p = w
                    .proposal(id)?
                    .ok_or_else(|| revert(format!("gov: no proposal {id}")))?;
                Ok(returns::<IGovernance::proposalCall>(
                    &IGovernance::proposalReturn {
                        proposer: p.proposer,
                        action: p.action.into(),
                        createdAtBlock: p.created,
                        expiresAtBlock: p.expires,
                        weightFor: p.weight_for,
                        weightAgainst: p.weight_against,
                        status: p.status,
                    },
                ))
            }
            C::committee(_) => {
                let n = w.member_count()?;
                let mut members = Vec::new();
                let mut weights = Vec::new();
                for i in 0..n.min(bcos_types::governance::GOV_MEMBERS_MAX as u64) {
                    let m = w.member_at(i)?;
                    weights.push(w.weight(m)?);
                    members.push(m);
                }
                let threshold = w.threshold()?;
                Ok(returns::<IGovernance::committeeCall>(
                    &IGovernance::committeeReturn {
                        members,
                        weights,
                        threshold,
                    },
                ))
            }
            C::regulator(_) => {
                let r = w.regulator()?;
                Ok(returns::<IGovernance::regulatorCall>(&r))
            }
            C::setting(c) => {
                if !SETTINGS.contains(&c.key.as_str()) {
                    return Err(revert(format!(
                        "gov: {:?} is not a setting (one of {SETTINGS:?})",
                        c.key
                    )));
                }
                let v = w.setting(&c.key)?;
                Ok(returns::<IGovernance::settingCall>(&v))
            }
            C::accountStatus(c) => {
                let f = w.flags(c.account)?;
                let p = w.policy()?;
                Ok(returns::<IGovernance::accountStatusCall>(
                    &IGovernance::accountStatusReturn {
                        frozen: f & flag::FROZEN != 0,
                        blacklisted: f & flag::BLACKLISTED != 0,
                        mayDeploy: !p.deploy_list || f & flag::MAY_DEPLOY != 0,
                        maySend: !p.send_list || f & flag::MAY_SEND != 0,
                    },
                ))
            }
            C::trustedCas(_) => {
                let cas = w.set_members(actions::TAG_CAS)?;
                Ok(returns::<IGovernance::trustedCasCall>(
                    &cas.into_iter().map(Into::into).collect(),
                ))
            }
            C::revokedNodes(_) => {
                let nodes = w.set_members(actions::TAG_REVOKED_NODES)?;
                Ok(returns::<IGovernance::revokedNodesCall>(
                    &nodes.iter().map(|n| Address::from_slice(n)).collect(),
                ))
            }
            C::revokedSerials(_) => {
                let serials = w.set_members(actions::TAG_REVOKED_SERIALS)?;
                Ok(returns::<IGovernance::revokedSerialsCall>(
                    &serials.into_iter().map(Into::into).collect(),
                ))
            }
            C::check(c) => {
                let facts = TxFacts {
                    from: c.from,
                    to: (!c.to.is_zero()).then_some(c.to),
                    value: c.value,
                    selector: c.data.get(..4).and_then(|s| s.try_into().ok()),
                };
                let (allowed, rule, reason) = match policy::check(&mut w, &facts, env.block)? {
                    Ok(_) => (true, String::new(), String::new()),
                    Err(i) => (false, i.rule.name().to_string(), i.reason),
                };
                Ok(returns::<IGovernance::checkCall>(
                    &IGovernance::checkReturn {
                        allowed,
                        rule,
                        reason,
                    },
                ))
            }
        }
    }

    /// GOV-R5: the actions queued in earlier blocks apply before this block's first
    /// transaction, identically on every replica.
    fn begin_block(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
    ) -> Result<(), SystemError> {
        let mut w = Write::new(state);
        let n = w.queue_len()?;
        if n == 0 {
            return Ok(());
        }
        for i in 0..n {
            let entry = w.queued(i)?;
            let (id, action) = entry.split_at(entry.len().min(8));
            let id = u64::from_be_bytes(id.try_into().unwrap_or([0xff; 8]));
            // Checked when queued; a failure here would be a bug, and every replica skips
            // the same entry.
            match actions::decode(action) {
                Ok(call) => actions::apply(&mut w, call)?,
                Err(reason) => {
                    tracing::error!(block = env.block, id, %reason, "queued action skipped")
                }
            }
            if id != NO_PROPOSAL {
                w.set_proposal_status(id, status::APPLIED)?;
            }
        }
        w.clear_queue()?;
        Ok(())
    }
}

fn member_weight(w: &mut Write<'_, '_, '_>, caller: Address) -> Result<u64, SystemError> {
    let weight = w.weight(caller)?;
    if weight == 0 {
        return Err(revert(format!("gov: {caller} is not a committee member")));
    }
    Ok(weight)
}

/// GOV-R5: a passed proposal's action waits for the next block.
fn enqueue(w: &mut Write<'_, '_, '_>, id: u64, action: &[u8]) -> Result<(), SystemError> {
    if w.queue_len()? >= GOV_QUEUE_MAX {
        return Err(revert(format!(
            "gov: {GOV_QUEUE_MAX} actions already wait for the next block; try again then"
        )));
    }
    let mut entry = Vec::with_capacity(8 + action.len());
    entry.extend_from_slice(&id.to_be_bytes());
    entry.extend_from_slice(action);
    w.enqueue(&entry)?;
    Ok(())
}

/// GOV-R2: a member proposes a checked action; the proposer's weight is its first vote.
fn propose(
    w: &mut Write<'_, '_, '_>,
    env: &SystemEnv,
    action: &[u8],
) -> Result<SystemOutput, SystemError> {
    let weight = member_weight(w, env.caller)?;
    if action.len() > GOV_ACTION_BYTES_MAX {
        return Err(revert(format!(
            "gov: an action is at most {GOV_ACTION_BYTES_MAX} bytes, not {}",
            action.len()
        )));
    }
    actions::decode(action).map_err(revert)?;
    let lifetime = match actions::setting_u64(w.setting(SETTING_PROPOSAL_LIFETIME_BLOCKS)?) {
        0 => GOV_LIFETIME_BLOCKS_DEFAULT,
        n => n,
    };
    let expires = env.block.saturating_add(lifetime);
    let id = w.add_proposal(env.caller, action, env.block, expires)?;
    let mut logs = vec![event(&IGovernance::ProposalCreated {
        id: U256::from(id),
        proposer: env.caller,
        action: action.to_vec().into(),
        expiresAtBlock: expires,
    })];
    logs.extend(record_vote(w, env, id, weight, true)?);
    Ok(SystemOutput {
        logs,
        output: IGovernance::proposeCall::abi_encode_returns(&U256::from(id)).into(),
    })
}

/// GOV-R3, GOV-R4.
fn vote(
    w: &mut Write<'_, '_, '_>,
    env: &SystemEnv,
    id: u64,
    approve: bool,
) -> Result<SystemOutput, SystemError> {
    let weight = member_weight(w, env.caller)?;
    let p = w
        .proposal(id)?
        .ok_or_else(|| revert(format!("gov: no proposal {id}")))?;
    if p.status != status::OPEN {
        return Err(revert(format!(
            "gov: proposal {id} is no longer open (status {})",
            p.status
        )));
    }
    if env.block > p.expires {
        return Err(revert(format!(
            "gov: proposal {id} expired at block {}",
            p.expires
        )));
    }
    if w.vote_of(id, env.caller)? != 0 {
        return Err(revert(format!(
            "gov: {} already voted on proposal {id}",
            env.caller
        )));
    }
    Ok(record_vote(w, env, id, weight, approve)?.into())
}

/// Counts a vote; passes the proposal at the threshold, rejects it once the threshold is
/// out of reach (GOV-R4).
fn record_vote(
    w: &mut Write<'_, '_, '_>,
    env: &SystemEnv,
    id: u64,
    weight: u64,
    approve: bool,
) -> Result<Vec<Log>, SystemError> {
    let p = w
        .proposal(id)?
        .ok_or_else(|| revert(format!("gov: no proposal {id}")))?;
    let (mut yes, mut no) = (p.weight_for, p.weight_against);
    if approve {
        yes = yes.saturating_add(weight);
    } else {
        no = no.saturating_add(weight);
    }
    w.set_vote(id, env.caller, if approve { 1 } else { 2 })?;
    w.set_proposal_weights(id, yes, no)?;
    let mut logs = vec![event(&IGovernance::Voted {
        id: U256::from(id),
        voter: env.caller,
        approve,
        weightFor: yes,
        weightAgainst: no,
    })];
    let threshold = w.threshold()?;
    let mut total: u64 = 0;
    for i in 0..w.member_count()? {
        let m = w.member_at(i)?;
        total = total.saturating_add(w.weight(m)?);
    }
    if yes >= threshold {
        enqueue(w, id, &p.action)?;
        w.set_proposal_status(id, status::PASSED)?;
        logs.push(event(&IGovernance::ProposalPassed {
            id: U256::from(id),
            effectiveBlock: env.block.saturating_add(1),
        }));
    } else if no > total.saturating_sub(threshold) {
        w.set_proposal_status(id, status::REJECTED)?;
        logs.push(event(&IGovernance::ProposalRejected { id: U256::from(id) }));
    }
    Ok(logs)
}

fn revoke(
    w: &mut Write<'_, '_, '_>,
    env: &SystemEnv,
    id: u64,
) -> Result<SystemOutput, SystemError> {
    let p = w
        .proposal(id)?
        .ok_or_else(|| revert(format!("gov: no proposal {id}")))?;
    if p.proposer != env.caller {
        return Err(revert(format!(
            "gov: only the proposer {} revokes proposal {id}",
            p.proposer
        )));
    }
    if p.status != status::OPEN {
        return Err(revert(format!("gov: proposal {id} is no longer open")));
    }
    w.set_proposal_status(id, status::REVOKED)?;
    Ok(vec![event(&IGovernance::ProposalRevoked { id: U256::from(id) })].into())
}

/// REG-R7: the regulator blacklists an account from the next block, without a vote.
fn blacklist(
    w: &mut Write<'_, '_, '_>,
    env: &SystemEnv,
    account: Address,
) -> Result<SystemOutput, SystemError> {
    let regulator = w.regulator()?;
    if regulator.is_zero() || regulator != env.caller {
        return Err(revert(format!(
            "gov: only the regulator blacklists directly; {} is not it",
            env.caller
        )));
    }
    if account.is_zero() {
        return Err(revert("gov: the account cannot be the zero address"));
    }
    enqueue(w, NO_PROPOSAL, &actions::blacklist_action(account))?;
    Ok(vec![event(&IGovernance::Blacklisted {
        account,
        effectiveBlock: env.block.saturating_add(1),
    })]
    .into())
}

/// REG-R4: writes a committed transaction's velocity window.
pub(crate) fn record(
    state: &mut SystemState<'_, '_>,
    verdict: &Verdict,
) -> Result<(), crate::error::DbError> {
    if let Some((account, spent)) = verdict.spent {
        Write::new(state).set_spent(account, spent)?;
    }
    Ok(())
}

/// The settings governance changed (GOV-R7), read from a committed state; None where it
/// never set one and the node's configuration applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub block_txs_max: Option<u64>,
    pub block_gas_limit: Option<u64>,
    pub consensus_timeout_ms: Option<u64>,
}

impl Settings {
    pub fn read(state: &dyn bcos_storage::StateReader) -> Result<Self, crate::error::DbError> {
        let mut s = Committed(state);
        let mut get = |key| -> Result<Option<u64>, crate::error::DbError> {
            Ok(match actions::setting_u64(s.setting(key)?) {
                0 => None,
                v => Some(v),
            })
        };
        Ok(Settings {
            block_txs_max: get(bcos_types::governance::SETTING_BLOCK_TXS_MAX)?,
            block_gas_limit: get(bcos_types::governance::SETTING_BLOCK_GAS_LIMIT)?,
            consensus_timeout_ms: get(bcos_types::governance::SETTING_CONSENSUS_TIMEOUT_MS)?,
        })
    }
}

/// What the P2P network's trust follows (GOV-R8): the CAs governance added and the node ids
/// and certificate serials it revoked, read from a committed state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkTrust {
    /// DER certificates.
    pub cas: Vec<Vec<u8>>,
    pub revoked_nodes: Vec<Address>,
    pub revoked_serials: Vec<Vec<u8>>,
}

impl NetworkTrust {
    pub fn read(state: &dyn bcos_storage::StateReader) -> Result<Self, crate::error::DbError> {
        let mut s = Committed(state);
        let bounded = |mut v: Vec<Vec<u8>>, max: u64| {
            v.truncate(usize::try_from(max).unwrap_or(usize::MAX));
            v
        };
        Ok(NetworkTrust {
            cas: bounded(
                s.set_members(actions::TAG_CAS)?,
                bcos_types::governance::GOV_CAS_MAX,
            ),
            revoked_nodes: bounded(
                s.set_members(actions::TAG_REVOKED_NODES)?,
                bcos_types::governance::GOV_REVOKED_MAX,
            )
            .iter()
            .filter(|n| n.len() == 20)
            .map(|n| Address::from_slice(n))
            .collect(),
            revoked_serials: bounded(
                s.set_members(actions::TAG_REVOKED_SERIALS)?,
                bcos_types::governance::GOV_REVOKED_MAX,
            ),
        })
    }
}

/// GOV-R9: the voter wishes governance holds, by node index: true to be a voter, false not
/// to be one; nodes it never named are absent. Read from a committed state.
pub fn sealer_wishes(
    state: &dyn bcos_storage::StateReader,
) -> Result<Vec<(u32, bool)>, crate::error::DbError> {
    let mut s = Committed(state);
    let mut out = Vec::new();
    for key in s.set_members(actions::TAG_SEALER_NODES)? {
        let Ok(bytes) = <[u8; 4]>::try_from(key.as_slice()) else {
            continue;
        };
        let node = u32::from_be_bytes(bytes);
        if let Some(voter) = s.sealer_wish(node)? {
            out.push((node, voter));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// GOV-R9 one block ahead: the wishes once the next block has applied the passed actions
/// that wait for it (every one applies at its start, in order, GOV-R5). A PBFT driver so
/// knows, from the state of its head, the validator set of head + 2 as well as of head + 1
/// (spec/pbft.md PBFT-R20).
pub fn sealer_wishes_next(
    state: &dyn bcos_storage::StateReader,
) -> Result<Vec<(u32, bool)>, crate::error::DbError> {
    Ok(sealer_wishes_now_and_next(state)?.1)
}

/// [`sealer_wishes`] and [`sealer_wishes_next`] from one read of the wishes.
#[allow(clippy::type_complexity)]
pub fn sealer_wishes_now_and_next(
    state: &dyn bcos_storage::StateReader,
) -> Result<(Vec<(u32, bool)>, Vec<(u32, bool)>), crate::error::DbError> {
    use bcos_types::governance::IGovernanceActions::IGovernanceActionsCalls as A;
    let now = sealer_wishes(state)?;
    let mut wishes: std::collections::BTreeMap<u32, bool> = now.iter().copied().collect();
    let mut s = Committed(state);
    let mut named = s.set_len(actions::TAG_SEALER_NODES)?;
    for i in 0..s.queue_len()? {
        let entry = s.queued(i)?;
        let action = &entry[entry.len().min(8)..];
        let Ok(A::setSealer(c)) = actions::decode(action) else {
            continue;
        };
        if !wishes.contains_key(&c.node) {
            // As `actions::apply`: a node beyond the bound is not named.
            if named >= actions::SEALER_NODES_MAX {
                continue;
            }
            named += 1;
        }
        wishes.insert(c.node, c.sealer);
    }
    Ok((now, wishes.into_iter().collect()))
}

/// GOV-R10: every validator set governance registered for user chain `chain`, (from
/// height, members), oldest first; read from a committed state.
pub fn chain_validator_sets(
    state: &dyn bcos_storage::StateReader,
    chain: u64,
) -> Result<Vec<(u64, Vec<u32>)>, crate::error::DbError> {
    Committed(state).chain_sets(chain)
}

/// GOV-R10: the validator set governance registered for user chain `chain` at `height`
/// (members of the registry's list), if any entry covers it; read on the block's state by
/// the merchant chain's settlement contract.
pub fn chain_validators_at(
    state: &mut crate::system::SystemState<'_, '_>,
    chain: u64,
    height: u64,
) -> Result<Option<Vec<u32>>, crate::error::DbError> {
    Ok(state
        .chain_sets(chain)?
        .into_iter()
        .rev()
        .find(|(from, _)| *from <= height)
        .map(|(_, members)| members))
}

/// Whether passed actions wait for the next block boundary (GOV-R5): a driver that seals
/// only when there is work counts them as work, so an idle chain still applies them.
pub fn actions_pending(
    state: &dyn bcos_storage::StateReader,
) -> Result<bool, crate::error::DbError> {
    Ok(Committed(state).queue_len()? > 0)
}
