//! Which code a criterion result measured. Criterion keeps only the latest result of each bench
//! under `<target>/criterion`, with nothing that says which commit produced it; a report that
//! reads those results (loadgen/src/report/criterion.rs) must not present a result measured at
//! another commit as its own. So every bench binary here runs through [`bench_main!`] instead of
//! `criterion_main!`, which appends one line per run to `<criterion dir>/bcos-provenance.jsonl`:
//!
//! ```json
//! {"bench":"recover","commit":"<sha>","dirty":false,"started_unix_ms":…,"finished_unix_ms":…}
//! ```
//!
//! `commit` is HEAD of the checkout the bench was built from (null outside git), `dirty` whether
//! tracked files had uncommitted changes (as loadgen's own commit check), and the interval the
//! run's results were written in: the report matches each result's `new/estimates.json` mtime
//! to the run whose interval holds it (loadgen/src/report/provenance.rs, the reader). `cargo
//! bench` rebuilds before it runs, so the checkout at run time is the code that was built.
//!
//! A run that dies before it finishes (a panic, Ctrl-C) writes no line: its results then have
//! an unknown commit in a report, which is the safe reading.

use serde::Serialize;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The provenance log's file name inside the criterion directory (loadgen reads this name).
pub const PROVENANCE_FILE: &str = "bcos-provenance.jsonl";

/// One line of the log; loadgen's reader ignores fields it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub bench: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub started_unix_ms: u64,
    pub finished_unix_ms: u64,
}

/// A bench binary's run in progress: the checkout's state and the start time, taken before
/// criterion measures anything.
#[derive(Debug)]
pub struct Run {
    bench: String,
    commit: Option<String>,
    dirty: bool,
    started_unix_ms: u64,
}

impl Run {
    /// Starts recording a run of the bench binary `bench`.
    pub fn start(bench: &str) -> Run {
        let (commit, dirty) = git_state(Path::new(env!("CARGO_MANIFEST_DIR")));
        Run {
            bench: bench.to_string(),
            commit,
            dirty,
            started_unix_ms: unix_ms(SystemTime::now()),
        }
    }

    /// Appends the finished run to the log of the criterion directory criterion itself uses.
    /// A run that only listed or smoke-tested the benches (`--list`, `--test`) measured
    /// nothing and is not recorded. A log that cannot be written is a warning, not a failed
    /// bench: the results are still there, only of unknown provenance.
    pub fn finish(self) {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        if args.iter().any(|a| a == "--list" || a == "--test") {
            return;
        }
        let dir = criterion_dir_from(
            std::env::var_os("CRITERION_HOME"),
            std::env::var_os("CARGO_TARGET_DIR"),
            std::env::current_exe().ok().as_deref(),
        );
        let Some(dir) = dir else {
            eprintln!("warning: no criterion directory found; this bench run's provenance is not recorded");
            return;
        };
        let record = Record {
            bench: self.bench,
            commit: self.commit,
            dirty: self.dirty,
            started_unix_ms: self.started_unix_ms,
            finished_unix_ms: unix_ms(SystemTime::now()),
        };
        if let Err(e) = append(&dir, &record) {
            eprintln!(
                "warning: recording this bench run's provenance in {}: {e}",
                dir.join(PROVENANCE_FILE).display()
            );
        }
    }
}

/// Appends `record` as one line to `<dir>/bcos-provenance.jsonl` (creating both). The line
/// goes out in one write to a file opened for appending, so lines of runs never interleave.
pub fn append(dir: &Path, record: &Record) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(PROVENANCE_FILE))?
        .write_all(&line)
}

/// The directory criterion writes its results to, found as criterion finds it:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the target dir the running bench
/// binary sits in (`<target>/<profile>/deps/<bench>-<hash>`) + `criterion`. None when none
/// applies.
pub fn criterion_dir_from(
    criterion_home: Option<OsString>,
    cargo_target_dir: Option<OsString>,
    exe: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(home) = criterion_home.filter(|h| !h.is_empty()) {
        return Some(home.into());
    }
    if let Some(target) = cargo_target_dir.filter(|t| !t.is_empty()) {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let deps = exe?.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    Some(deps.parent()?.parent()?.join("criterion"))
}

/// HEAD of the git checkout holding `dir` and whether its tracked files have changes;
/// (None, false) outside git.
pub fn git_state(dir: &Path) -> (Option<String>, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty()) {
        Some(sha) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            (Some(sha), dirty)
        }
        None => (None, false),
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `criterion_main!` that also records the run's provenance ([`Run`]): use it in place of
/// `criterion_main!` in every bench file.
#[macro_export]
macro_rules! bench_main {
    ( $( $group:path ),+ $(,)? ) => {
        fn main() {
            let run = $crate::provenance::Run::start(env!("CARGO_CRATE_NAME"));
            $( $group(); )+
            $crate::criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
            run.finish();
        }
    };
}
