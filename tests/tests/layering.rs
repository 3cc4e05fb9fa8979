//! DESIGN.md's promise: the pure crates (`bcos-types`, `bcos-consensus`) depend on no
//! runtime, VM, database, pairing library, io_uring or random number generator, so the
//! models and the simulator run the very cores the node runs, deterministically. Asks cargo
//! for each pure crate's own normal (non-dev, non-build) dependency tree, with the features
//! that crate itself selects, and checks every package in it.
//!
//! (A whole-workspace build unifies features, so there e.g. `alloy-eips` is built with KZG,
//! which links `blst`, because revm asks for it; that is the node's choice, not the
//! crate's, and does not reach the cores' code.)

use std::collections::BTreeSet;
use std::process::Command;

const PURE: [&str; 3] = ["bcos-types", "bcos-consensus", "bcos-settlement"];
const FORBIDDEN: [&str; 10] = [
    "tokio",
    "revm",
    "rocksdb",
    "librocksdb-sys",
    "blst",
    "io-uring",
    "rand",
    "rand_core",
    "getrandom",
    "rayon",
];

/// The package names in `package`'s normal dependency tree (itself included).
fn tree(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn pure_crates_depend_on_nothing_heavy_or_random() {
    for root in PURE {
        let deps = tree(root);
        assert!(deps.contains(root) && deps.len() > 3, "{root}: {deps:?}");
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| FORBIDDEN.contains(&d.as_str()))
            .collect();
        assert!(bad.is_empty(), "{root} depends on {bad:?}");
    }
}

#[test]
fn the_check_does_see_heavy_dependencies_where_they_are() {
    let deps = tree("bcos-node");
    for heavy in ["tokio", "revm", "rocksdb", "blst", "io-uring"] {
        assert!(
            deps.contains(heavy),
            "bcos-node should reach {heavy}: {deps:?}"
        );
    }
}
