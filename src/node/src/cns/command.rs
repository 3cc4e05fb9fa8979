//! The `bcos cns` subcommands. Each prints one JSON value on stdout (an object, or a list
//! for `list`), so scripts read it with `jq`; errors go to stderr with the node's reason.

use super::client::{route_key, Artifact, CnsClient};
use anyhow::Context;
use bcos_types::Address;
use clap::{Parser, Subcommand};
use serde_json::json;
use std::path::PathBuf;

#[derive(Parser)]
pub struct CnsArgs {
    /// The node's JSON-RPC URL; `…/g/<group>` for a group other than 0.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// File holding the hex secret key that signs (commands that send a transaction).
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// Sign with test account N of the development mnemonic instead of a key file (a
    /// `bcos dev` or `bcos up` chain only).
    #[arg(long, global = true, conflicts_with = "key_file")]
    pub dev_account: Option<usize>,
    /// How long a transaction's receipt is waited for.
    #[arg(long, global = true, default_value_t = super::client::CNS_RECEIPT_TIMEOUT_MS_DEFAULT)]
    pub receipt_timeout_ms: u64,
    #[command(subcommand)]
    pub command: CnsCommand,
}

#[derive(Subcommand)]
pub enum CnsCommand {
    /// Deploy a compiled contract (solc, Foundry or Hardhat artifact JSON) and register it
    /// as VERSION of NAME with its ABI.
    Deploy {
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
        /// The constructor's arguments, ABI-encoded as hex (`cast abi-encode` prints them),
        /// appended to the creation bytecode.
        #[arg(long, default_value = "0x")]
        constructor_args: bcos_types::Bytes,
        artifact: PathBuf,
    },
    /// Register an already deployed contract as VERSION of NAME.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
        #[arg(long)]
        address: Address,
        /// The contract's ABI (a JSON file: an ABI array or an artifact holding one).
        #[arg(long)]
        abi: Option<PathBuf>,
    },
    /// Every name, its owner and its versions.
    List,
    /// The address of VERSION of NAME (default: the latest version).
    Resolve {
        name: String,
        version: Option<String>,
    },
    /// The address a caller identified by KEY lands on (a 0x-prefixed 32-byte value, or
    /// any text, which is hashed with keccak256).
    Route {
        name: String,
        #[arg(long)]
        key: String,
    },
    /// Send PERMILLE of the callers to CANARY, the rest to STABLE (the name's owner only).
    SetRoute {
        name: String,
        #[arg(long)]
        stable: String,
        #[arg(long)]
        canary: String,
        #[arg(long)]
        permille: u16,
    },
}

fn key(args: &CnsArgs) -> anyhow::Result<Option<bcos_crypto::SecretKey>> {
    match (&args.key_file, args.dev_account) {
        (Some(path), _) => crate::keyfile::read_secret_key(path).map(Some),
        (None, Some(n)) => {
            crate::keyfile::parse_secret_key(&crate::settlement::relay::dev_key_hex(n)?).map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// The ABI text of `path`: an ABI array as it is, or an artifact's `abi`.
fn abi_text(path: &std::path::Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let abi = v.get("abi").unwrap_or(&v);
    anyhow::ensure!(abi.is_array(), "{} holds no ABI array", path.display());
    Ok(serde_json::to_string(abi)?)
}

pub fn run(args: CnsArgs) -> anyhow::Result<()> {
    let mut client = CnsClient::connect(&args.rpc, key(&args)?)?;
    client.receipt_timeout = std::time::Duration::from_millis(args.receipt_timeout_ms);
    let out = match &args.command {
        CnsCommand::Deploy {
            name,
            version,
            constructor_args,
            artifact,
        } => {
            let text = std::fs::read_to_string(artifact)
                .with_context(|| format!("reading {}", artifact.display()))?;
            let mut artifact = Artifact::parse(&text)
                .with_context(|| format!("artifact {}", artifact.display()))?;
            artifact.bytecode = [&artifact.bytecode[..], &constructor_args[..]]
                .concat()
                .into();
            let address = client.deploy(name, version, &artifact)?;
            json!({ "name": name, "version": version, "address": address })
        }
        CnsCommand::Register {
            name,
            version,
            address,
            abi,
        } => {
            let abi = abi
                .as_deref()
                .map(abi_text)
                .transpose()?
                .unwrap_or_default();
            client.register(name, version, *address, &abi)?;
            json!({ "name": name, "version": version, "address": address })
        }
        CnsCommand::List => serde_json::Value::Array(client.list()?),
        CnsCommand::Resolve { name, version } => {
            let (version, address) = client.resolve(name, version.as_deref())?;
            json!({ "name": name, "version": version, "address": address })
        }
        CnsCommand::Route { name, key } => {
            let key = route_key(key);
            let address = client.route(name, key)?;
            json!({ "name": name, "key": key, "address": address })
        }
        CnsCommand::SetRoute {
            name,
            stable,
            canary,
            permille,
        } => {
            client.set_route(name, stable, canary, *permille)?;
            json!({ "name": name, "stable": stable, "canary": canary, "canaryPermille": permille })
        }
    };
    println!("{out}");
    Ok(())
}
