//! Governance and RegTech in the executor (spec/governance.md): committee votes and their
//! threshold, expiry, actions applied at the next block boundary, every permission and
//! every interception rule blocking what it should and nothing else, flags committing with
//! an `Alert`, the regulator's blacklist, and the same results through the parallel
//! executor and at admission.
#![allow(clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use alloy_primitives::{Address, FixedBytes, TxKind, U256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use bcos_execution::governance::{admission, genesis_slots, Governance};
use bcos_execution::{
    governance_genesis, ExecConfig, ExecutedBlock, Executor, ParallelOptions, SystemContract,
    SystemContracts,
};
use bcos_types::governance::{
    IGovernance, IGovernanceActions as Act, GOVERNANCE_ADDRESS, RULE_FLAG, RULE_INTERCEPT,
};
use bcos_types::{CallOutcome, CallRequest, RecoveredTx, StateDiff};
use common::*;
use std::sync::Arc;

/// Committee members 1, 2, 3 (weight 1 each, threshold 2), regulator 4, users 5 and 6.
const MEMBERS: [u8; 3] = [1, 2, 3];
const REGULATOR: u8 = 4;
const LIFETIME_BLOCKS: u64 = 5;

fn addr(who: u8) -> Address {
    address_of(&key(who))
}

struct Chain {
    exec: Executor,
    state: TestState,
    number: u64,
    nonces: [u64; 8],
}

impl Chain {
    fn new() -> Self {
        Self::with_threads(0)
    }

    fn with_threads(threads: usize) -> Self {
        let mut state =
            TestState::with_balances(&(1..8).map(|i| (addr(i), ether(100))).collect::<Vec<_>>());
        let members: Vec<(Address, u64)> = MEMBERS.iter().map(|m| (addr(*m), 1)).collect();
        let mut diff = StateDiff::default();
        governance_genesis(
            &mut diff,
            &genesis_slots(&members, 2, LIFETIME_BLOCKS, Some(addr(REGULATOR))),
        );
        state.apply(&diff);
        Chain {
            exec: Executor::with_system_contracts(
                ExecConfig {
                    chain_id: CHAIN_ID,
                    parallel_threads: threads,
                    ..Default::default()
                },
                SystemContracts::new(vec![Arc::new(Governance)]),
            ),
            state,
            number: 0,
            nonces: [0; 8],
        }
    }

    fn tx(&mut self, who: u8, to: TxKind, value: U256, input: Vec<u8>, gas: u64) -> RecoveredTx {
        let nonce = self.nonces[usize::from(who)];
        self.nonces[usize::from(who)] += 1;
        tx1559(&key(who), nonce, to, value, input, gas)
    }

    fn gov(&mut self, who: u8, call: impl SolCall) -> RecoveredTx {
        let input = call.abi_encode();
        let gas = 21_000 + 40 * input.len() as u64 + Governance.gas(&input);
        self.tx(
            who,
            TxKind::Call(GOVERNANCE_ADDRESS),
            U256::ZERO,
            input,
            gas,
        )
    }

    fn pay(&mut self, who: u8, to: Address, value: U256) -> RecoveredTx {
        self.tx(who, TxKind::Call(to), value, Vec::new(), 21_000)
    }

    fn call(&mut self, who: u8, to: Address, input: Vec<u8>) -> RecoveredTx {
        self.tx(who, TxKind::Call(to), U256::ZERO, input, 100_000)
    }

    /// Runs `txs` as the next block; a rejected transaction's nonce is given back.
    fn block(&mut self, txs: Vec<RecoveredTx>) -> ExecutedBlock {
        self.number += 1;
        let out = self
            .exec
            .execute_block_parallel_with(
                &self.state,
                &env(self.number),
                &txs,
                ParallelOptions {
                    // Every transaction through speculation and validation, none skipped.
                    fallback: false,
                    speculate_all: true,
                    ..ParallelOptions::new(self.exec.config().parallel_threads)
                },
            )
            .unwrap()
            .0;
        for (i, _) in &out.rejected {
            let who = (1..8).find(|w| addr(*w) == txs[*i].sender).unwrap();
            self.nonces[usize::from(who)] -= 1;
        }
        self.state.apply(&out.diff);
        out
    }

    /// Proposes `action` by member 1 and passes it with member 2's vote, in one block, then
    /// runs an empty block, at whose start the action applies.
    fn enact(&mut self, action: impl SolCall) {
        let id = self.view(1, IGovernance::proposalCountCall {}).unwrap();
        let propose = self.gov(
            1,
            IGovernance::proposeCall {
                action: action.abi_encode().into(),
            },
        );
        let vote = self.gov(2, IGovernance::voteCall { id, approve: true });
        let out = self.block(vec![propose, vote]);
        assert_eq!(out.included, vec![0, 1], "{:?}", out.rejected);
        assert!(out.receipts.iter().all(|r| r.success));
        assert!(has_event::<IGovernance::ProposalPassed>(&out));
        self.block(Vec::new());
    }

