//! The contract naming service's interface (spec/execution.md §7): its address, its
//! Solidity ABI, its limits and the rules a name, a version and a canary key follow. The
//! contract itself is `bcos-execution`'s `cns.rs`; the RPC method `bcos_resolve` and the
//! `bcos cns` commands speak to it through this ABI, as any Ethereum client can.

use alloy_primitives::{address, keccak256, Address, B256};

/// FISCO BCOS 2.x's CNS address, beside the node manager at `0x…1003`.
pub const CNS_ADDRESS: Address = address!("0000000000000000000000000000000000001004");

/// Longest name, in bytes (CNS-R1).
pub const CNS_NAME_BYTES_MAX: usize = 128;
/// Longest version, in bytes (CNS-R1).
pub const CNS_VERSION_BYTES_MAX: usize = 64;
/// Longest ABI text registered with a version (CNS-R1).
pub const CNS_ABI_BYTES_MAX: usize = 64 * 1024;
/// Versions one name may have (CNS-R3): `versions(name)` returns them all in one call.
pub const CNS_VERSIONS_MAX: u64 = 1024;
/// Names one `names(start, count)` call returns at most (CNS-R8).
pub const CNS_LIST_MAX: u64 = 256;
/// The canary weight is in permille (CNS-R6).
pub const CNS_PERMILLE_MAX: u16 = 1000;
/// The version word `bcos_resolve` and `bcos cns resolve` read as "the latest version"; no
/// version may be called this (CNS-R1).
pub const CNS_LATEST: &str = "latest";

alloy_sol_types::sol! {
    /// The CNS system contract at `0x…1004`.
    #[derive(Debug, PartialEq, Eq)]
    interface ICns {
        event Registered(string name, string version, address addr, address owner);
        event OwnershipTransferred(string name, address previousOwner, address newOwner);
        event RouteSet(string name, string stable, string canary, uint16 canaryPermille);

        /// Registers `version` of `name` at `addr`, with the contract's ABI (JSON text).
        /// The first registrant of a name owns it; a version is immutable once registered.
        function register(string name, string version, address addr, string abi) external;
        function resolve(string name, string version) external view returns (address);
        function latest(string name) external view returns (string version, address addr);
        function versions(string name) external view returns (string[] memory);
        function abiOf(string name, string version) external view returns (string memory);
        function ownerOf(string name) external view returns (address);
        function transferOwnership(string name, address newOwner) external;
        /// Sends `canaryPermille` of the keys to `canary`, the rest to `stable`.
        function setRoute(string name, string stable, string canary, uint16 canaryPermille) external;
        /// The version a caller identified by `key` lands on (the latest without a route).
        function route(string name, bytes32 key) external view returns (address);
        function nameCount() external view returns (uint256);
        function names(uint256 start, uint256 count) external view returns (string[] memory);
    }
}

/// Why a name or a version is refused (CNS-R1).
pub fn check_name(name: &str) -> Result<(), String> {
    check_word("name", name, CNS_NAME_BYTES_MAX)
}

/// Why a version is refused (CNS-R1): a name's rules, and not [`CNS_LATEST`].
pub fn check_version(version: &str) -> Result<(), String> {
    check_word("version", version, CNS_VERSION_BYTES_MAX)?;
    if version == CNS_LATEST {
        return Err(format!(
            "cns: \"{CNS_LATEST}\" is reserved (it means the latest version)"
        ));
    }
    Ok(())
}

fn check_word(what: &str, word: &str, max: usize) -> Result<(), String> {
    if word.is_empty() || word.len() > max {
        return Err(format!(
            "cns: a {what} is 1 to {max} bytes, not {}",
            word.len()
        ));
    }
    if let Some(c) = word
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "cns: a {what} holds letters, digits, '.', '_' and '-' only, not {c:?}"
        ));
    }
    Ok(())
}

/// CNS-R6: the bucket (0..1000) a canary key falls in for `name`: keccak256(name ‖ key)
/// read as a big-endian number, modulo 1000. The same key always lands in the same bucket,
/// and keys spread evenly, so the share of keys below the weight converges to it.
pub fn route_bucket(name: &str, key: &B256) -> u16 {
    let mut preimage = Vec::with_capacity(name.len() + 32);
    preimage.extend_from_slice(name.as_bytes());
    preimage.extend_from_slice(key.as_slice());
    let h = alloy_primitives::U256::from_be_bytes(keccak256(preimage).0);
    // < 1000, so the narrowing cannot fail.
    u16::try_from(h % alloy_primitives::U256::from(CNS_PERMILLE_MAX)).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;
    use alloy_sol_types::SolCall;

    #[test]
    fn names_and_versions_follow_the_rules() {
        assert!(check_name("Token").is_ok());
        assert!(check_name("pay.v2_beta-1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(&"n".repeat(CNS_NAME_BYTES_MAX)).is_ok());
        assert!(check_name(&"n".repeat(CNS_NAME_BYTES_MAX + 1)).is_err());
        assert!(check_version("1.0.0").is_ok());
        assert!(check_version(CNS_LATEST).unwrap_err().contains("reserved"));
        assert!(check_version(&"1".repeat(CNS_VERSION_BYTES_MAX + 1)).is_err());
    }

    #[test]
    fn route_buckets_are_stable_and_spread_evenly() {
        let key = B256::repeat_byte(7);
        assert_eq!(route_bucket("a", &key), route_bucket("a", &key));
        let below_half = (0u64..10_000)
            .filter(|i| route_bucket("svc", &keccak256(i.to_be_bytes())) < 500)
            .count();
        assert!(
            (4_800..=5_200).contains(&below_half),
            "{below_half} of 10,000 keys below bucket 500"
        );
    }

    #[test]
    fn the_abi_is_solidity_s() {
        // Selectors a Solidity compiler gives the same signatures.
        assert_eq!(ICns::resolveCall::SIGNATURE, "resolve(string,string)");
        assert_eq!(
            ICns::registerCall::SELECTOR,
            keccak256("register(string,string,address,string)")[..4]
        );
    }
}
