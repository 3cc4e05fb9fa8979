//! The actions a proposal carries (spec/governance.md §3, GOV-R6, GOV-R7): checked when
//! proposed, applied at the next block boundary.

use super::store::{flag, Read, Velocity, Write};
use crate::error::DbError;
use alloy_primitives::{Address, U256};
use alloy_sol_types::SolInterface;
use bcos_types::governance::{
    IGovernanceActions::{self, IGovernanceActionsCalls as A},
    CONSENSUS_TIMEOUT_MS_MAX, CONSENSUS_TIMEOUT_MS_MIN, GOV_CAS_MAX, GOV_CA_BYTES_MAX,
    GOV_CHAIN_SETS_MAX, GOV_CHAIN_SET_MEMBERS_MAX, GOV_MEMBERS_MAX, GOV_REVOKED_MAX,
    GOV_SERIAL_BYTES_MAX, RULE_FLAG, SETTINGS, SETTING_BLOCK_GAS_LIMIT,
    SETTING_CONSENSUS_TIMEOUT_MS,
};

/// The least block gas limit governance may set: one plain transfer must fit.
pub const BLOCK_GAS_LIMIT_MIN: u64 = 21_000;

/// Decodes `action` and checks it (GOV-R6); the reason starts with `gov:`.
pub fn decode(action: &[u8]) -> Result<A, String> {
    let call = A::abi_decode(action)
        .map_err(|e| format!("gov: the action is not a call of IGovernanceActions: {e}"))?;
    validate(&call)?;
    Ok(call)
}

fn action_code(action: u8) -> Result<(), String> {
    if action > RULE_FLAG {
        return Err(format!(
            "gov: a rule's action is 0 (off), 1 (intercept) or 2 (flag), not {action}"
        ));
    }
    Ok(())
}

fn nonzero(what: &str, a: Address) -> Result<(), String> {
    if a.is_zero() {
        return Err(format!("gov: the {what} cannot be the zero address"));
    }
    Ok(())
}