    fn view<C: SolCall>(&self, who: u8, call: C) -> Result<C::Return, String> {
        let request = CallRequest {
            from: Some(addr(who)),
            to: Some(GOVERNANCE_ADDRESS),
            input: call.abi_encode().into(),
            ..Default::default()
        };
        let outcome = self
            .exec
            .call(
                &self.state,
                &env(self.number + 1),
                &request,
                &Default::default(),
            )
            .unwrap();
        match outcome {
            CallOutcome::Success { output, .. } => Ok(C::abi_decode_returns(&output).unwrap()),
            CallOutcome::Revert { output, .. } => Err(alloy_sol_types::Revert::abi_decode(&output)
                .map(|r| r.reason)
                .unwrap_or_default()),
            CallOutcome::Halt { reason, .. } => panic!("halted: {reason}"),
        }
    }

    /// The rule that refuses `tx` at admission (on the committed state), if any.
    fn admitted(&self, tx: &RecoveredTx) -> Result<(), String> {
        admission(&self.state, tx, self.number + 1)
            .unwrap()
            .map_err(|i| i.rule.name().to_string())
    }
}

fn has_event<E: SolEvent>(out: &ExecutedBlock) -> bool {
    out.receipts
        .iter()
        .flat_map(|r| &r.logs)
        .any(|l| l.topics().first() == Some(&E::SIGNATURE_HASH))
}

fn alerts(out: &ExecutedBlock) -> Vec<IGovernance::Alert> {
    out.receipts
        .iter()
        .flat_map(|r| &r.logs)
        .filter(|l| l.address == GOVERNANCE_ADDRESS)
        .filter_map(|l| IGovernance::Alert::decode_log_data(&l.data).ok())
        .collect()
}

/// The reason a block refused its transaction `i`, which must start with the rule's text.
fn rejected_by(out: &ExecutedBlock, i: usize, rule: &str) {
    let (_, reason) = out
        .rejected
        .iter()
        .find(|(j, _)| *j == i)
        .unwrap_or_else(|| panic!("transaction {i} was not rejected: {out:?}"));
    assert!(
        reason.contains(&format!("rule {rule}:")),
        "transaction {i}: {reason}"
    );
}

#[test]
fn a_proposal_below_the_threshold_does_nothing_and_at_it_applies_from_the_next_block() {
    let mut c = Chain::new();
    let freeze = Act::freezeAccountCall {
        account: addr(5),
        frozen: true,
    };
    let propose = c.gov(
        1,
        IGovernance::proposeCall {
            action: freeze.abi_encode().into(),
        },
    );
    let out = c.block(vec![propose]);
    assert!(out.receipts[0].success);
    let p = c
        .view(1, IGovernance::proposalCall { id: U256::ZERO })
        .unwrap();
    assert_eq!(
        (p.weightFor, p.status),
        (1, 0),
        "one vote of two: still open"
    );
    let pay = c.pay(5, addr(6), U256::from(1));
    let out = c.block(vec![pay]);
    assert_eq!(out.included, vec![0], "below the threshold nothing changed");

    // Member 2's vote reaches the threshold; account 5's transfer later in that same block
    // still goes through: the action applies at the next block boundary.
    let vote = c.gov(
        2,
        IGovernance::voteCall {
            id: U256::ZERO,
            approve: true,
        },
    );
    let pay = c.pay(5, addr(6), U256::from(1));
    let out = c.block(vec![vote, pay]);
    assert_eq!(out.included, vec![0, 1]);
    assert!(has_event::<IGovernance::ProposalPassed>(&out));
    assert_eq!(
        c.view(1, IGovernance::proposalCall { id: U256::ZERO })
            .unwrap()
            .status,
        1,
        "passed, waiting for the block boundary"
    );

    // The pool reads the committed state: the action is not in it before that boundary.
    let pay = c.pay(5, addr(6), U256::from(1));
    let other = c.pay(6, addr(5), U256::from(1));
    let out = c.block(vec![pay, other]);
    rejected_by(&out, 0, "frozen-account");
    rejected_by(&out, 1, "frozen-contract");
    assert!(
        out.included.is_empty(),
        "a frozen address neither sends nor receives"
    );
    let pay = c.pay(5, addr(6), U256::from(1));
    assert_eq!(c.admitted(&pay), Err("frozen-account".into()));
    c.nonces[5] -= 1;
    let p = c
        .view(1, IGovernance::proposalCall { id: U256::ZERO })
        .unwrap();
    assert_eq!(p.status, 2, "applied");
    let status = c
        .view(5, IGovernance::accountStatusCall { account: addr(5) })
        .unwrap();
    assert!(status.frozen && !status.blacklisted);

    c.enact(Act::freezeAccountCall {
        account: addr(5),
        frozen: false,
    });
    let pay = c.pay(5, addr(6), U256::from(1));
    let other = c.pay(6, addr(5), U256::from(1));
    assert_eq!(c.block(vec![pay, other]).included, vec![0, 1], "unfrozen");
}

