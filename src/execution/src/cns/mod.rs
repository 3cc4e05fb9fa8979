//! The contract naming service (spec/execution.md §7, CNS-R1..R9): names and versions for
//! contracts, and a weighted canary route between two versions, as a system contract at
//! `0x…1004` in every group with an ordinary Solidity ABI (`bcos_types::cns::ICns`).
//!
//! - `store.rs`: where each entry lives in the contract's storage.
//!
//! Every check that refuses a call reverts with a reason that starts with `cns:`.

mod store;

use crate::system::{SystemContract, SystemEnv, SystemError, SystemOutput, SystemState};
use crate::system_abi::{calls_one_of, event_log, returns, revert, write_gas};
use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use bcos_types::cns::{
    check_name, check_version, route_bucket, ICns, CNS_ABI_BYTES_MAX, CNS_ADDRESS, CNS_LIST_MAX,
    CNS_PERMILLE_MAX, CNS_VERSIONS_MAX,
};
use store::Store;

/// CNS-R9: gas of a writing call beyond the plain call: a base, and a storage write's price
/// (20,000, as SSTORE prices a new slot) for each 32-byte word of its arguments, which is
/// about what it stores.
pub const CNS_WRITE_GAS_BASE: u64 = 25_000;
pub const CNS_WRITE_GAS_PER_WORD: u64 = 20_000;
/// CNS-R9: gas of a view beyond the plain call (what a transaction calling one pays; an
/// `eth_call` is bounded by the call gas limit like any other).
pub const CNS_VIEW_GAS: u64 = 10_000;

/// The CNS system contract.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cns;

fn log(event: &impl SolEvent) -> SystemOutput {
    SystemOutput {
        logs: vec![event_log(CNS_ADDRESS, event)],
        output: Default::default(),
    }
}

fn is_write(input: &[u8]) -> bool {
    calls_one_of(
        input,
        &[
            ICns::registerCall::SELECTOR,
            ICns::transferOwnershipCall::SELECTOR,
            ICns::setRouteCall::SELECTOR,
        ],
    )
}

impl SystemContract for Cns {
    fn address(&self) -> Address {
        CNS_ADDRESS
    }

    fn gas(&self, input: &[u8]) -> u64 {
        if !is_write(input) {
            return CNS_VIEW_GAS;
        }
        write_gas(input, CNS_WRITE_GAS_BASE, CNS_WRITE_GAS_PER_WORD)
    }

