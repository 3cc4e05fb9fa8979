//! `bcos relay` as a child process (spec/settlement.md §9): killed with SIGKILL on drop,
//! its output kept in a file the test prints when it fails.

use crate::node::bcos_bin;
use secp256k1::SecretKey;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Relayer {
    child: Option<Child>,
    log: PathBuf,
    args: Vec<String>,
}

impl Relayer {
    /// Starts `bcos relay --source .. --target .. --key-file <dir>/<name>.key`.
    pub fn start(dir: &Path, name: &str, source: &str, target: &str, key: &SecretKey) -> Relayer {
        let key_file = dir.join(format!("{name}.key"));
        let hex: String = key
            .secret_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(&key_file, hex).expect("write relayer key");
        let args = vec![
            "relay".to_string(),
            "--source".into(),
            source.into(),
            "--target".into(),
            target.into(),
            "--key-file".into(),
            key_file.display().to_string(),
            "--poll-ms".into(),
            "50".into(),
        ];
        let mut r = Relayer {
            child: None,
            log: dir.join(format!("{name}.log")),
            args,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("relayer log");
        let child = Command::new(bcos_bin())
            .args(&self.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("start bcos relay");
        self.child = Some(child);
    }

    /// SIGKILL, mid-whatever it was doing.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same arguments (and key, so the same nonces).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// The relayer's output so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running (it never exits on its own).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Relayer {
    fn drop(&mut self) {
        self.kill9();
    }
}
