//! `bcos_resolve(name, version | "latest")` (spec/execution.md §7): where a name's version
//! lives, read from the CNS system contract at the latest block through its own ABI, as any
//! client's eth_call would read it.

use crate::blocking::{self, Pool};
use crate::errors::{
    api_error, decode_error_string, internal_error, invalid_params, server_error, RpcResult,
};
use crate::server::Ctx;
use crate::StateAt;
use alloy_sol_types::SolCall;
use bcos_types::cns::{check_name, check_version, ICns, CNS_ADDRESS, CNS_LATEST};
use bcos_types::{CallOutcome, CallRequest};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

pub fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    blocking::register(
        m,
        "bcos_resolve",
        Pool::Evm,
        |p, c, _| -> RpcResult<serde_json::Value> {
            let mut seq = p.sequence();
            let name: String = seq.next()?;
            let version: Option<String> = seq.optional_next()?;
            check_name(&name).map_err(invalid_params)?;
            let (version, address) = match version.as_deref() {
                None | Some(CNS_LATEST) => {
                    let last = cns_call(c, ICns::latestCall { name: name.clone() })?;
                    (last.version, last.addr)
                }
                Some(v) => {
                    check_version(v).map_err(invalid_params)?;
                    let call = ICns::resolveCall {
                        name: name.clone(),
                        version: v.to_string(),
                    };
                    (v.to_string(), cns_call(c, call)?)
                }
            };
            Ok(serde_json::json!({ "name": name, "version": version, "address": address }))
        },
    )?;
    Ok(())
}

/// Runs `call` against the CNS at the latest state: its return value, or its revert reason
/// as a server error ("cns: Pay 3.0 is not registered").
fn cns_call<C: SolCall>(c: &Ctx, call: C) -> RpcResult<C::Return> {
    let request = CallRequest {
        to: Some(CNS_ADDRESS),
        input: call.abi_encode().into(),
        ..Default::default()
    };
    match c.api.call(request, StateAt::Latest).map_err(api_error)? {
        CallOutcome::Success { output, .. } => C::abi_decode_returns(&output)
            .map_err(|e| internal_error(format!("the CNS answered {output}: {e}"))),
        CallOutcome::Revert { output, .. } => Err(server_error(
            decode_error_string(&output).unwrap_or_else(|| "the CNS call reverted".into()),
        )),
        CallOutcome::Halt { reason, .. } => {
            Err(internal_error(format!("the CNS halted: {reason}")))
        }
    }
}
