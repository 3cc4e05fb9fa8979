//! The checks every transaction passes (spec/governance.md §4, REG-R1..R6): freezing,
//! permissions, method ACLs and the RegTech rules. The pool runs them on the committed state
//! at admission; the executor runs them again on the block's overlay at each transaction's
//! turn, where an interception is a rejection, so a block that carries an intercepted
//! transaction is refused by every replica (REG-R5).

use super::store::{flag, Read, Slots, Spent};
use crate::error::DbError;
use alloy_primitives::{Address, U256};
use bcos_types::governance::{Interception, Rule, GOVERNANCE_ADDRESS, RULE_FLAG, RULE_INTERCEPT};
use bcos_types::RecoveredTx;

/// What the rules look at in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFacts {
    pub from: Address,
    /// None for a contract creation.
    pub to: Option<Address>,
    pub value: U256,
    /// The first four bytes of the call data, if it has them.
    pub selector: Option<[u8; 4]>,
}

impl TxFacts {
    pub fn of(tx: &RecoveredTx) -> Self {
        let input = tx.input();
        TxFacts {
            from: tx.sender,
            to: tx.tx.to(),
            value: tx.value(),
            selector: input.get(..4).and_then(|s| s.try_into().ok()),
        }
    }
}

/// A flagging rule that matched (REG-R3): the transaction goes ahead with an `Alert` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub rule: Rule,
    pub account: Address,
    pub counterparty: Address,
    pub value: U256,
}

/// What a transaction that passed leaves to do once it is committed: its alerts, and its
/// sender's velocity window to update (REG-R4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub alerts: Vec<Alert>,
    pub(crate) spent: Option<(Address, Spent)>,
}

impl Verdict {
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.spent.is_none()
    }
}

fn refuse(rule: Rule, reason: String) -> Result<Result<Verdict, Interception>, DbError> {
    Ok(Err(Interception { rule, reason }))
}

/// REG-R2: a matched rule intercepts or flags, as its action says.
fn matched(
    verdict: &mut Verdict,
    action: u8,
    alert: Alert,
    reason: impl FnOnce() -> String,
) -> Option<Interception> {
    match action {
        RULE_INTERCEPT => Some(Interception {
            rule: alert.rule,
            reason: reason(),
        }),
        RULE_FLAG => {
            verdict.alerts.push(alert);
            None
        }
        _ => None,
    }
}

/// Runs every rule on `tx` at block `block` (REG-R1): the first interception, or what the
/// transaction leaves to record once committed.
/// Whether any rule was ever set (the policy's `active` bit): until then no transaction,
/// and no call between contracts, has anything to check.
pub(crate) fn rules_set<S: Slots + ?Sized>(s: &mut S) -> Result<bool, DbError> {
    Ok(s.policy()?.active)
}

