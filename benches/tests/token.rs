//! The hand-assembled token the EVM bench runs must behave like an ERC20 `transfer`, or the
//! bench would time something else (a revert is cheaper than a transfer).

use alloy_primitives::{Address, U256};
use bcos_benches::chain::{block_env, funded, mem_store, with_token};
use bcos_benches::token::{balance_slot, runtime, transfer_input, transfer_topic};
use bcos_benches::{accounts, eip1559};
use bcos_execution::{ExecConfig, Executor};
use bcos_types::{RecoveredTx, B256};

const TOKEN: Address = Address::repeat_byte(0x70);

fn run(amount: u64, input: Option<Vec<u8>>) -> (bcos_execution::ExecutedBlock, Vec<Address>) {
    let (keys, addrs) = accounts(2);
    let store = mem_store(with_token(
        funded(&addrs),
        TOKEN,
        &runtime(),
        &addrs[..1],
        U256::from(100u64),
    ));
    let input = input.unwrap_or_else(|| transfer_input(&addrs[1], U256::from(amount)));
    let tx = RecoveredTx::new(
        eip1559(&keys[0], 0, TOKEN, U256::ZERO, input, 100_000),
        addrs[0],
    );
    let out = Executor::new(ExecConfig::default())
        .execute_block(&store, &block_env(1, 1_000_000), &[tx])
        .expect("executes");
    assert_eq!(out.included, vec![0]);
    (out, addrs)
}

#[test]
fn transfer_moves_balance_emits_log_and_returns() {
    let (out, addrs) = run(30, None);
    assert!(out.receipts[0].success);
    let slots = &out.diff.storage[&TOKEN];
    assert_eq!(slots[&balance_slot(&addrs[0])], U256::from(70u64));
    assert_eq!(slots[&balance_slot(&addrs[1])], U256::from(30u64));
    let log = &out.receipts[0].logs[0];
    assert_eq!(log.address, TOKEN);
    let topics = log.data.topics();
    assert_eq!(topics[0], transfer_topic());
    assert_eq!(topics[1], B256::left_padding_from(addrs[0].as_slice()));
    assert_eq!(topics[2], B256::left_padding_from(addrs[1].as_slice()));
    assert_eq!(
        log.data.data.as_ref(),
        U256::from(30u64).to_be_bytes::<32>().as_slice()
    );
}

#[test]
fn overdraft_and_unknown_selector_revert() {
    let (out, _) = run(101, None);
    assert!(!out.receipts[0].success);
    assert!(out.diff.storage.get(&TOKEN).is_none_or(|s| s.is_empty()));
    let (out, _) = run(0, Some(vec![0xde, 0xad, 0xbe, 0xef]));
    assert!(!out.receipts[0].success);
}
