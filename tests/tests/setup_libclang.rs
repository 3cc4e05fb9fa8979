//! scripts/lib/libclang.sh finds libclang the way RocksDB's bindgen (clang-sys) does, so
//! `scripts/setup.sh` installs libclang-dev exactly when the build would fail without it.
//! Each case builds a fake root: the C++ library `libclang-cpp.so.14` (what a fresh Debian
//! machine of this project has) and other near misses must not count; real layouts must.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

const ELF64: &[u8] = b"\x7fELF\x02\x01\x01\x00fake shared object";
const ELF32: &[u8] = b"\x7fELF\x01\x01\x01\x00fake shared object";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lib/libclang.sh")
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
}

/// `libclang_find ROOT` with a clean environment; Some(path relative to ROOT) if found.
fn find(root: &Path, libclang_path: Option<&str>) -> Option<String> {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#". "$1" && libclang_find "$2""#)
        .arg("bash")
        .arg(script())
        .arg(root)
        .env_remove("LIBCLANG_PATH")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBRARY_PATH");
    if let Some(p) = libclang_path {
        cmd.env("LIBCLANG_PATH", p);
    }
    let out = cmd.output().expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        let rel = stdout
            .strip_prefix(&*root.to_string_lossy())
            .unwrap_or(&stdout)
            .to_string();
        Some(rel)
    } else {
        assert_eq!(
            out.status.code(),
            Some(1),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        None
    }
}

#[test]
fn the_cpp_library_alone_is_not_libclang() {
    let root = tempfile::tempdir().expect("tmp");
    put(
        root.path(),
        "/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14",
        ELF64,
    );
    assert_eq!(find(root.path(), None), None);
}

#[test]
fn near_misses_are_not_libclang() {
    let root = tempfile::tempdir().expect("tmp");
    let r = root.path();
    put(r, "/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14", ELF64);
    put(r, "/usr/lib/llvm-14/lib/libclang-cpp.so", ELF64);
    put(r, "/usr/lib/llvm-14/lib/libclangBasic.a", ELF64);
    put(
        r,
        "/usr/lib/llvm-14/lib/libclang.so",
        b"INPUT(-lclang-14)\n",
    ); // a linker script, not ELF
    put(r, "/usr/lib/i386-linux-gnu/libclang.so.1", ELF32); // wrong ELF class
    put(r, "/opt/llvm/lib/libclang.so", ELF64); // not a directory bindgen searches
    std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).expect("mkdir");
    symlink(
        "/nonexistent/libclang-14.so.1",
        r.join("usr/lib/x86_64-linux-gnu/libclang-14.so.1"),
    )
    .expect("dangling link");
    assert_eq!(find(r, None), None);
}

#[test]
fn debian_layouts_are_found() {
    for rel in [
        "/usr/lib/llvm-14/lib/libclang-14.so.1",
        "/usr/lib/x86_64-linux-gnu/libclang-14.so.14",
        "/usr/lib/llvm-16/lib/libclang.so",
        "/usr/local/lib/libclang.so.17",
    ] {
        let root = tempfile::tempdir().expect("tmp");
        put(
            root.path(),
            "/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14",
            ELF64,
        );
        put(root.path(), rel, ELF64);
        assert_eq!(find(root.path(), None).as_deref(), Some(rel), "{rel}");
    }
}

#[test]
fn a_symlink_to_a_real_library_counts() {
    let root = tempfile::tempdir().expect("tmp");
    let r = root.path();
    put(r, "/usr/lib/llvm-14/lib/libclang-14.so.1", ELF64);
    std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).expect("mkdir");
    symlink(
        r.join("usr/lib/llvm-14/lib/libclang-14.so.1"),
        r.join("usr/lib/x86_64-linux-gnu/libclang.so.1"),
    )
    .expect("link");
    assert!(find(r, None).is_some());
}

#[test]
fn libclang_path_is_the_only_place_searched_when_set() {
    let root = tempfile::tempdir().expect("tmp");
    let r = root.path();
    put(r, "/usr/lib/llvm-14/lib/libclang.so", ELF64);
    put(r, "/custom/libclang-cpp.so.14", ELF64);
    // bindgen would not look in /usr/lib here: neither may setup.sh.
    assert_eq!(find(r, Some("/custom")), None);
    put(r, "/custom/libclang.so.1", ELF64);
    assert_eq!(
        find(r, Some("/custom")).as_deref(),
        Some("/custom/libclang.so.1")
    );
    assert_eq!(
        find(r, Some("/custom/libclang.so.1")).as_deref(),
        Some("/custom/libclang.so.1")
    );
}
