//! The settlement system contract at [`SETTLEMENT_ADDRESS`] (spec/settlement.md §9): on a
//! user chain it turns the merchant's proxy balance into records (`settle()`), on the
//! merchant chain it verifies and credits them (`submitSettlement(bytes)`). Both run the
//! `bcos-settlement` core; this file only maps its state onto the contract's storage.

use crate::system::{SystemContract, SystemEnv, SystemError, SystemOutput, SystemState};
use alloy_primitives::{keccak256, Address, Log, U256};
use bcos_settlement::{
    CertificateCheck, ChainProgress, ProducerState, SettlementProof, VerifierConfig, VerifierState,
    PROOF_BYTES_MAX, SETTLEMENT_ADDRESS,
};
use std::sync::Arc;

/// `settle()`: anyone may call it; it settles whatever the proxy holds (XS-R1..R3).
pub const SETTLE_SIGNATURE: &str = "settle()";
/// `submitSettlement(bytes proof)`: anyone may call it; the proof is what is believed.
pub const SUBMIT_SIGNATURE: &str = "submitSettlement(bytes)";
/// The merchant chain's log of a credit.
pub const CREDITED_EVENT: &str = "Credited(uint64,uint64,uint256,uint256)";

/// Gas of `settle()` beyond the plain call: five storage writes and a log.
pub const SETTLE_GAS: u64 = 30_000;
/// Gas of `submitSettlement` beyond the plain call and its calldata: one BLS aggregate
/// verification (two pairings, priced as EIP-2537 prices them: 2 x 37,700 + 65,000), the
/// Merkle path and the storage writes.
pub const SUBMIT_GAS: u64 = 160_000;

pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Storage of the user-side contract: the producer state (slots 0..2) and, per record, the
/// block that holds it (for `bcos_getSettlementProof`).
pub mod user_slots {
    use alloy_primitives::{keccak256, U256};
    pub const LAST_SEQ: U256 = U256::ZERO;
    pub const CUMULATIVE: U256 = U256::from_limbs([1, 0, 0, 0]);
    pub const LAST_BLOCK: U256 = U256::from_limbs([2, 0, 0, 0]);
    /// keccak256("record" ‖ seq) -> block number.
    pub fn record_block(seq: u64) -> U256 {
        let mut key = b"record".to_vec();
        key.extend_from_slice(&seq.to_be_bytes());
        U256::from_be_bytes(keccak256(key).0)
    }
}

/// Storage of the merchant-side contract: per user chain, what was credited.
pub mod merchant_slots {
    use alloy_primitives::{keccak256, U256};
    fn slot(tag: &[u8], chain: u64) -> U256 {
        let mut key = tag.to_vec();
        key.extend_from_slice(&chain.to_be_bytes());
        U256::from_be_bytes(keccak256(key).0)
    }
    pub fn credited_seq(chain: u64) -> U256 {
        slot(b"seq", chain)
    }
    pub fn credited(chain: u64) -> U256 {
        slot(b"credited", chain)
    }
}

