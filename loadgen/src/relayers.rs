//! `bcos relay` processes for an embedded cluster with high-frequency accounts
//! ([`crate::settlement`]): `bcos up` starts one relayer per user chain, but loadgen starts
//! its nodes with `bcos init` + `bcos node`, so it starts the relayers itself — user chain g's
//! from node g mod N's `/g/<g>` to the same node's merchant chain `/g/0`, paying with the test
//! mnemonic's account 19 - g (as `bcos up` does) — and kills them when the target stops.

use crate::settlement::{dev_relayer_account, MERCHANT_GROUP};
use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Relayer {
    pub group: usize,
    child: Child,
    log: PathBuf,
}

/// Starts one relayer per user group under `dir` (key files and logs); `node_urls` are the
/// nodes' root RPC URLs.
pub fn start(
    bin: &Path,
    dir: &Path,
    node_urls: &[String],
    user_groups: &[usize],
    poll_ms: Option<u64>,
) -> anyhow::Result<Vec<Relayer>> {
    let mut out = Vec::new();
    for &g in user_groups {
        let account = dev_relayer_account(g)
            .ok_or_else(|| anyhow!("no dev relayer account for user chain {g}"))?;
        let keys = bcos_crypto::dev_keys(bcos_crypto::TEST_MNEMONIC, account + 1)?;
        let key = keys
            .get(account)
            .ok_or_else(|| anyhow!("no dev key {account}"))?;
        let key_file = dir.join(format!("relayer-g{g}.key"));
        std::fs::write(&key_file, crate::accounts::hex(&key.secret_bytes()))?;
        let node = node_urls
            .get(g % node_urls.len().max(1))
            .ok_or_else(|| anyhow!("no node to relay through"))?
            .trim_end_matches('/');
        let log = dir.join(format!("relayer-g{g}.log"));
        let file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(bin);
        cmd.arg("relay")
            .args(["--source", &format!("{node}/g/{g}")])
            .args(["--target", &format!("{node}/g/{MERCHANT_GROUP}")])
            .arg("--key-file")
            .arg(&key_file)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        if let Some(ms) = poll_ms {
            cmd.args(["--poll-ms", &ms.to_string()]);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the relayer of user chain {g}"))?;
        out.push(Relayer {
            group: g,
            child,
            log,
        });
    }
    Ok(out)
}

impl Relayer {
    /// Whether it is still running (a relayer never exits on its own).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Kills it (it keeps no state: a restarted relayer resumes from the chains' status).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relayer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Each relayer's state and log tail, for an error message.
pub fn describe(relayers: &mut [Relayer]) -> String {
    relayers
        .iter_mut()
        .map(|r| {
            let state = if r.running() { "running" } else { "EXITED" };
            format!(
                "relayer of user chain {} ({state}), log tail:\n{}",
                r.group,
                r.log_tail(8)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
