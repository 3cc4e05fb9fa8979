//! The node deny list (P2P-I3): node ids and certificate serials the transport refuses even
//! though the chain CA signed them, re-read while the node runs.
//!
//! File format, one entry per line, `#` to the end of a line is a comment:
//!
//! ```text
//! node   3f9a...c1      # every certificate carrying this node id (the certificate's CN)
//! serial 5b02...77      # one certificate, by serial number (lower- or upper-case hex)
//! ```
//!
//! The transport checks the file's modification time, size and inode every
//! `deny_list_poll_ms` and re-reads it when any changed (no signal needed: editing the file is
//! enough). A new list applies to handshakes from then on and closes the existing connections
//! (both directions) of every peer it now names. A file that cannot be read or parsed while
//! running leaves the previous list in force (logged and counted); at start it is an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::normalize_node_id;
use crate::pki::PeerIdentity;

/// Largest deny list file read, in bytes. The file is the operator's, not a peer's; the
/// bound only keeps a wrong path (a log file, a device) from being read whole.
pub const DENY_LIST_BYTES_MAX: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DenyListError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {DENY_LIST_BYTES_MAX} bytes")]
    TooLarge { path: PathBuf },
    #[error("line {line}: {reason} (expected `node <hex>` or `serial <hex>`)")]
    Syntax { line: usize, reason: &'static str },
}

/// Parsed deny list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyList {
    node_ids: HashSet<String>,
    serials: HashSet<String>,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl DenyList {
    pub fn parse(text: &str) -> Result<Self, DenyListError> {
        let mut list = DenyList::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let syntax = |reason| DenyListError::Syntax {
                line: i + 1,
                reason,
            };
            let mut words = line.split_whitespace();
            let (Some(kind), Some(value), None) = (words.next(), words.next(), words.next()) else {
                return Err(syntax("want exactly two words"));
            };
            let value = normalize_node_id(value);
            if !is_hex(&value) {
                return Err(syntax("value is not hex"));
            }
            match kind {
                "node" => list.node_ids.insert(value),
                // serials compare without leading zeros, as PeerIdentity reports them
                "serial" => list
                    .serials
                    .insert(value.trim_start_matches('0').to_owned()),
                _ => return Err(syntax("unknown entry kind")),
            };
        }
        Ok(list)
    }

    /// A list of node ids and certificate serials (hex, normalized as [`DenyList::parse`]
    /// does); entries that are not hex are skipped.
    pub fn from_entries(
        node_ids: impl IntoIterator<Item = String>,
        serials: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut list = DenyList::default();
        for id in node_ids {
            let id = normalize_node_id(&id);
            if is_hex(&id) {
                list.node_ids.insert(id);
            }
        }
        for serial in serials {
            let serial = normalize_node_id(&serial);
            if is_hex(&serial) {
                list.serials
                    .insert(serial.trim_start_matches('0').to_owned());
            }
        }
        list
    }

    /// Everything either list denies.
    pub fn union(&self, other: &DenyList) -> DenyList {
        DenyList {
            node_ids: self.node_ids.union(&other.node_ids).cloned().collect(),
            serials: self.serials.union(&other.serials).cloned().collect(),
        }
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, DenyListError> {
        let io = |source| DenyListError::Io {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > DENY_LIST_BYTES_MAX {
            return Err(DenyListError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(io)?)
    }

    /// Whether a peer with this certificate is refused.
    pub fn denies(&self, id: &PeerIdentity) -> bool {
        self.node_ids.contains(&id.node_id_hex) || self.serials.contains(&id.serial_hex)
    }

    /// Whether this node id is refused whatever its certificate.
    pub fn denies_node_id(&self, node_id_hex: &str) -> bool {
        self.node_ids.contains(&normalize_node_id(node_id_hex))
    }

    pub fn len(&self) -> usize {
        self.node_ids.len() + self.serials.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What identifies one version of the file: changed when it is rewritten or replaced.
pub(crate) type FileStamp = Option<(std::time::SystemTime, u64, u64)>;

pub(crate) fn stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(node: &str, serial: &str) -> PeerIdentity {
        PeerIdentity {
            index: 1,
            node_id_hex: node.into(),
            serial_hex: serial.into(),
            not_after_unix_s: 0,
        }
    }

    #[test]
    fn parses_entries_and_comments_and_matches_normalized() {
        let list =
            DenyList::parse("# revoked\n\nnode 0xABcd  # lost key\nserial 00ff01\n   serial 7 \n")
                .expect("parses");
        assert_eq!(list.len(), 3);
        assert!(list.denies(&id("abcd", "1")));
        assert!(list.denies_node_id("0xABCD"));
        assert!(list.denies(&id("ef", "ff01")));
        assert!(list.denies(&id("ef", "7")));
        assert!(!list.denies(&id("ef", "ff02")));
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line_number() {
        for (text, line) in [
            ("node\n", 1),
            ("node ab\nnode ab cd\n", 2),
            ("\nhost ab\n", 2),
            ("serial xyz\n", 1),
        ] {
            match DenyList::parse(text) {
                Err(DenyListError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