#[test]
fn an_expired_proposal_cannot_pass_and_votes_follow_the_rules() {
    let mut c = Chain::new();
    let action = Act::setBlacklistedCall {
        account: addr(6),
        listed: true,
    }
    .abi_encode();
    // Not a member.
    let reason = c
        .view(
            5,
            IGovernance::proposeCall {
                action: action.clone().into(),
            },
        )
        .unwrap_err();
    assert!(reason.contains("is not a committee member"), "{reason}");
    // A malformed action is refused when proposed.
    let reason = c
        .view(
            1,
            IGovernance::proposeCall {
                action: vec![1, 2, 3].into(),
            },
        )
        .unwrap_err();
    assert!(
        reason.starts_with("gov: the action is not a call"),
        "{reason}"
    );
    let reason = c
        .view(
            1,
            IGovernance::proposeCall {
                action: Act::setVelocityRuleCall {
                    account: addr(5),
                    windowBlocks: 0,
                    countMax: 1,
                    amountMax: U256::ZERO,
                    action: RULE_INTERCEPT,
                }
                .abi_encode()
                .into(),
            },
        )
        .unwrap_err();
    assert!(reason.contains("window is at least 1 block"), "{reason}");

    let propose = c.gov(
        1,
        IGovernance::proposeCall {
            action: action.into(),
        },
    );
    let out = c.block(vec![propose]);
    assert!(out.receipts[0].success);
    // Member 1 voted by proposing; a second vote is refused.
    let again = IGovernance::voteCall {
        id: U256::ZERO,
        approve: true,
    };
    let reason = c.view(1, again.clone()).unwrap_err();
    assert!(reason.contains("already voted"), "{reason}");
    for _ in 0..LIFETIME_BLOCKS {
        c.block(Vec::new());
    }
    // Block 1 + 5 = 6 was the last to vote in; this is block 7.
    let reason = c.view(2, again.clone()).unwrap_err();
    assert!(reason.contains("expired at block 6"), "{reason}");
    let vote = c.gov(2, again);
    let out = c.block(vec![vote]);
    assert!(!out.receipts[0].success, "an expired proposal never passes");
    let pay = c.pay(6, addr(5), U256::from(1));
    assert_eq!(c.block(vec![pay]).included, vec![0], "nothing applied");

    // Two votes against of three, with a threshold of 2: out of reach, rejected.
    let propose = c.gov(
        1,
        IGovernance::proposeCall {
            action: Act::setRegulatorCall { regulator: addr(6) }
                .abi_encode()
                .into(),
        },
    );
    let no2 = c.gov(
        2,
        IGovernance::voteCall {
            id: U256::from(1),
            approve: false,
        },
    );
    let no3 = c.gov(
        3,
        IGovernance::voteCall {
            id: U256::from(1),
            approve: false,
        },
    );
    let out = c.block(vec![propose, no2, no3]);
    assert!(out.receipts.iter().all(|r| r.success));
    assert!(has_event::<IGovernance::ProposalRejected>(&out));
    assert_eq!(
        c.view(1, IGovernance::regulatorCall {}).unwrap(),
        addr(REGULATOR)
    );
    // Revoking: only the proposer, only while open.
    let propose = c.gov(
        3,
        IGovernance::proposeCall {
            action: Act::setRegulatorCall { regulator: addr(6) }
                .abi_encode()
                .into(),
        },
    );
    c.block(vec![propose]);
    let revoke = IGovernance::revokeCall { id: U256::from(2) };
    assert!(c
        .view(1, revoke.clone())
        .unwrap_err()
        .contains("only the proposer"));
    let tx = c.gov(3, revoke);
    assert!(c.block(vec![tx]).receipts[0].success);
    let reason = c
        .view(
            1,
            IGovernance::voteCall {
                id: U256::from(2),
                approve: true,
            },
        )
        .unwrap_err();
    assert!(reason.contains("no longer open"), "{reason}");
}

