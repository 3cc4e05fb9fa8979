//! Admission rules that need no state: size, chain id, gas and fee bounds. They run before
//! sender recovery so a bad transaction costs no signature check.

use super::error::PoolError;
use alloy_consensus::Transaction as _;
use bcos_types::{Tx, TxKind};

/// Static limits a transaction is checked against.
#[derive(Debug, Clone)]
pub struct StaticRules {
    pub chain_id: u64,
    pub allow_unprotected: bool,
    pub tx_bytes_max: usize,
    /// `sealer.block_gas_limit`: what a transaction's gas may not exceed while governance
    /// set no limit.
    pub block_gas_limit: u64,
    /// The fork's per-transaction gas cap (EIP-7825 from Osaka on).
    pub tx_gas_cap: u64,
    pub base_fee: u64,
    /// The block gas limit governance set (spec/governance.md GOV-R7), 0 while it set none;
    /// the sealer keeps it at the committed state's after every block.
    pub governed_gas_limit: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl StaticRules {
    /// The block gas limit in force: governance's (GOV-R7), else the configured one.
    pub fn block_gas_limit(&self) -> u64 {
        match self
            .governed_gas_limit
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => self.block_gas_limit,
            governed => governed,
        }
    }

    /// Size, decoding and [`StaticRules::check`]: everything checked before sender
    /// recovery, for a transaction from RPC or forwarded by a peer.
    pub fn check_raw(&self, raw: &[u8]) -> Result<Tx, PoolError> {
        if raw.len() > self.tx_bytes_max {
            return Err(PoolError::Oversized {
                size: raw.len(),
                limit: self.tx_bytes_max,
            });
        }
        let tx = Tx::decode(raw).map_err(|e| match e {
            bcos_types::TxError::InvalidSignature => PoolError::InvalidSignature,
            other => PoolError::Malformed(other.to_string()),
        })?;
        self.check(&tx)?;
        Ok(tx)
    }

    pub fn check(&self, tx: &Tx) -> Result<(), PoolError> {
        if tx.encoded_len() > self.tx_bytes_max {
            return Err(PoolError::Oversized {
                size: tx.encoded_len(),
                limit: self.tx_bytes_max,
            });
        }
        match tx.chain_id() {
            Some(id) if id != self.chain_id => {
                return Err(PoolError::WrongChainId {
                    got: id,
                    expected: self.chain_id,
                })
            }
            None if !self.allow_unprotected => return Err(PoolError::Unprotected),
            _ => {}
        }
        let block_gas_limit = self.block_gas_limit();
        if tx.gas_limit() > block_gas_limit {
            return Err(PoolError::GasLimitExceeded {
                gas: tx.gas_limit(),
                limit: block_gas_limit,
            });
        }
        if tx.gas_limit() > self.tx_gas_cap {
            return Err(PoolError::GasAboveTxCap {
                gas: tx.gas_limit(),
                cap: self.tx_gas_cap,
            });
        }
        let needed = intrinsic_gas(tx);
        if tx.gas_limit() < needed {
            return Err(PoolError::IntrinsicGasTooLow {
                gas: tx.gas_limit(),
                needed,
            });
        }
        if tx.max_fee_per_gas() < u128::from(self.base_fee) {
            return Err(PoolError::FeeCapTooLow {
                fee_cap: tx.max_fee_per_gas(),
                base_fee: self.base_fee,
            });
        }
        if tx
            .max_priority_fee_per_gas()
            .is_some_and(|tip| tip > tx.max_fee_per_gas())
        {
            return Err(PoolError::TipAboveFeeCap);
        }
        if tx.nonce() == u64::MAX {
            return Err(PoolError::NonceMax);
        }
        // Checked here, before sender recovery, and again against the balance at admission.
        if tx.max_cost().is_none() {
            return Err(PoolError::CostOverflow);
        }
        Ok(())
    }
}

/// Gas charged before any code runs (Yellow Paper g0, EIP-2028 calldata, EIP-2930 access
/// lists, EIP-3860 initcode words, and EIP-7623's calldata floor).
///
/// Saturating: the lengths come from the sender. They are bounded by `tx_bytes_max` before
/// this runs, but a saturated sum still compares correctly against any gas limit.
pub fn intrinsic_gas(tx: &Tx) -> u64 {
    let data = tx.input();
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let nonzeros = data.len() as u64 - zeros;
    let mut gas = 21_000u64
        .saturating_add(zeros.saturating_mul(4))
        .saturating_add(nonzeros.saturating_mul(16));
    if tx.kind() == TxKind::Create {
        let words = (data.len() as u64).div_ceil(32);
        gas = gas.saturating_add(32_000u64.saturating_add(words.saturating_mul(2)));
    }
    if let Some(list) = tx.envelope().access_list() {
        for item in list.iter() {
            let keys = item.storage_keys.len() as u64;
            gas = gas.saturating_add(2_400u64.saturating_add(keys.saturating_mul(1_900)));
        }
    }
    let tokens = zeros.saturating_add(nonzeros.saturating_mul(4));
    let floor = 21_000u64.saturating_add(tokens.saturating_mul(10));
    gas.max(floor)
}
