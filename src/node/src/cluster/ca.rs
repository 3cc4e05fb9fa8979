//! `bcos ca`: a CA of an institution's own (whitepaper §4.2, spec/governance.md GOV-R8).
//! `new` writes a CA; `show` prints what a governance proposal needs (the certificate's DER
//! for `addCa`, its keccak256 for `removeCa`); `issue` certifies an existing node (same
//! index and node id, new key) by that CA. The node keeps trusting its chain CA
//! (`keys/ca.crt`); peers trust the new CA once governance added it.

use anyhow::Context;
use bcos_net::pki::Validity;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
pub struct CaArgs {
    #[command(subcommand)]
    command: CaCommand,
}

#[derive(Subcommand)]
enum CaCommand {
    /// Write a new CA (ca.crt, ca.key) into a directory that holds none.
    New {
        #[arg(long)]
        out: PathBuf,
        /// The CA's name (its certificate's common name).
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 3650)]
        validity_days: u32,
    },
    /// Print the CA certificate as JSON: its DER (hex) and keccak256 of the DER.
    Show {
        #[arg(long)]
        ca: PathBuf,
    },
    /// Certify a node (its keys directory) by this CA instead of the chain CA.
    Issue {
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value_t = bcos_net::pki::NODE_CERT_VALIDITY_DAYS_DEFAULT)]
        validity_days: u32,
    },
}

pub fn run(args: CaArgs) -> anyhow::Result<()> {
    match args.command {
        CaCommand::New {
            out,
            name,
            validity_days,
        } => {
            if out.join(bcos_net::pki::CA_CERT_FILE).exists() {
                anyhow::bail!("{} already holds a CA", out.display());
            }
            if validity_days == 0 {
                anyhow::bail!("--validity-days must be positive");
            }
            let ca = bcos_net::pki::generate_ca_with_validity(
                &name,
                Validity::days_from_now(validity_days),
            )?;
            bcos_net::pki::save_ca(&out, &ca)?;
            println!("{}", show(&out)?);
        }
        CaCommand::Show { ca } => println!("{}", show(&ca)?),
        CaCommand::Issue {
            ca,
            keys,
            validity_days,
        } => {
            let not_after = issue(&ca, &keys, validity_days)?;
            println!(
                "{} is now certified by {} until Unix time {not_after}; restart the node to use it",
                keys.display(),
                ca.display()
            );
        }
    }
    Ok(())
}

/// `{"der": "0x…", "hash": "0x…"}` of the CA in `dir`.
pub fn show(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let ca = bcos_net::pki::load_ca(dir)
        .with_context(|| format!("loading the CA in {}", dir.display()))?;
    let der = ca.cert().der().to_vec();
    Ok(serde_json::json!({
        "name": ca.name(),
        "der": format!("0x{}", alloy_primitives::hex::encode(&der)),
        "hash": format!("{}", alloy_primitives::keccak256(&der)),
    }))
}

/// Issues the node in `keys_dir` a certificate by the CA in `ca_dir`: same index and node id.
pub fn issue(ca_dir: &Path, keys_dir: &Path, validity_days: u32) -> anyhow::Result<i64> {
    if validity_days == 0 {
        anyhow::bail!("--validity-days must be positive");
    }
    let ca = bcos_net::pki::load_ca(ca_dir)
        .with_context(|| format!("loading the CA in {}", ca_dir.display()))?;
    let old = bcos_net::pki::load_node_cert(keys_dir)
        .with_context(|| format!("loading the node certificate in {}", keys_dir.display()))?;
    let cert = ca.issue_node_with_validity(
        old.index,
        &old.node_id_hex,
        Validity::days_from_now(validity_days),
    )?;
    bcos_net::pki::save_node_cert(keys_dir, &cert)?;
    Ok(cert.not_after_unix_s)
}