#[test]
fn a_new_committee_and_settings_apply_from_the_next_block() {
    let mut c = Chain::new();
    c.enact(Act::setSettingCall {
        key: "block_txs_max".into(),
        value: U256::from(5),
    });
    assert_eq!(
        c.view(
            1,
            IGovernance::settingCall {
                key: "block_txs_max".into()
            }
        )
        .unwrap(),
        U256::from(5)
    );
    assert!(c
        .view(1, IGovernance::settingCall { key: "nope".into() })
        .unwrap_err()
        .contains("not a setting"));
    c.enact(Act::setCommitteeCall {
        members: vec![addr(5), addr(6)],
        weights: vec![3, 1],
        threshold: 3,
    });
    c.block(Vec::new());
    let committee = c.view(1, IGovernance::committeeCall {}).unwrap();
    assert_eq!(committee.members, vec![addr(5), addr(6)]);
    assert_eq!((committee.weights, committee.threshold), (vec![3, 1], 3));
    let action = Act::setRegulatorCall { regulator: addr(7) }.abi_encode();
    assert!(c
        .view(
            1,
            IGovernance::proposeCall {
                action: action.clone().into()
            }
        )
        .unwrap_err()
        .contains("not a committee member"));
    // Member 5 alone carries weight 3, the threshold.
    let propose = c.gov(
        5,
        IGovernance::proposeCall {
            action: action.into(),
        },
    );
    c.block(vec![propose]);
    c.block(Vec::new());
    assert_eq!(c.view(1, IGovernance::regulatorCall {}).unwrap(), addr(7));
    // A committee whose threshold is out of reach is refused when proposed.
    let bad = Act::setCommitteeCall {
        members: vec![addr(5)],
        weights: vec![1],
        threshold: 2,
    };
    assert!(c
        .view(
            5,
            IGovernance::proposeCall {
                action: bad.abi_encode().into()
            }
        )
        .unwrap_err()
        .contains("threshold is 1 to the total weight 1"));
}

#[test]
fn the_deploy_and_send_lists_refuse_only_unlisted_accounts() {
    let mut c = Chain::new();
    c.enact(Act::setDeployListCall { on: true });
    c.enact(Act::allowDeployCall {
        account: addr(5),
        allowed: true,
    });
    let code = deployer(&logger_runtime());
    let by6 = c.tx(6, TxKind::Create, U256::ZERO, code.clone(), 200_000);
    let by5 = c.tx(5, TxKind::Create, U256::ZERO, code, 200_000);
    let pay7 = c.pay(7, addr(6), U256::from(1));
    assert_eq!(c.admitted(&by6), Err("deploy-permission".into()));
    let out = c.block(vec![by6, by5, pay7]);
    rejected_by(&out, 0, "deploy-permission");
    assert_eq!(
        out.included,
        vec![1, 2],
        "listed deployers deploy; transfers go on"
    );

    c.enact(Act::setSendListCall { on: true });
    let pay6 = c.pay(6, addr(7), U256::from(1));
    assert_eq!(c.admitted(&pay6), Err("send-permission".into()));
    let out = c.block(vec![pay6]);
    rejected_by(&out, 0, "send-permission");
    // The committee is not on the send list either, yet it still reaches governance
    // (REG-R6), so it can list accounts or turn the list off.
    c.enact(Act::allowSendCall {
        account: addr(6),
        allowed: true,
    });
    let pay6 = c.pay(6, addr(7), U256::from(1));
    let pay7 = c.pay(7, addr(6), U256::from(1));
    let out = c.block(vec![pay6, pay7]);
    assert_eq!(out.included, vec![0]);
    rejected_by(&out, 1, "send-permission");
    let status = c
        .view(7, IGovernance::accountStatusCall { account: addr(7) })
        .unwrap();
    assert!(!status.maySend && !status.mayDeploy);
}

#[test]
fn method_acls_and_frozen_contracts_refuse_only_what_they_name() {
    let mut c = Chain::new();
    let deploy = c.tx(
        5,
        TxKind::Create,
        U256::ZERO,
        deployer(&logger_runtime()),
        200_000,
    );
    let contract = deploy.sender.create(0);
    assert!(c.block(vec![deploy]).receipts[0].success);
    let guarded = [0xde, 0xad, 0xbe, 0xef];
    c.enact(Act::restrictMethodCall {
        target: contract,
        selector: FixedBytes(guarded),
        restricted: true,
    });
    c.enact(Act::allowCallCall {
        target: contract,
        selector: FixedBytes(guarded),
        account: addr(5),
        allowed: true,
    });
    let mut input = guarded.to_vec();
    input.extend_from_slice(&[0u8; 28]);
    let mut other = vec![0x12, 0x34, 0x56, 0x78];
    other.extend_from_slice(&[0u8; 28]);
    let by6 = c.call(6, contract, input.clone());
    let by5 = c.call(5, contract, input.clone());
    let other7 = c.call(7, contract, other);
    assert_eq!(c.admitted(&by6), Err("method-acl".into()));
    let out = c.block(vec![by6, by5, other7]);
    rejected_by(&out, 0, "method-acl");
    assert_eq!(out.included, vec![1, 2]);
    let check = c
        .view(
            6,
            IGovernance::checkCall {
                from: addr(6),
                to: contract,
                value: U256::ZERO,
                data: input.clone().into(),
            },
        )
        .unwrap();
    assert!(!check.allowed);
    assert_eq!(check.rule, "method-acl");

    c.enact(Act::freezeAccountCall {
        account: contract,
        frozen: true,
    });
    let by5 = c.call(5, contract, input);
    let pay = c.pay(7, addr(6), U256::from(1));
    let out = c.block(vec![by5, pay]);
    rejected_by(&out, 0, "frozen-contract");
    assert_eq!(out.included, vec![1]);
}

