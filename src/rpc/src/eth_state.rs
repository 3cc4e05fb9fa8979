//! State queries and read-only execution: eth_getBalance, eth_getCode, eth_getStorageAt,
//! eth_getTransactionCount, eth_call and eth_estimateGas.
//!
//! A revert is reported exactly as geth and anvil do (code 3, "execution reverted[: reason]",
//! data = revert bytes) so ethers can decode custom errors.
//!
//! Every method here reads state, so all run in the bounded blocking pools (`blocking`);
//! eth_call and eth_estimateGas are further bounded in gas and time by the node
//! (`call_gas_max`, `call_timeout_ms`, spec/execution.md EXEC-R12).

use crate::api::StateAt;
use crate::blocking::{self, Pool};
use crate::errors::{api_error, invalid_params, reverted, server_error, RpcResult};
use crate::eth_block::state_at;
use crate::server::Ctx;
use alloy_eips::BlockId;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256, U64};
use alloy_rpc_types_eth::TransactionRequest;
use bcos_types::{CallOutcome, CallRequest};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    blocking::register(
        m,
        "eth_getBalance",
        Pool::Read,
        |p, c, _| -> RpcResult<U256> {
            let (address, at) = address_and_block(p)?;
            let at = state_at(c, at)?;
            Ok(c.api
                .account(&address, at)
                .map_err(api_error)?
                .map_or(U256::ZERO, |a| a.balance))
        },
    )?;
    blocking::register(
        m,
        "eth_getCode",
        Pool::Read,
        |p, c, _| -> RpcResult<Bytes> {
            let (address, at) = address_and_block(p)?;
            let at = state_at(c, at)?;
            c.api.code(&address, at).map_err(api_error)
        },
    )?;
    blocking::register(
        m,
        "eth_getStorageAt",
        Pool::Read,
        |p, c, _| -> RpcResult<B256> {
            let mut seq = p.sequence();
            let address: Address = seq.next()?;
            let slot: U256 = seq.next()?;
            let at: Option<BlockId> = seq.optional_next()?;
            let at = state_at(c, at)?;
            Ok(B256::from(
                c.api.storage_at(&address, &slot, at).map_err(api_error)?,
            ))
        },
    )?;
    blocking::register(
        m,
        "eth_getTransactionCount",
        Pool::Read,
        |p, c, _| -> RpcResult<U64> {
            let (address, at) = address_and_block(p)?;
            let nonce = match state_at(c, at)? {
                StateAt::Pending => c.api.pending_nonce(&address).map_err(api_error)?,
                at => c
                    .api
                    .account(&address, at)
                    .map_err(api_error)?
                    .map_or(0, |a| a.nonce),
            };
            Ok(U64::from(nonce))
        },
    )?;
    blocking::register(m, "eth_call", Pool::Evm, |p, c, _| -> RpcResult<Bytes> {
        let (request, at) = call_params(p, c)?;
        let at = state_at(c, at)?;
        match c.api.call(request, at).map_err(api_error)? {
            CallOutcome::Success { output, .. } => Ok(output),
            failed => Err(call_failed(&failed)),
        }
    })?;
    blocking::register(
        m,
        "eth_estimateGas",
        Pool::Evm,
        |p, c, _| -> RpcResult<U64> {
            let (request, at) = call_params(p, c)?;
            let at = state_at(c, at)?;
            match c.api.estimate_gas(request, at).map_err(api_error)? {
                Ok(gas) => Ok(U64::from(gas)),
                Err(failed) => Err(call_failed(&failed)),
            }
        },
    )?;
    Ok(())
}

fn address_and_block(p: &jsonrpsee::types::Params<'_>) -> RpcResult<(Address, Option<BlockId>)> {
    let mut seq = p.sequence();
    let address: Address = seq.next()?;
    let at: Option<BlockId> = seq.optional_next()?;
    Ok((address, at))
}

fn call_params(
    p: &jsonrpsee::types::Params<'_>,
    c: &Ctx,
) -> RpcResult<(CallRequest, Option<BlockId>)> {
    let mut seq = p.sequence();
    let request: TransactionRequest = seq.next()?;
    // A third parameter (state overrides) is not supported; it is ignored rather than
    // rejected so clients that always send `{}` keep working.
    let at: Option<BlockId> = seq.optional_next()?;
    let request = to_call_request(request)?;
    check_access_list(&request, c.config.call_gas_max)?;
    Ok((request, at))
}

/// The access list is the one list a call request carries. Each entry costs intrinsic gas
/// (EIP-2930: 2,400 per address, 1,900 per storage key), so a list that needs more than
/// `call_gas_max` could never run: it is refused before any state is read.
fn check_access_list(request: &CallRequest, gas_max: u64) -> RpcResult<()> {
    let mut gas = 0u64;
    for (_, keys) in &request.access_list {
        let keys = u64::try_from(keys.len()).unwrap_or(u64::MAX);
        gas = gas
            .saturating_add(2_400)
            .saturating_add(keys.saturating_mul(1_900));
    }
    if gas > gas_max {
        return Err(invalid_params(format!(
            "access list needs {gas} intrinsic gas, more than the call gas limit {gas_max}"
        )));
    }
    Ok(())
}

pub fn to_call_request(r: TransactionRequest) -> RpcResult<CallRequest> {
    let input = r
        .input
        .try_into_unique_input()
        .map_err(|e| invalid_params(e.to_string()))?
        .unwrap_or_default();
    let to = match r.to {
        Some(TxKind::Call(a)) => Some(a),
        Some(TxKind::Create) | None => None,
    };
    let access_list = r
        .access_list
        .map(|al| {
            al.0.into_iter()
                .map(|item| {
                    (
                        item.address,
                        item.storage_keys
                            .into_iter()
                            .map(|k| U256::from_be_bytes(k.0))
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CallRequest {
        from: r.from,
        to,
        gas: r.gas,
        gas_price: r.gas_price,
        max_fee_per_gas: r.max_fee_per_gas,
        max_priority_fee_per_gas: r.max_priority_fee_per_gas,
        value: r.value,
        input,
        nonce: r.nonce,
        access_list,
    })
}

/// A failed call as geth reports it: revert → code 3 with data; halt → -32000 with the reason.
pub fn call_failed(outcome: &CallOutcome) -> ErrorObjectOwned {
    match outcome {
        CallOutcome::Revert { output, .. } => reverted(output),
        CallOutcome::Halt { reason, .. } => server_error(reason.clone()),
        CallOutcome::Success { .. } => server_error("call succeeded but was reported as failed"),
    }
}