    fn call(
        &self,
        state: &mut SystemState<'_, '_>,
        env: &SystemEnv,
        input: &[u8],
    ) -> Result<SystemOutput, SystemError> {
        let call = ICns::ICnsCalls::abi_decode(input)
            .map_err(|e| revert(format!("cns: not a call of the CNS interface: {e}")))?;
        let mut store = Store::new(state);
        let caller = env.caller;
        use ICns::ICnsCalls as C;
        match call {
            C::register(c) => register(&mut store, caller, c),
            C::resolve(c) => {
                let addr = registered(&mut store, &c.name, &c.version)?;
                Ok(returns::<ICns::resolveCall>(&addr))
            }
            C::latest(c) => {
                let (version, addr) = latest(&mut store, &c.name)?;
                Ok(returns::<ICns::latestCall>(&ICns::latestReturn {
                    version,
                    addr,
                }))
            }
            C::versions(c) => {
                let count = store.version_count(&c.name)?;
                let versions = (0..count)
                    .map(|i| store.version_at(&c.name, i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(returns::<ICns::versionsCall>(&versions))
            }
            C::abiOf(c) => {
                registered(&mut store, &c.name, &c.version)?;
                let abi = store.abi(&c.name, &c.version)?;
                Ok(returns::<ICns::abiOfCall>(&abi))
            }
            C::ownerOf(c) => {
                let owner = store.owner(&c.name)?;
                Ok(returns::<ICns::ownerOfCall>(&owner))
            }
            C::transferOwnership(c) => transfer(&mut store, caller, c),
            C::setRoute(c) => set_route(&mut store, caller, c),
            C::route(c) => {
                let addr = route(&mut store, &c.name, &c.key)?;
                Ok(returns::<ICns::routeCall>(&addr))
            }
            C::nameCount(_) => {
                let count = store.name_count()?;
                Ok(returns::<ICns::nameCountCall>(&U256::from(count)))
            }
            C::names(c) => {
                let names = names(&mut store, c.start, c.count)?;
                Ok(returns::<ICns::namesCall>(&names))
            }
        }
    }
}

/// CNS-R2: only the owner of a name (its first registrant) changes it.
fn owned_by(store: &mut Store<'_, '_, '_>, name: &str, caller: Address) -> Result<(), SystemError> {
    let owner = store.owner(name)?;
    if owner.is_zero() {
        return Err(revert(format!("cns: {name} is not registered")));
    }
    if owner != caller {
        return Err(revert(format!(
            "cns: {name} is owned by {owner}; {caller} may not change it"
        )));
    }
    Ok(())
}

/// CNS-R1..R4.
fn register(
    store: &mut Store<'_, '_, '_>,
    caller: Address,
    c: ICns::registerCall,
) -> Result<SystemOutput, SystemError> {
    check_name(&c.name).map_err(revert)?;
    check_version(&c.version).map_err(revert)?;
    if c.addr.is_zero() {
        return Err(revert("cns: cannot register the zero address"));
    }
    if c.abi.len() > CNS_ABI_BYTES_MAX {
        return Err(revert(format!(
            "cns: an ABI is at most {CNS_ABI_BYTES_MAX} bytes, not {}",
            c.abi.len()
        )));
    }
    if store.owner(&c.name)?.is_zero() {
        store.set_owner(&c.name, caller)?;
        store.add_name(&c.name)?;
    } else {
        owned_by(store, &c.name, caller)?;
    }
    if !store.addr(&c.name, &c.version)?.is_zero() {
        return Err(revert(format!(
            "cns: {} {} is already registered; a version never changes (register a new one)",
            c.name, c.version
        )));
    }
    if store.version_count(&c.name)? >= CNS_VERSIONS_MAX {
        return Err(revert(format!(
            "cns: {} has the most versions a name may have ({CNS_VERSIONS_MAX})",
            c.name
        )));
    }
    store.add_version(&c.name, &c.version, c.addr, &c.abi)?;
    Ok(log(&ICns::Registered {
        name: c.name,
        version: c.version,
        addr: c.addr,
        owner: caller,
    }))
}

fn registered(
    store: &mut Store<'_, '_, '_>,
    name: &str,
    version: &str,
) -> Result<Address, SystemError> {
    let addr = store.addr(name, version)?;
    if addr.is_zero() {
        return Err(revert(format!("cns: {name} {version} is not registered")));
    }
    Ok(addr)
}

/// CNS-R5: the version registered last.
fn latest(store: &mut Store<'_, '_, '_>, name: &str) -> Result<(String, Address), SystemError> {
    let Some(last) = store.version_count(name)?.checked_sub(1) else {
        return Err(revert(format!("cns: {name} is not registered")));
    };
    let version = store.version_at(name, last)?;
    let addr = store.addr(name, &version)?;
    Ok((version, addr))
}

fn transfer(
    store: &mut Store<'_, '_, '_>,
    caller: Address,
    c: ICns::transferOwnershipCall,
) -> Result<SystemOutput, SystemError> {
    owned_by(store, &c.name, caller)?;
    if c.newOwner.is_zero() {
        return Err(revert("cns: cannot transfer a name to the zero address"));
    }
    store.set_owner(&c.name, c.newOwner)?;
    Ok(log(&ICns::OwnershipTransferred {
        name: c.name,
        previousOwner: caller,
        newOwner: c.newOwner,
    }))
}

/// CNS-R6.
fn set_route(
    store: &mut Store<'_, '_, '_>,
    caller: Address,
    c: ICns::setRouteCall,
) -> Result<SystemOutput, SystemError> {
    owned_by(store, &c.name, caller)?;
    if c.canaryPermille > CNS_PERMILLE_MAX {
        return Err(revert(format!(
            "cns: the canary weight is 0 to {CNS_PERMILLE_MAX} permille, not {}",
            c.canaryPermille
        )));
    }
    if c.stable == c.canary {
        return Err(revert(
            "cns: the stable and the canary version are the same",
        ));
    }
    registered(store, &c.name, &c.stable)?;
    registered(store, &c.name, &c.canary)?;
    store.set_route(&c.name, &c.stable, &c.canary, c.canaryPermille)?;
    Ok(log(&ICns::RouteSet {
        name: c.name,
        stable: c.stable,
        canary: c.canary,
        canaryPermille: c.canaryPermille,
    }))
}

/// CNS-R6, CNS-R7: the canary for keys whose bucket is below the weight, else the stable
/// version; the latest version while no route is set.
fn route(
    store: &mut Store<'_, '_, '_>,
    name: &str,
    key: &alloy_primitives::B256,
) -> Result<Address, SystemError> {
    match store.route(name)? {
        Some((stable, canary, permille)) => {
            let version = if route_bucket(name, key) < permille {
                canary
            } else {
                stable
            };
            registered(store, name, &version)
        }
        None => Ok(latest(store, name)?.1),
    }
}

/// CNS-R8: at most [`CNS_LIST_MAX`] names from `start`, in registration order.
fn names(
    store: &mut Store<'_, '_, '_>,
    start: U256,
    count: U256,
) -> Result<Vec<String>, SystemError> {
    if count > U256::from(CNS_LIST_MAX) {
        return Err(revert(format!(
            "cns: names() returns at most {CNS_LIST_MAX} names a call, not {count}"
        )));
    }
    let total = store.name_count()?;
    let start = u64::try_from(start).unwrap_or(u64::MAX).min(total);
    // count <= CNS_LIST_MAX, checked above.
    let end = start.saturating_add(count.to::<u64>()).min(total);
    (start..end)
        .map(|i| store.name_at(i).map_err(SystemError::from))
        .collect()
}