#[test]
fn the_amount_rule_intercepts_or_flags_above_its_limit_only() {
    let mut c = Chain::new();
    c.enact(Act::setAmountRuleCall {
        maxWei: ether(1),
        action: RULE_INTERCEPT,
    });
    let big = c.pay(5, addr(6), ether(2));
    let small = c.pay(6, addr(5), ether(1));
    assert_eq!(c.admitted(&big), Err("amount".into()));
    let out = c.block(vec![big, small]);
    rejected_by(&out, 0, "amount");
    assert_eq!(out.included, vec![1], "at the limit is allowed");
    assert!(alerts(&out).is_empty());

    c.enact(Act::setAmountRuleCall {
        maxWei: ether(1),
        action: RULE_FLAG,
    });
    let big = c.pay(5, addr(6), ether(2));
    let small = c.pay(6, addr(5), ether(1));
    let before = c.state.balance(&addr(6));
    let out = c.block(vec![big, small]);
    assert_eq!(out.included, vec![0, 1], "flagged, committed");
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (
            a[0].account,
            a[0].rule.as_str(),
            a[0].counterparty,
            a[0].value
        ),
        (addr(5), "amount", addr(6), ether(2))
    );
    assert_eq!(
        out.receipts[0].logs.len(),
        1,
        "the alert sits in the flagged receipt"
    );
    assert_eq!(
        c.state.balance(&addr(6)),
        before + ether(2) - ether(1) - gas_paid(&out, 1)
    );
}

fn gas_paid(out: &ExecutedBlock, i: usize) -> U256 {
    let before = if i == 0 {
        0
    } else {
        out.receipts[i - 1].cumulative_gas_used
    };
    U256::from(out.receipts[i].cumulative_gas_used - before) * U256::from(2 * GWEI)
}

#[test]
fn velocity_limits_count_per_window_of_blocks() {
    let mut c = Chain::new();
    c.enact(Act::setVelocityRuleCall {
        account: addr(5),
        windowBlocks: 100,
        countMax: 2,
        amountMax: U256::ZERO,
        action: RULE_INTERCEPT,
    });
    let txs: Vec<_> = (0..3).map(|_| c.pay(5, addr(6), U256::from(1))).collect();
    let others: Vec<_> = (0..3).map(|_| c.pay(6, addr(7), U256::from(1))).collect();
    let out = c.block(txs.into_iter().chain(others).collect());
    rejected_by(&out, 2, "velocity-count");
    assert_eq!(
        out.included,
        vec![0, 1, 3, 4, 5],
        "only account 5 is limited"
    );
    let next = c.pay(5, addr(6), U256::from(1));
    assert_eq!(c.admitted(&next), Err("velocity-count".into()));
    // The next window starts at block 100.
    while c.number < 99 {
        c.block(Vec::new());
    }
    let out = c.block(vec![next]);
    assert_eq!((c.number, out.included), (100, vec![0]));

    // A default rule (the zero address) on amounts, flagging: every account without a
    // rule of its own.
    c.enact(Act::setVelocityRuleCall {
        account: Address::ZERO,
        windowBlocks: 1000,
        countMax: 0,
        amountMax: ether(3),
        action: RULE_FLAG,
    });
    let t1 = c.pay(6, addr(7), ether(2));
    let t2 = c.pay(6, addr(7), ether(2));
    let out = c.block(vec![t1, t2]);
    assert_eq!(out.included, vec![0, 1]);
    let a = alerts(&out);
    assert_eq!(a.len(), 1, "the second crosses 3 ether");
    assert_eq!(
        (a[0].account, a[0].rule.as_str()),
        (addr(6), "velocity-amount")
    );
}