fn u64_of(v: U256) -> u64 {
    // Written by this contract only, from u64 values.
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn revert(reason: impl ToString) -> SystemError {
    SystemError::Revert(reason.to_string())
}

/// The user-chain side: `merchant` is the proxy account on this chain.
#[derive(Debug)]
pub struct UserSettlement {
    pub merchant: Address,
}

impl UserSettlement {
    pub fn producer_state(state: &mut SystemState<'_, '_>) -> Result<ProducerState, SystemError> {
        let at = SETTLEMENT_ADDRESS;
        Ok(ProducerState {
            last_seq: u64_of(state.sload(at, user_slots::LAST_SEQ)?),
            cumulative: state.sload(at, user_slots::CUMULATIVE)?,
            last_block: u64_of(state.sload(at, user_slots::LAST_BLOCK)?),
        })
    }
}

impl SystemContract for UserSettlement {
    fn address(&self) -> Address {
        SETTLEMENT_ADDRESS
    }

    fn gas(&self, _input: &[u8]) -> u64 {
        SETTLE_GAS
    }

    fn call(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
        input: &[u8],
    ) -> Result<SystemOutput, SystemError> {
        if input != selector(SETTLE_SIGNATURE) {
            return Err(revert(
                "unknown method: this chain's settlement contract has settle()",
            ));
        }
        let producer = Self::producer_state(state)?;
        let held = state.balance(self.merchant)?;
        let (record, next) = producer
            .settle(env.chain_id, held, env.block)
            .map_err(revert)?;
        // XS-R3: the amount leaves the proxy and sits, unspendable, in the contract.
        let escrow = state
            .balance(SETTLEMENT_ADDRESS)?
            .checked_add(record.amount)
            .ok_or_else(|| revert("escrow balance overflow"))?;
        state.set_balance(self.merchant, U256::ZERO)?;
        state.set_balance(SETTLEMENT_ADDRESS, escrow)?;
        let at = SETTLEMENT_ADDRESS;
        state.sstore(at, user_slots::LAST_SEQ, U256::from(next.last_seq))?;
        state.sstore(at, user_slots::CUMULATIVE, next.cumulative)?;
        state.sstore(at, user_slots::LAST_BLOCK, U256::from(next.last_block))?;
        state.sstore(
            at,
            user_slots::record_block(record.seq),
            U256::from(record.block),
        )?;
        Ok(vec![record.to_log()].into())
    }
}

/// The merchant-chain side.
pub struct MerchantSettlement {
    pub merchant: Address,
    pub config: VerifierConfig,
    pub check: Arc<dyn CertificateCheck + Send + Sync>,
}

impl std::fmt::Debug for MerchantSettlement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantSettlement")
            .field("merchant", &self.merchant)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MerchantSettlement {
    pub fn progress(
        state: &mut SystemState<'_, '_>,
        chain: u64,
    ) -> Result<ChainProgress, SystemError> {
        let at = SETTLEMENT_ADDRESS;
        Ok(ChainProgress {
            credited_seq: u64_of(state.sload(at, merchant_slots::credited_seq(chain))?),
            credited: state.sload(at, merchant_slots::credited(chain))?,
        })
    }
}

/// The `bytes` argument of an ABI call `f(bytes)`, refusing anything malformed or larger
/// than `bytes_max`.
pub fn abi_bytes_arg(input: &[u8], bytes_max: usize) -> Result<&[u8], String> {
    let body = input.get(4..).ok_or("calldata shorter than a selector")?;
    let word = |at: usize| -> Result<usize, String> {
        let w = body.get(at..at + 32).ok_or("calldata truncated")?;
        if w[..24].iter().any(|b| *b != 0) {
            return Err("calldata offset or length out of range".into());
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&w[24..]);
        usize::try_from(u64::from_be_bytes(v)).map_err(|_| "calldata length out of range".into())
    };
    let offset = word(0)?;
    let len = word(offset)?;
    if len > bytes_max {
        return Err(format!(
            "proof of {len} bytes exceeds the limit of {bytes_max}"
        ));
    }
    let start = offset
        .checked_add(32)
        .ok_or("calldata offset out of range")?;
    let end = start
        .checked_add(len)
        .ok_or("calldata length out of range")?;
    body.get(start..end)
        .ok_or_else(|| "calldata truncated".into())
}

/// ABI calldata of `submitSettlement(proof)`.
pub fn submit_calldata(proof: &[u8]) -> Vec<u8> {
    let mut out = selector(SUBMIT_SIGNATURE).to_vec();
    let mut word = [0u8; 32];
    word[31] = 0x20;
    out.extend_from_slice(&word);
    out.extend_from_slice(&U256::from(proof.len()).to_be_bytes::<32>());
    out.extend_from_slice(proof);
    out.resize(4 + 64 + proof.len().div_ceil(32) * 32, 0);
    out
}

impl SystemContract for MerchantSettlement {
    fn address(&self) -> Address {
        SETTLEMENT_ADDRESS
    }

    fn gas(&self, _input: &[u8]) -> u64 {
        SUBMIT_GAS
    }

    fn call(
        &self,
        state: &mut SystemState<'_, '_>,
        _env: &SystemEnv,
        input: &[u8],
    ) -> Result<SystemOutput, SystemError> {
        if input.get(..4) != Some(&selector(SUBMIT_SIGNATURE)[..]) {
            return Err(revert(
                "unknown method: the merchant chain's settlement contract has submitSettlement(bytes)",
            ));
        }
        let bytes = abi_bytes_arg(input, PROOF_BYTES_MAX).map_err(revert)?;
        let proof = SettlementProof::decode(bytes).map_err(revert)?;
        let chain = proof.chain_id;
        let mut verifier = VerifierState::default();
        verifier.chains.insert(chain, Self::progress(state, chain)?);
        // GOV-R10: the user chain's set at the header's height, where governance registered
        // a change; the registry's genesis set otherwise.
        let members = crate::governance::chain_validators_at(state, chain, proof.header.number)?;
        let check = bcos_settlement::WithMembers {
            inner: self.check.as_ref(),
            members,
        };
        let (credit, next) = verifier
            .submit(&self.config, &proof, &check)
            .map_err(revert)?;
        let progress = next.progress(chain);
        // XS-R10: the credit and the progress are one state transition.
        let balance = state
            .balance(self.merchant)?
            .checked_add(credit.record.amount)
            .ok_or_else(|| revert("merchant balance overflow"))?;
        state.set_balance(self.merchant, balance)?;
        let at = SETTLEMENT_ADDRESS;
        state.sstore(
            at,
            merchant_slots::credited_seq(chain),
            U256::from(progress.credited_seq),
        )?;
        state.sstore(at, merchant_slots::credited(chain), progress.credited)?;
        let r = credit.record;
        let mut data = Vec::with_capacity(128);
        data.extend_from_slice(&U256::from(r.chain_id).to_be_bytes::<32>());
        data.extend_from_slice(&U256::from(r.seq).to_be_bytes::<32>());
        data.extend_from_slice(&r.amount.to_be_bytes::<32>());
        data.extend_from_slice(&r.cumulative.to_be_bytes::<32>());
        Ok(vec![Log::new_unchecked(
            SETTLEMENT_ADDRESS,
            vec![keccak256(CREDITED_EVENT.as_bytes())],
            data.into(),
        )]
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_calldata_round_trips_and_bad_calldata_is_refused() {
        let proof = vec![7u8; 45];
        let data = submit_calldata(&proof);
        assert_eq!(abi_bytes_arg(&data, 100), Ok(&proof[..]));
        assert!(abi_bytes_arg(&data, 44).is_err());
        assert!(abi_bytes_arg(&data[..40], 100).is_err());
        let mut huge = data.clone();
        huge[4 + 32 + 24] = 1; // length word with a high byte set
        assert!(abi_bytes_arg(&huge, 100).is_err());
        let mut far = data;
        far[4 + 31] = 0xff; // offset past the end
        assert!(abi_bytes_arg(&far, 100).is_err());
        assert!(abi_bytes_arg(&[1, 2], 100).is_err());
    }
}
