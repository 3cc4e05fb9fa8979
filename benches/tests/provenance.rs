//! The provenance log every bench run appends to (benches/src/provenance.rs): where it goes and
//! what a line holds, in the shape loadgen's reader (loadgen/src/report/provenance.rs) expects.

use bcos_benches::provenance::{append, criterion_dir_from, git_state, Record, PROVENANCE_FILE};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[test]
fn the_log_sits_where_criterion_writes() {
    let exe = Path::new("/t/release/deps/recover-0123abcd");
    let os = |s: &str| Some(OsString::from(s));
    assert_eq!(
        criterion_dir_from(os("/crit"), os("/tgt"), Some(exe)),
        Some(PathBuf::from("/crit"))
    );
    assert_eq!(
        criterion_dir_from(None, os("/tgt"), Some(exe)),
        Some(PathBuf::from("/tgt/criterion"))
    );
    assert_eq!(
        criterion_dir_from(os(""), None, Some(exe)),
        Some(PathBuf::from("/t/criterion"))
    );
    // Not a cargo-built bench binary: no guess.
    assert_eq!(
        criterion_dir_from(None, None, Some(Path::new("/usr/bin/recover"))),
        None
    );
    assert_eq!(criterion_dir_from(None, None, None), None);
}

#[test]
fn each_run_appends_one_json_line() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("criterion");
    let run = |bench: &str, commit: Option<&str>, started: u64| Record {
        bench: bench.into(),
        commit: commit.map(Into::into),
        dirty: commit.is_none(),
        started_unix_ms: started,
        finished_unix_ms: started + 1000,
    };
    append(&dir, &run("recover", Some("0123abc"), 5))?;
    append(&dir, &run("evm", None, 7))?;
    let text = std::fs::read_to_string(dir.join(PROVENANCE_FILE))?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        serde_json::json!({"bench": "recover", "commit": "0123abc", "dirty": false,
            "started_unix_ms": 5, "finished_unix_ms": 1005})
    );
    assert_eq!(lines[1]["commit"], serde_json::Value::Null);
    assert_eq!(lines[1]["dirty"], true);
    Ok(())
}

#[test]
fn git_state_names_this_checkout() {
    let (commit, _dirty) = git_state(Path::new(env!("CARGO_MANIFEST_DIR")));
    // The benches are built from a git checkout; outside one this would be None.
    if let Some(sha) = commit {
        assert_eq!(sha.len(), 40, "{sha}");
        assert!(sha.chars().all(|c| c.is_ascii_hexdigit()), "{sha}");
    } else {
        eprintln!("SKIP: not a git checkout");
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(git_state(tmp.path()), (None, false));
}