#[test]
fn counterparty_rules_and_the_regulators_blacklist() {
    let mut c = Chain::new();
    c.enact(Act::setCounterpartyRuleCall {
        account: addr(5),
        action: RULE_INTERCEPT,
    });
    c.enact(Act::allowCounterpartyCall {
        account: addr(5),
        counterparty: addr(6),
        allowed: true,
    });
    let ok = c.pay(5, addr(6), U256::from(1));
    let out_to = c.pay(5, addr(7), U256::from(1));
    let in_from = c.pay(7, addr(5), U256::from(1));
    let unrelated = c.pay(6, addr(7), U256::from(1));
    let out = c.block(vec![ok, out_to, in_from, unrelated]);
    assert_eq!(out.included, vec![0, 3]);
    rejected_by(&out, 1, "counterparty");
    rejected_by(&out, 2, "counterparty");

    // Only the regulator blacklists directly, from the next block.
    let reason = c
        .view(5, IGovernance::blacklistCall { account: addr(7) })
        .unwrap_err();
    assert!(reason.contains("only the regulator"), "{reason}");
    let listing = c.gov(REGULATOR, IGovernance::blacklistCall { account: addr(7) });
    let same_block = c.pay(7, addr(6), U256::from(1));
    let out = c.block(vec![listing, same_block]);
    assert_eq!(out.included, vec![0, 1]);
    assert!(has_event::<IGovernance::Blacklisted>(&out));
    let from7 = c.pay(7, addr(6), U256::from(1));
    let to7 = c.pay(6, addr(7), U256::from(1));
    let fine = c.pay(5, addr(6), U256::from(1));
    let out = c.block(vec![from7, to7, fine]);
    rejected_by(&out, 0, "blacklist");
    rejected_by(&out, 1, "blacklist");
    assert_eq!(out.included, vec![2]);
    // Committed now, so the pool refuses them too.
    let from7 = c.pay(7, addr(6), U256::from(1));
    let to7 = c.pay(6, addr(7), U256::from(1));
    assert_eq!(c.admitted(&from7), Err("blacklist".into()));
    assert_eq!(c.admitted(&to7), Err("blacklist".into()));
}

/// REG-R5 with parallel execution: the same block, with rules that flag, intercept and
/// count, gives the serial result.
#[test]
fn the_parallel_executor_applies_the_rules_as_the_serial_one() {
    let run = |threads: usize| {
        let mut c = Chain::with_threads(threads);
        c.enact(Act::setAmountRuleCall {
            maxWei: ether(1),
            action: RULE_FLAG,
        });
        c.enact(Act::setVelocityRuleCall {
            account: addr(6),
            windowBlocks: 10,
            countMax: 3,
            amountMax: U256::ZERO,
            action: RULE_INTERCEPT,
        });
        let mut txs = Vec::new();
        for i in 0..24u64 {
            let who = 5 + (i % 3) as u8;
            let value = if i % 4 == 0 { ether(2) } else { U256::from(i) };
            txs.push(c.pay(who, addr(1 + (i % 4) as u8), value));
        }
        let out = c.block(txs);
        (out, c.state)
    };
    let (serial, serial_state) = run(0);
    let (parallel, parallel_state) = run(2);
    assert_eq!(serial, parallel);
    assert_eq!(serial_state, parallel_state);
    assert!(!alerts(&serial).is_empty() && !serial.rejected.is_empty());
}

