//! The consensus core's durable record (`Output::Persist`): one small JSON file replaced
//! atomically (write a temporary file, fsync it, rename over, fsync the directory), so a
//! crash leaves either the old or the new record, never a torn one (spec/pbft.md PBFT-R2:
//! persist before send).

use anyhow::Context;
use serde::{de::DeserializeOwned, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct DurableFile {
    path: PathBuf,
    tmp: PathBuf,
}

impl DurableFile {
    pub fn new(dir: &Path, name: &str) -> Self {
        DurableFile {
            path: dir.join(name),
            tmp: dir.join(format!("{name}.tmp")),
        }
    }

    pub fn load<T: DeserializeOwned>(&self) -> anyhow::Result<Option<T>> {
        match self.load_bytes()? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is damaged", self.path.display())),
            None => Ok(None),
        }
    }

    pub fn load_bytes(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Returns only once the record is durable.
    pub fn store<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        self.store_bytes(&serde_json::to_vec(value)?)
    }

    /// Returns only once the bytes are durable.
    pub fn store_bytes(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut f = std::fs::File::create(&self.tmp)
            .with_context(|| format!("creating {}", self.tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_data()?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_replaces_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let f = DurableFile::new(dir.path(), "core.json");
        assert_eq!(f.load::<Vec<u32>>().unwrap(), None);
        f.store(&vec![1u32, 2]).unwrap();
        f.store(&vec![3u32]).unwrap();
        assert_eq!(f.load::<Vec<u32>>().unwrap(), Some(vec![3]));
        std::fs::write(dir.path().join("core.json"), b"{trunc").unwrap();
        assert!(f.load::<Vec<u32>>().is_err());
    }
}