pub fn check<S: Slots + ?Sized>(
    s: &mut S,
    tx: &TxFacts,
    block: u64,
) -> Result<Result<Verdict, Interception>, DbError> {
    let policy = s.policy()?;
    if !policy.active {
        return Ok(Ok(Verdict::default()));
    }
    let from = tx.from;
    let to_governance = tx.to == Some(GOVERNANCE_ADDRESS);
    let from_flags = s.flags(from)?;
    if from_flags & flag::FROZEN != 0 {
        return refuse(Rule::FrozenAccount, format!("account {from} is frozen"));
    }
    if from_flags & flag::BLACKLISTED != 0 {
        return refuse(Rule::Blacklisted, format!("account {from} is blacklisted"));
    }
    // REG-R6: the send list and the counterparty rules never stop a call to governance,
    // so a committee cannot lock itself out.
    if policy.send_list && from_flags & flag::MAY_SEND == 0 && !to_governance {
        return refuse(
            Rule::SendPermission,
            format!("account {from} is not on the send list"),
        );
    }
    let to_flags = match tx.to {
        Some(to) => s.flags(to)?,
        None => 0,
    };
    let to = tx.to.unwrap_or(Address::ZERO);
    match tx.to {
        None if policy.deploy_list && from_flags & flag::MAY_DEPLOY == 0 => {
            return refuse(
                Rule::DeployPermission,
                format!("account {from} may not deploy contracts"),
            );
        }
        Some(to) if to_flags & flag::BLACKLISTED != 0 => {
            return refuse(Rule::Blacklisted, format!("recipient {to} is blacklisted"));
        }
        Some(to) if to_flags & flag::FROZEN != 0 => {
            return refuse(Rule::FrozenContract, format!("{to} is frozen"));
        }
        _ => {}
    }
    if to_flags & flag::TARGET_ACL != 0 {
        if let Some(selector) = tx.selector {
            if s.method_restricted(to, selector)? && !s.call_allowed(to, selector, from)? {
                return refuse(
                    Rule::MethodAcl,
                    format!(
                        "account {from} may not call method 0x{} of {to}",
                        alloy_primitives::hex::encode(selector)
                    ),
                );
            }
        }
    }
    let mut verdict = Verdict::default();
    let alert = |rule| Alert {
        rule,
        account: from,
        counterparty: to,
        value: tx.value,
    };
    if policy.amount_action != 0 {
        let max = s.amount_max()?;
        if tx.value > max {
            if let Some(i) = matched(
                &mut verdict,
                policy.amount_action,
                alert(Rule::Amount),
                || {
                    format!(
                        "value {} wei is above the {max} wei a transaction may move",
                        tx.value
                    )
                },
            ) {
                return Ok(Err(i));
            }
        }
    }
    if !to_governance {
        if from_flags & flag::COUNTERPARTY != 0 && !s.counterparty_allowed(from, to)? {
            let action = s.counterparty_action(from)?;
            if let Some(i) = matched(&mut verdict, action, alert(Rule::Counterparty), || {
                format!("{to} is not a listed counterparty of {from}")
            }) {
                return Ok(Err(i));
            }
        }
        if to_flags & flag::COUNTERPARTY != 0 && !s.counterparty_allowed(to, from)? {
            let action = s.counterparty_action(to)?;
            if let Some(i) = matched(&mut verdict, action, alert(Rule::Counterparty), || {
                format!("{from} is not a listed counterparty of {to}")
            }) {
                return Ok(Err(i));
            }
        }
    }
    // REG-R4: velocity, in fixed windows of `window_blocks` blocks.
    let rule_of = if from_flags & flag::VELOCITY != 0 {
        Some(from)
    } else if policy.default_velocity_action != 0 {
        Some(Address::ZERO)
    } else {
        None
    };
    if let Some(owner) = rule_of {
        let rule = s.velocity(owner)?;
        if rule.action != 0 && rule.window_blocks > 0 {
            let window = block / rule.window_blocks;
            let before = s.spent(from)?;
            let (count, amount) = if before.window == window {
                (before.count, before.amount)
            } else {
                (0, U256::ZERO)
            };
            let after = Spent {
                window,
                count: count.saturating_add(1),
                amount: amount.saturating_add(tx.value),
            };
            if rule.count_max > 0 && after.count > rule.count_max {
                if let Some(i) = matched(
                    &mut verdict,
                    rule.action,
                    alert(Rule::VelocityCount),
                    || {
                        format!(
                        "account {from} sent {count} transactions in this window of {} blocks, the most it may",
                        rule.window_blocks
                    )
                    },
                ) {
                    return Ok(Err(i));
                }
            }
            if !rule.amount_max.is_zero() && after.amount > rule.amount_max {
                if let Some(i) = matched(
                    &mut verdict,
                    rule.action,
                    alert(Rule::VelocityAmount),
                    || {
                        format!(
                            "account {from} would move {} wei in this window of {} blocks, above {} wei",
                            after.amount, rule.window_blocks, rule.amount_max
                        )
                    },
                ) {
                    return Ok(Err(i));
                }
            }
            verdict.spent = Some((from, after));
        }
    }
    Ok(Ok(verdict))
}

/// The admission check on the committed state (REG-R1), for the pool: `next_block` is the
/// block the transaction could first land in.
pub fn admission(
    state: &dyn bcos_storage::StateReader,
    tx: &RecoveredTx,
    next_block: u64,
) -> Result<Result<(), Interception>, DbError> {
    let mut slots = super::store::Committed(state);
    Ok(check(&mut slots, &TxFacts::of(tx), next_block)?.map(|_| ()))
}