/// GOV-R8: CAs and revocations are sets the network's trust follows.
#[test]
fn cas_and_revocations_are_sets_governance_changes() {
    use alloy_primitives::keccak256;
    let mut c = Chain::new();
    let ca_a = vec![0x30, 0x03, 0x02, 0x01, 0x0a];
    let ca_b = vec![0x30, 0x03, 0x02, 0x01, 0x0b];
    for ca in [&ca_a, &ca_b, &ca_a] {
        c.enact(Act::addCaCall {
            certificate: ca.clone().into(),
        });
    }
    let cas = c.view(1, IGovernance::trustedCasCall {}).unwrap();
    let listed: Vec<Vec<u8>> = cas.iter().map(|b| b.to_vec()).collect();
    assert_eq!(
        listed,
        vec![ca_a.clone(), ca_b.clone()],
        "a CA is listed once"
    );
    c.enact(Act::removeCaCall {
        certificateHash: keccak256(&ca_a),
    });
    let cas = c.view(1, IGovernance::trustedCasCall {}).unwrap();
    assert_eq!(cas.len(), 1);
    assert_eq!(cas[0].to_vec(), ca_b);
    let trust = bcos_execution::governance::NetworkTrust::read(&c.state).unwrap();
    assert_eq!(trust.cas, vec![ca_b]);
    // Not DER, or an oversized serial: refused when proposed.
    for bad in [
        Act::addCaCall {
            certificate: vec![1, 2, 3].into(),
        }
        .abi_encode(),
        Act::revokeCertificateCall {
            serial: vec![7; 21].into(),
            revoked: true,
        }
        .abi_encode(),
    ] {
        let reason = c
            .view(1, IGovernance::proposeCall { action: bad.into() })
            .unwrap_err();
        assert!(reason.starts_with("gov: a "), "{reason}");
    }
    c.enact(Act::revokeNodeCall {
        nodeId: addr(7),
        revoked: true,
    });
    c.enact(Act::revokeCertificateCall {
        serial: vec![0x5b, 0x02].into(),
        revoked: true,
    });
    let trust = bcos_execution::governance::NetworkTrust::read(&c.state).unwrap();
    assert_eq!(trust.revoked_nodes, vec![addr(7)]);
    assert_eq!(trust.revoked_serials, vec![vec![0x5b, 0x02]]);
    c.enact(Act::revokeNodeCall {
        nodeId: addr(7),
        revoked: false,
    });
    assert!(c
        .view(1, IGovernance::revokedNodesCall {})
        .unwrap()
        .is_empty());
    // None of this is a transaction rule: transfers still skip the checks.
    let pay = c.pay(5, addr(6), U256::from(1));
    assert_eq!(c.admitted(&pay), Ok(()));
}

/// GOV-R7: the consensus timeout is a setting within its bounds (GOV-R6 refuses the rest
/// when proposed), read by the drivers from the committed state.
#[test]
fn the_consensus_timeout_is_a_bounded_setting() {
    use bcos_execution::governance::Settings;
    let mut c = Chain::new();
    for bad in [99u64, 600_001] {
        let action = Act::setSettingCall {
            key: "consensus_timeout_ms".into(),
            value: U256::from(bad),
        }
        .abi_encode();
        let reason = c
            .view(
                1,
                IGovernance::proposeCall {
                    action: action.into(),
                },
            )
            .unwrap_err();
        assert!(reason.contains("within 100..=600000"), "{reason}");
    }
    assert_eq!(Settings::read(&c.state).unwrap().consensus_timeout_ms, None);
    c.enact(Act::setSettingCall {
        key: "consensus_timeout_ms".into(),
        value: U256::from(250),
    });
    assert_eq!(
        Settings::read(&c.state).unwrap().consensus_timeout_ms,
        Some(250)
    );
}

/// GOV-R9 one block ahead: after the block that passed `setSealer`, the wish is not in the
/// state yet, but `sealer_wishes_next` already has it (it applies at the next block's
/// start), which is how a PBFT driver knows the set of head + 2 (spec/pbft.md PBFT-R20).
#[test]
fn sealer_wishes_are_known_one_block_ahead() {
    use bcos_execution::governance::{sealer_wishes, sealer_wishes_next};
    let mut c = Chain::new();
    let id = c.view(1, IGovernance::proposalCountCall {}).unwrap();
    let action = Act::setSealerCall {
        node: 3,
        sealer: false,
    }
    .abi_encode();
    let propose = c.gov(
        1,
        IGovernance::proposeCall {
            action: action.into(),
        },
    );
    let vote = c.gov(2, IGovernance::voteCall { id, approve: true });
    c.block(vec![propose, vote]);
    assert_eq!(sealer_wishes(&c.state).unwrap(), vec![]);
    assert_eq!(sealer_wishes_next(&c.state).unwrap(), vec![(3, false)]);
    c.block(Vec::new());
    assert_eq!(sealer_wishes(&c.state).unwrap(), vec![(3, false)]);
    assert_eq!(sealer_wishes_next(&c.state).unwrap(), vec![(3, false)]);
}