/// GOV-R1: a committee is 1 to [`GOV_MEMBERS_MAX`] distinct nonzero members with nonzero
/// weights, and a threshold from 1 to their total weight.
pub fn check_committee(members: &[(Address, u64)], threshold: u64) -> Result<(), String> {
    if members.is_empty() || members.len() > GOV_MEMBERS_MAX {
        return Err(format!(
            "gov: a committee has 1 to {GOV_MEMBERS_MAX} members, not {}",
            members.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut total: u64 = 0;
    for (member, weight) in members {
        nonzero("member", *member)?;
        if !seen.insert(*member) {
            return Err(format!("gov: {member} is listed twice"));
        }
        if *weight == 0 {
            return Err(format!("gov: {member} has weight 0"));
        }
        total = total
            .checked_add(*weight)
            .ok_or("gov: the weights overflow 64 bits")?;
    }
    if threshold == 0 || threshold > total {
        return Err(format!(
            "gov: the threshold is 1 to the total weight {total}, not {threshold}"
        ));
    }
    Ok(())
}

/// A genesis committee's threshold: `threshold`, or more than half of the total weight
/// where it is 0; checked by GOV-R1's rules.
pub fn genesis_threshold(members: &[(Address, u64)], threshold: u64) -> Result<u64, String> {
    let total = members
        .iter()
        .map(|(_, w)| *w)
        .fold(0u64, u64::saturating_add);
    let threshold = match threshold {
        0 => total / 2 + 1,
        t => t,
    };
    check_committee(members, threshold)?;
    Ok(threshold)
}

fn validate(call: &A) -> Result<(), String> {
    match call {
        A::setSetting(c) => {
            if !SETTINGS.contains(&c.key.as_str()) {
                return Err(format!(
                    "gov: {:?} is not a setting governance changes (one of {SETTINGS:?})",
                    c.key
                ));
            }
            let value = u64::try_from(c.value)
                .map_err(|_| format!("gov: {} does not fit 64 bits", c.value))?;
            let min = if c.key == SETTING_BLOCK_GAS_LIMIT {
                BLOCK_GAS_LIMIT_MIN
            } else {
                1
            };
            if value < min {
                return Err(format!("gov: {} is at least {min}, not {value}", c.key));
            }
            if c.key == SETTING_CONSENSUS_TIMEOUT_MS
                && !(CONSENSUS_TIMEOUT_MS_MIN..=CONSENSUS_TIMEOUT_MS_MAX).contains(&value)
            {
                return Err(format!(
                    "gov: {} is within {CONSENSUS_TIMEOUT_MS_MIN}..={CONSENSUS_TIMEOUT_MS_MAX}, not {value}",
                    c.key
                ));
            }
            Ok(())
        }
        A::setCommittee(c) => {
            if c.members.len() != c.weights.len() {
                return Err(format!(
                    "gov: {} members but {} weights",
                    c.members.len(),
                    c.weights.len()
                ));
            }
            let members: Vec<(Address, u64)> = c
                .members
                .iter()
                .copied()
                .zip(c.weights.iter().copied())
                .collect();
            check_committee(&members, c.threshold)
        }
        A::setRegulator(_) => Ok(()),
        A::freezeAccount(c) => nonzero("account", c.account),
        A::setBlacklisted(c) => nonzero("account", c.account),
        A::setDeployList(_) | A::setSendList(_) => Ok(()),
        A::allowDeploy(c) => nonzero("account", c.account),
        A::allowSend(c) => nonzero("account", c.account),
        A::restrictMethod(c) => nonzero("target", c.target),
        A::allowCall(c) => {
            nonzero("target", c.target)?;
            nonzero("account", c.account)
        }
        A::setAmountRule(c) => action_code(c.action),
        A::setVelocityRule(c) => {
            action_code(c.action)?;
            if c.action != 0 && c.windowBlocks == 0 {
                return Err("gov: a velocity window is at least 1 block".into());
            }
            if c.action != 0 && c.countMax == 0 && c.amountMax.is_zero() {
                return Err("gov: a velocity rule limits a count, an amount or both".into());
            }
            Ok(())
        }
        A::setCounterpartyRule(c) => {
            nonzero("account", c.account)?;
            action_code(c.action)
        }
        A::allowCounterparty(c) => nonzero("account", c.account),
        A::addCa(c) => {
            // A DER certificate is one SEQUENCE; the node parses it fully when it builds its
            // trust roots and skips (and logs) one it cannot use.
            if c.certificate.is_empty()
                || c.certificate.len() > GOV_CA_BYTES_MAX
                || c.certificate[0] != 0x30
            {
                return Err(format!(
                    "gov: a CA certificate is DER, 1 to {GOV_CA_BYTES_MAX} bytes"
                ));
            }
            Ok(())
        }
        A::removeCa(_) | A::setSealer(_) => Ok(()),
        A::setChainValidators(c) => {
            let n = c.members.len();
            if n == 0 || n > GOV_CHAIN_SET_MEMBERS_MAX {
                return Err(format!(
                    "gov: a chain's validator set names 1 to {GOV_CHAIN_SET_MEMBERS_MAX} members"
                ));
            }
            if c.members.windows(2).any(|w| w[0] >= w[1]) {
                return Err("gov: validator members are distinct and ascending".into());
            }
            Ok(())
        }
        A::revokeNode(c) => nonzero("node id", c.nodeId),
        A::revokeCertificate(c) => {
            if c.serial.is_empty() || c.serial.len() > GOV_SERIAL_BYTES_MAX {
                return Err(format!(
                    "gov: a certificate serial is 1 to {GOV_SERIAL_BYTES_MAX} bytes"
                ));
            }
            Ok(())
        }
    }
}

/// Applies a checked action (GOV-R5) on the overlay at a block boundary.
pub(crate) fn apply(w: &mut Write<'_, '_, '_>, call: A) -> Result<(), DbError> {
    if !matches!(
        call,
        A::setSetting(_)
            | A::setCommittee(_)
            | A::setRegulator(_)
            | A::addCa(_)
            | A::removeCa(_)
            | A::revokeNode(_)
            | A::revokeCertificate(_)
            | A::setSealer(_)
            | A::setChainValidators(_)
    ) {
        // From the first rule on, every transaction's checks run (REG-R1).
        let mut p = w.policy()?;
        if !p.active {
            p.active = true;
            w.set_policy(p)?;
        }
    }
    match call {
        A::setSetting(c) => w.set_setting(&c.key, c.value),
        A::setCommittee(c) => {
            let members: Vec<(Address, u64)> = c.members.into_iter().zip(c.weights).collect();
            w.set_committee(&members, c.threshold)
        }
        A::setRegulator(c) => w.set_regulator(c.regulator),
        A::freezeAccount(c) => w.set_flag(c.account, flag::FROZEN, c.frozen),
        A::setBlacklisted(c) => w.set_flag(c.account, flag::BLACKLISTED, c.listed),
        A::setDeployList(c) => {
            let mut p = w.policy()?;
            p.deploy_list = c.on;
            w.set_policy(p)
        }
        A::allowDeploy(c) => w.set_flag(c.account, flag::MAY_DEPLOY, c.allowed),
        A::setSendList(c) => {
            let mut p = w.policy()?;
            p.send_list = c.on;
            w.set_policy(p)
        }
        A::allowSend(c) => w.set_flag(c.account, flag::MAY_SEND, c.allowed),
        A::restrictMethod(c) => w.set_method_restricted(c.target, c.selector.0, c.restricted),
        A::allowCall(c) => w.set_call_allowed(c.target, c.selector.0, c.account, c.allowed),
        A::setAmountRule(c) => {
            let mut p = w.policy()?;
            p.amount_action = c.action;
            w.set_policy(p)?;
            w.set_amount_max(c.maxWei)
        }
        A::setVelocityRule(c) => {
            w.set_velocity(
                c.account,
                Velocity {
                    window_blocks: c.windowBlocks,
                    count_max: c.countMax,
                    amount_max: c.amountMax,
                    action: c.action,
                },
            )?;
            if c.account.is_zero() {
                let mut p = w.policy()?;
                p.default_velocity_action = c.action;
                w.set_policy(p)
            } else {
                w.set_flag(c.account, flag::VELOCITY, c.action != 0)
            }
        }
        A::setCounterpartyRule(c) => w.set_counterparty_action(c.account, c.action),
        A::allowCounterparty(c) => w.set_counterparty(c.account, c.counterparty, c.allowed),
        // GOV-R8: the sets are bounded; an addition past the bound is skipped (and logged)
        // identically on every replica.
        A::addCa(c) => bounded_insert(w, TAG_CAS, &c.certificate, GOV_CAS_MAX),
        A::removeCa(c) => {
            let cas = w.set_members(TAG_CAS)?;
            if let Some(ca) = cas
                .into_iter()
                .find(|ca| alloy_primitives::keccak256(ca) == c.certificateHash)
            {
                w.set_remove(TAG_CAS, &ca)?;
            }
            Ok(())
        }
        A::revokeNode(c) if c.revoked => {
            bounded_insert(w, TAG_REVOKED_NODES, c.nodeId.as_slice(), GOV_REVOKED_MAX)
        }
        A::revokeNode(c) => w
            .set_remove(TAG_REVOKED_NODES, c.nodeId.as_slice())
            .map(drop),
        A::revokeCertificate(c) if c.revoked => {
            bounded_insert(w, TAG_REVOKED_SERIALS, &c.serial, GOV_REVOKED_MAX)
        }
        A::revokeCertificate(c) => w.set_remove(TAG_REVOKED_SERIALS, &c.serial).map(drop),
        // GOV-R9: the wish is state, so a driver that restarts or newly leads reads it
        // again; the node's index is kept in a bounded set to list the wishes.
        A::setSealer(c) => {
            let key = c.node.to_be_bytes();
            if w.set_place(TAG_SEALER_NODES, &key)? == 0 {
                bounded_insert(w, TAG_SEALER_NODES, &key, SEALER_NODES_MAX)?;
            }
            if w.set_place(TAG_SEALER_NODES, &key)? != 0 {
                w.set_sealer_wish(c.node, c.sealer)?;
            }
            Ok(())
        }
        // GOV-R10: an entry replaces those from its height on; the newest few are kept.
        A::setChainValidators(c) => {
            let mut sets = w.chain_sets(c.chainId)?;
            sets.retain(|(from, _)| *from < c.fromHeight);
            sets.push((c.fromHeight, c.members));
            let excess = sets.len().saturating_sub(GOV_CHAIN_SETS_MAX);
            sets.drain(..excess);
            w.set_chain_sets(c.chainId, &sets)
        }
    }
}

/// The sets of GOV-R8, by storage tag.
pub(crate) const TAG_CAS: &str = "cas";
pub(crate) const TAG_REVOKED_NODES: &str = "revoked.nodes";
pub(crate) const TAG_REVOKED_SERIALS: &str = "revoked.serials";
/// Nodes with a voter wish (GOV-R9), at most [`SEALER_NODES_MAX`].
pub(crate) const TAG_SEALER_NODES: &str = "sealer.nodes";
pub const SEALER_NODES_MAX: u64 = 1024;

fn bounded_insert(
    w: &mut Write<'_, '_, '_>,
    tag: &str,
    value: &[u8],
    max: u64,
) -> Result<(), DbError> {
    if w.set_len(tag)? >= max && w.set_place(tag, value)? == 0 {
        tracing::warn!(tag, max, "governance set full; the addition is skipped");
        return Ok(());
    }
    w.set_insert(tag, value).map(drop)
}

/// The action the regulator's `blacklist(account)` queues (REG-R7).
pub(crate) fn blacklist_action(account: Address) -> Vec<u8> {
    use alloy_sol_types::SolCall;
    IGovernanceActions::setBlacklistedCall {
        account,
        listed: true,
    }
    .abi_encode()
}

/// A setting's value as u64; zero where governance never set it.
pub(crate) fn setting_u64(value: U256) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}