/// GOV-R10: the merchant chain's committee registers a user chain's validator set from a
/// height on; a later entry replaces those from its height on, the newest four are kept,
/// and a malformed set is refused when proposed.
#[test]
fn a_user_chains_validator_sets_are_registered_by_height() {
    use bcos_execution::governance::chain_validator_sets;
    let mut c = Chain::new();
    for (members, why) in [
        (vec![], "1 to 100 members"),
        (vec![2, 1], "distinct and ascending"),
        ((0..101).collect::<Vec<u32>>(), "1 to 100 members"),
    ] {
        let action = Act::setChainValidatorsCall {
            chainId: 7,
            fromHeight: 10,
            members,
        }
        .abi_encode();
        let reason = c
            .view(
                1,
                IGovernance::proposeCall {
                    action: action.into(),
                },
            )
            .unwrap_err();
        assert!(reason.contains(why), "{reason}");
    }
    let set = |c: &mut Chain, from: u64, members: Vec<u32>| {
        c.enact(Act::setChainValidatorsCall {
            chainId: 7,
            fromHeight: from,
            members,
        })
    };
    set(&mut c, 10, vec![0, 1, 2]);
    set(&mut c, 20, vec![0, 1, 2, 3]);
    assert_eq!(
        chain_validator_sets(&c.state, 7).unwrap(),
        vec![(10, vec![0, 1, 2]), (20, vec![0, 1, 2, 3])]
    );
    assert!(chain_validator_sets(&c.state, 8).unwrap().is_empty());
    // From 15 on replaces the entry from 20.
    set(&mut c, 15, vec![1, 2, 3]);
    assert_eq!(
        chain_validator_sets(&c.state, 7).unwrap(),
        vec![(10, vec![0, 1, 2]), (15, vec![1, 2, 3])]
    );
    for from in [30, 40, 50] {
        set(&mut c, from, vec![0, 3]);
    }
    let kept = chain_validator_sets(&c.state, 7).unwrap();
    assert_eq!(
        kept.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
        vec![15, 30, 40, 50]
    );
}

/// Runtime of a proxy: calls `target` with `selector` (no arguments) and reverts if that
/// call failed.
fn proxy_runtime(target: Address, selector: [u8; 4]) -> Vec<u8> {
    let mut code = vec![0x63];
    code.extend_from_slice(&selector);
    // shl(0xe0) mstore(0); then call(gas, target, 0, 0, 4, 0, 0)
    code.extend_from_slice(&[0x60, 0xe0, 0x1b, 0x60, 0x00, 0x52]);
    code.extend_from_slice(&[
        0x60, 0x00, 0x60, 0x00, 0x60, 0x04, 0x60, 0x00, 0x60, 0x00, 0x73,
    ]);
    code.extend_from_slice(target.as_slice());
    code.extend_from_slice(&[0x5a, 0xf1]);
    // jumpi(ok, success); revert(0, 0); ok: stop
    code.extend_from_slice(&[0x60, 0x34, 0x57, 0x60, 0x00, 0x60, 0x00, 0xfd, 0x5b, 0x00]);
    assert_eq!(code[0x34], 0x5b, "the jump lands on its JUMPDEST");
    code
}

/// REG-R8: a restricted method and a frozen contract stop a call between contracts as they
/// stop a transaction, so a proxy cannot reach what its caller may not; the method's ACL
/// names the calling contract, which the committee may allow.
#[test]
fn rules_stop_calls_between_contracts_too() {
    let mut c = Chain::new();
    let guarded = [0xde, 0xad, 0xbe, 0xef];
    let target_deploy = c.tx(
        5,
        TxKind::Create,
        U256::ZERO,
        deployer(&logger_runtime()),
        200_000,
    );
    let target = target_deploy.sender.create(0);
    let proxy_deploy = c.tx(
        5,
        TxKind::Create,
        U256::ZERO,
        deployer(&proxy_runtime(target, guarded)),
        200_000,
    );
    let proxy = proxy_deploy.sender.create(1);
    let out = c.block(vec![target_deploy, proxy_deploy]);
    assert!(out.receipts.iter().all(|r| r.success));
    // Before any rule the proxy reaches the method.
    let free = c.call(6, proxy, Vec::new());
    assert!(c.block(vec![free]).receipts[0].success);

    c.enact(Act::restrictMethodCall {
        target,
        selector: FixedBytes(guarded),
        restricted: true,
    });
    c.enact(Act::allowCallCall {
        target,
        selector: FixedBytes(guarded),
        account: addr(6),
        allowed: true,
    });
    // Account 6 may call the method itself, but the proxy may not: the inner call reverts.
    let through = c.call(6, proxy, Vec::new());
    assert_eq!(
        c.admitted(&through),
        Ok(()),
        "the proxy itself is not restricted"
    );
    let out = c.block(vec![through]);
    assert_eq!(out.included, vec![0]);
    assert!(
        !out.receipts[0].success,
        "the inner call to a restricted method reverts"
    );

    c.enact(Act::allowCallCall {
        target,
        selector: FixedBytes(guarded),
        account: proxy,
        allowed: true,
    });
    let through = c.call(7, proxy, Vec::new());
    let out = c.block(vec![through]);
    assert!(out.receipts[0].success, "the ACL names the proxy now");
    assert_eq!(out.receipts[0].logs.len(), 1, "the method ran");

    c.enact(Act::freezeAccountCall {
        account: target,
        frozen: true,
    });
    let through = c.call(7, proxy, Vec::new());
    let out = c.block(vec![through]);
    assert!(
        !out.receipts[0].success,
        "a frozen contract's inner calls revert"
    );
}
